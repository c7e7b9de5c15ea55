"""`deps` installs only what is missing, and only where it may; elsewhere it says what to run."""

from __future__ import annotations

import pytest

from mockinfra.stack import binaries, deps


@pytest.fixture
def missing_nginx(monkeypatch: pytest.MonkeyPatch) -> None:
    nginx = binaries.BY_KEY["nginx"]
    monkeypatch.setattr(binaries, "missing", lambda: [nginx])


def test_nothing_missing_installs_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(binaries, "missing", lambda: [])
    assert deps.plan().packages == []


def test_inside_nix_develop_nothing_is_installed(
    missing_nginx: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IN_NIX_SHELL", "impure")
    plan = deps.plan()
    assert plan.packages == ["nginx"] and plan.command is None
    assert "flake.nix" in plan.advice
    assert deps.install() == 1


def test_root_installs_the_debian_packages(
    missing_nginx: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("IN_NIX_SHELL", raising=False)
    monkeypatch.setattr("shutil.which", lambda name: f"/usr/bin/{name}")
    monkeypatch.setattr("os.geteuid", lambda: 0)
    plan = deps.plan()
    assert plan.command == ["apt-get", "install", "-y", "--no-install-recommends", "nginx"]


def test_without_root_or_sudo_the_exact_command_is_printed(
    missing_nginx: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("IN_NIX_SHELL", raising=False)
    monkeypatch.setattr("shutil.which", lambda name: None if name == "sudo" else name)
    monkeypatch.setattr("os.geteuid", lambda: 1000)
    plan = deps.plan()
    assert plan.command is None
    assert plan.advice == "run: sudo apt-get install -y --no-install-recommends nginx"
