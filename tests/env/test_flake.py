"""flake.nix and flake.lock: the Nix way of getting the stack's binaries.

No Nix store or network here, so the checks are what can be decided offline: flake.nix parses,
the devShell's package list (nix/packages.json, resolved by nix/packages.nix) covers every
nixpkgs attribute the stack runner needs, and flake.lock pins exactly the verified nodes.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from mockinfra.stack import binaries

ROOT = Path(__file__).resolve().parents[2]
VERIFIED_LOCK = ROOT.parent / "shared" / "nix" / "nixpkgs-lock.json"
NIX_INSTANTIATE = shutil.which("nix-instantiate")
needs_nix = pytest.mark.skipif(
    NIX_INSTANTIATE is None,
    reason="nix-instantiate not on PATH (Debian: apt-get install nix-bin; .ci/run installs it)",
)


def _spec() -> dict[str, Any]:
    spec: dict[str, Any] = json.loads((ROOT / "nix" / "packages.json").read_text())
    return spec


def _nix(*args: str) -> str:
    assert NIX_INSTANTIATE is not None
    done = subprocess.run(
        [NIX_INSTANTIATE, *args], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def _stub_pkgs(attrs: list[str]) -> str:
    """A Nix attribute set with one (empty) attribute set per attribute path given."""
    tree: dict[str, Any] = {}
    for attr in attrs:
        node = tree
        for part in attr.split("."):
            node = node.setdefault(part, {})

    def render(node: dict[str, Any]) -> str:
        return "{ " + "".join(f'"{k}" = {render(v)}; ' for k, v in sorted(node.items())) + "}"

    return render(tree)


def _shell_names(available: list[str]) -> list[str]:
    """The devShell's attribute paths when nixpkgs has exactly `available`."""
    expr = f"(import ./nix/packages.nix {{ pkgs = {_stub_pkgs(available)}; }}).names"
    names: list[str] = json.loads(_nix("--eval", "--strict", "--json", "--expr", expr))
    return names


def _every_attr(spec: dict[str, Any]) -> list[str]:
    return [*spec["required"], *(a for group in spec["first_available"] for a in group)]


@needs_nix
@pytest.mark.parametrize("path", ["flake.nix", "nix/packages.nix"])
def test_nix_files_parse(path: str) -> None:
    _nix("--parse", path)


def test_flake_takes_its_packages_from_the_one_list() -> None:
    flake = (ROOT / "flake.nix").read_text()
    assert "import ./nix/packages.nix" in flake
    assert "devPackages.packages" in flake
    assert 'nixpkgs.url = "github:NixOS/nixpkgs/nixos-25.05"' in flake
    assert "formatter = pkgs.nixfmt-rfc-style" in flake
    assert "UV_PYTHON_DOWNLOADS=never" in flake


def test_stack_binaries_are_in_the_package_list() -> None:
    spec = _spec()
    listed = set(_every_attr(spec))
    needed = {b.nixpkgs for b in binaries.BINARIES}
    assert needed - listed == set(), "add these nixpkgs attributes to nix/packages.json"
    # nox must be the Python tool, not nixpkgs' unrelated top-level `nox`.
    assert "python3Packages.nox" in spec["required"]
    assert "nox" not in listed


@needs_nix
def test_devshell_provides_every_stack_binary() -> None:
    """Evaluated against a nixpkgs that has every listed attribute: nothing is dropped."""
    spec = _spec()
    names = _shell_names(_every_attr(spec))
    missing = {b.nixpkgs for b in binaries.BINARIES} - set(names)
    assert missing == set()
    assert len(names) == len(set(names))


@needs_nix
def test_devshell_falls_back_when_an_attribute_is_gone() -> None:
    """Promtail was dropped upstream; a nixpkgs without it gets the next shipper, not an error."""
    spec = _spec()
    without = [a for a in _every_attr(spec) if a not in {"promtail", "jaeger"}]
    names = _shell_names(without)
    assert "promtail" not in names and "grafana-alloy" in names
    assert "jaeger" not in names and "tempo" in names
    assert set(spec["required"]) <= set(names)


def test_flake_lock_pins_every_input() -> None:
    """Structure Nix needs: version 7, root's inputs are flake.nix's, every node locked by hash."""
    lock = json.loads((ROOT / "flake.lock").read_text())
    assert lock["version"] == 7
    assert lock["root"] == "root"
    nodes = lock["nodes"]
    assert set(nodes) == {"root", "nixpkgs", "flake-utils", "systems"}
    assert nodes["root"] == {"inputs": {"nixpkgs": "nixpkgs", "flake-utils": "flake-utils"}}
    assert nodes["flake-utils"]["inputs"] == {"systems": "systems"}
    for name in ("nixpkgs", "flake-utils", "systems"):
        locked = nodes[name]["locked"]
        assert locked["type"] == "github"
        assert len(locked["rev"]) == 40
        assert locked["narHash"].startswith("sha256-")
    assert nodes["nixpkgs"]["original"]["ref"] == "nixos-25.05"


def test_flake_lock_is_the_verified_nodes() -> None:
    if not VERIFIED_LOCK.is_file():
        pytest.skip(f"{VERIFIED_LOCK} (the verified lock nodes) is not beside this checkout")
    nodes = json.loads((ROOT / "flake.lock").read_text())["nodes"]
    verified = json.loads(VERIFIED_LOCK.read_text())
    for name in ("nixpkgs", "flake-utils", "systems"):
        expected = {k: v for k, v in verified[name].items() if not k.startswith("_")}
        assert nodes[name] == expected, name
