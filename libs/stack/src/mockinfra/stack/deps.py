"""Install the missing system binaries with apt, or say exactly how to.

Inside `nix develop` (IN_NIX_SHELL set) nothing is installed: the flake provides everything.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass

from mockinfra.stack import binaries


@dataclass(frozen=True, slots=True)
class Plan:
    packages: list[str]  # Debian packages to install
    command: list[str] | None  # the command to run, None when we cannot run it ourselves
    advice: str  # what to tell the user when we cannot


def plan() -> Plan:
    missing = binaries.missing()
    packages = sorted({b.debian for b in missing if b.debian is not None})
    install = ["apt-get", "install", "-y", "--no-install-recommends", *packages]
    shown = " ".join(["sudo", *install])
    if not packages:
        return Plan([], None, "")
    if os.environ.get("IN_NIX_SHELL"):
        names = ", ".join(sorted({b.nixpkgs for b in missing}))
        return Plan(packages, None, f"missing inside nix develop: {names}; update flake.nix")
    if shutil.which("apt-get") is None:
        names = ", ".join(b.key for b in missing)
        return Plan(packages, None, f"missing {names}; run inside `nix develop` to get them")
    if os.geteuid() == 0:
        return Plan(packages, install, shown)
    if shutil.which("sudo") and _sudo_works():
        return Plan(packages, ["sudo", "-n", *install], shown)
    return Plan(packages, None, f"run: {shown}")


def _sudo_works() -> bool:
    result = subprocess.run(["sudo", "-n", "true"], capture_output=True, check=False, timeout=10)
    return result.returncode == 0


def install() -> int:
    """Install what is missing; 0 when nothing is missing afterwards."""
    todo = plan()
    if not todo.packages:
        print("all system binaries are installed")
        return 0
    if todo.command is None:
        print(todo.advice)
        return 1
    print(f"installing: {' '.join(todo.packages)}")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    update = ["apt-get", "update", "-q"]
    if todo.command[0] == "sudo":
        update = ["sudo", "-n", *update]
    # apt itself is bounded only by the network; 15 minutes is far beyond a normal install.
    subprocess.run(update, check=True, env=env, timeout=900)
    subprocess.run(todo.command, check=True, env=env, timeout=900)
    still = binaries.missing()
    if still:
        print(f"still missing after install: {', '.join(b.key for b in still)}")
        return 1
    return 0
