"""The live stack, shared by every test that needs it (marker `stack`).

Bringing the whole stack up costs tens of seconds, so one session-scoped stack serves the stack,
observability, load-test and chaos tests. It runs in a temporary state folder with the `quiet`
fault profile (nothing alerts by itself) and the `fast` rules profile (alerts within a minute).
Tests that take it down (to check `down` or a port conflict) bring it back with `stack.up()`.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from mockinfra.common import topology
from mockinfra.stack import binaries

UP_ARGS = ("--profile", "quiet", "--rules", "fast")


SystemBinary = Callable[[str], str]  # key -> path (the `system_binary` fixture)


@pytest.fixture(scope="session")
def system_binary() -> SystemBinary:
    """`system_binary(key)`: the path of a program from `mockinfra.stack.binaries`.

    A program Debian packages is a dependency (`nox -s deps`, `.ci/run`): missing, the test
    fails. Only one Debian 12 lacks (Loki, Promtail, Grafana) makes it skip.
    """

    def find(key: str) -> str:
        binary = binaries.BY_KEY[key]
        try:
            return binary.require()
        except FileNotFoundError as exc:
            if binary.debian is None:
                pytest.skip(str(exc))
            pytest.fail(str(exc))

    return find


def _port_taken(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex((topology.HOST, port)) == 0


@dataclass
class LiveStack:
    """Drives `python -m mockinfra.stack` against one state folder."""

    state_dir: Path
    env: dict[str, str] = field(default_factory=dict)

    def run(
        self, *args: str, check: bool = True, timeout: float = 240
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [sys.executable, "-m", "mockinfra.stack", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"mockinfra.stack {' '.join(args)} exited {result.returncode}\n"
                f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
            )
        return result

    def up(self, *extra: str) -> subprocess.CompletedProcess[str]:
        return self.run("up", *UP_ARGS, *extra)

    def down(self) -> subprocess.CompletedProcess[str]:
        return self.run("down")


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveStack]:
    """The whole local stack, up for the session, down (every port free) at the end."""
    taken = [
        f"{c.name}:{port}"
        for c in topology.COMPONENTS
        for port in c.ports.values()
        if _port_taken(port)
    ]
    if taken:
        pytest.fail(f"cannot start the live stack, ports already in use: {', '.join(taken)}")
    # Not pytest's tmp folder: pytest keeps /tmp/pytest-of-<user> at 0700 (and prunes it from
    # parallel sessions), but PostgreSQL runs as `postgres` and must reach its data folder.
    state_dir = Path(tempfile.mkdtemp(prefix="mockinfra-stack-"))
    state_dir.chmod(0o755)
    env = {**os.environ, "MOCKINFRA_STATE_DIR": str(state_dir)}
    live = LiveStack(state_dir=state_dir, env=env)
    live.up()
    try:
        yield live
    finally:
        live.down()
        shutil.rmtree(state_dir, ignore_errors=True)
