"""Generate the Python gRPC stubs for proto/mockinfra/v1 into libs/api/src/mockinfra/v1.

Run with `nox -s build`. Generates into a temporary folder with the pinned grpcio-tools of the
running interpreter, then swaps the result in, so a failed run never leaves a half-written package.
`--check` regenerates into a temporary folder and exits non-zero when the committed stubs differ.
"""

from __future__ import annotations

import argparse
import filecmp
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import grpc_tools

ROOT = Path(__file__).resolve().parent.parent
PROTO_ROOT = ROOT / "proto"
PACKAGE_DIR = Path("mockinfra") / "v1"
TARGET = ROOT / "libs" / "api" / "src" / PACKAGE_DIR
INIT = '"""Generated from proto/mockinfra/v1 by scripts/gen_protos.py; do not edit."""\n'


def generate(out: Path) -> Path:
    """Run protoc into `out`; return the generated package folder."""
    protos = sorted(
        str(p.relative_to(PROTO_ROOT)) for p in (PROTO_ROOT / PACKAGE_DIR).glob("*.proto")
    )
    well_known = Path(grpc_tools.__file__).parent / "_proto"
    # mypy-protobuf's plugins sit beside the interpreter, which need not be on PATH.
    bindir = Path(sys.executable).parent
    subprocess.run(
        [
            sys.executable,
            "-m",
            "grpc_tools.protoc",
            f"-I{PROTO_ROOT}",
            f"-I{well_known}",
            f"--plugin=protoc-gen-mypy={bindir / 'protoc-gen-mypy'}",
            f"--plugin=protoc-gen-mypy_grpc={bindir / 'protoc-gen-mypy_grpc'}",
            f"--python_out={out}",
            f"--grpc_python_out={out}",
            f"--mypy_out={out}",
            f"--mypy_grpc_out={out}",
            *protos,
        ],
        check=True,
        cwd=PROTO_ROOT,
    )
    package = out / PACKAGE_DIR
    # protoc writes `from mockinfra.v1 import x_pb2`, which already is a package import
    # because the proto path mirrors the Python package; only the package marker is missing.
    (package / "__init__.py").write_text(INIT)
    (package / "py.typed").write_text("")
    return package


def differs(a: Path, b: Path) -> list[str]:
    cmp = filecmp.dircmp(a, b)
    return sorted(cmp.left_only + cmp.right_only + cmp.diff_files)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if committed stubs are stale")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        package = generate(Path(tmp))
        if args.check:
            stale = differs(package, TARGET) if TARGET.exists() else ["(missing)"]
            if stale:
                print(f"stale generated stubs in {TARGET}: {stale}; run `nox -s build`")
                return 1
            print("generated stubs are up to date")
            return 0
        if TARGET.exists():
            shutil.rmtree(TARGET)
        shutil.copytree(package, TARGET)
    print(f"generated {TARGET.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
