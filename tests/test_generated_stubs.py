"""The committed gRPC stubs are exactly what `nox -s build` generates from proto/."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_committed_stubs_match_the_protos() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gen_protos.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_stubs_import_as_package_imports() -> None:
    from mockinfra.v1 import backend_pb2, backend_pb2_grpc, faults_pb2_grpc

    assert backend_pb2_grpc.DataServiceStub is not None
    assert faults_pb2_grpc.FaultServiceStub is not None
    assert backend_pb2.DESCRIPTOR.package == "mockinfra.v1"
