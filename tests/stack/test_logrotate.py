"""The log-rotation listener: rotates what nginx writes itself and has nginx reopen it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from mockinfra.common import topology
from mockinfra.common.logging import LOG_MAX_BYTES
from mockinfra.stack import binaries, logrotate, servers
from mockinfra.stack.state import State

# Stands in for nginx's master: records each SIGUSR1 (reopen the logs) in a file.
_FAKE_NGINX = """
import signal, sys, time
from pathlib import Path
marks = Path(sys.argv[1])
signal.signal(signal.SIGUSR1, lambda *_: marks.write_text(marks.read_text() + "reopen\\n"))
marks.write_text("")
print("ready", flush=True)
time.sleep(60)
"""


@pytest.fixture
def state(tmp_path: Path) -> State:
    st = State(tmp_path / "state")
    st.ensure()
    return st


@pytest.fixture
def fake_nginx(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], Path]]:
    marks = tmp_path / "signals"
    proc = subprocess.Popen(
        [sys.executable, "-c", _FAKE_NGINX, str(marks)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        yield proc, marks
    finally:
        proc.kill()
        proc.wait()


def _reopens(marks: Path, expected: int) -> int:
    deadline = time.monotonic() + 5
    while marks.read_text().count("reopen") < expected and time.monotonic() < deadline:
        time.sleep(0.05)
    return marks.read_text().count("reopen")


def test_a_full_log_is_rotated_and_nginx_told_to_reopen(
    state: State, fake_nginx: tuple[subprocess.Popen[str], Path]
) -> None:
    proc, marks = fake_nginx
    access = state.log_file("nginx")
    access.write_bytes(b"x" * LOG_MAX_BYTES)
    assert logrotate.rotate_once(state, lambda: proc.pid) == [access]
    assert access.with_name("nginx.log.1").stat().st_size == LOG_MAX_BYTES
    assert _reopens(marks, 1) == 1


def test_small_logs_are_left_alone_and_nginx_undisturbed(
    state: State, fake_nginx: tuple[subprocess.Popen[str], Path]
) -> None:
    proc, marks = fake_nginx
    state.log_file("nginx").write_text("a line\n")
    asked: list[int] = []

    def nginx_pid() -> int:
        asked.append(proc.pid)
        return proc.pid

    assert logrotate.rotate_once(state, nginx_pid) == []
    assert asked == [] and _reopens(marks, 0) == 0
    assert state.log_file("nginx").read_text() == "a line\n"


def _event(serial: int) -> str:
    payload = f"when:{int(time.time())}"
    header = (
        f"ver:3.0 server:supervisor serial:{serial} pool:{logrotate.NAME} poolserial:{serial} "
        f"eventname:{logrotate.EVENTS} len:{len(payload)}\n"
    )
    return header + payload


def test_the_listener_speaks_supervisords_protocol_and_survives_a_failure(state: State) -> None:
    """Run as supervisord runs it: READY, an event, RESULT OK, READY again. The second tick
    finds a full log but no supervisord to ask for nginx's pid: the log is rotated, the failed
    reopen reported on stderr, and the listener keeps answering."""
    env = {**os.environ, "MOCKINFRA_STATE_DIR": str(state.root)}
    env.pop("SUPERVISOR_SERVER_URL", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "mockinfra.stack.logrotate"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env=env, text=True,
    )  # fmt: skip
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    try:
        assert proc.stdout.readline() == "READY\n"
        proc.stdin.write(_event(1))
        proc.stdin.flush()
        assert proc.stdout.readline() == "RESULT 2\n" and proc.stdout.read(2) == "OK"
        assert proc.stdout.readline() == "READY\n"
        state.log_file("nginx").write_bytes(b"x" * LOG_MAX_BYTES)
        proc.stdin.write(_event(2))
        proc.stdin.flush()
        assert proc.stdout.readline() == "RESULT 2\n" and proc.stdout.read(2) == "OK"
        assert proc.stdout.readline() == "READY\n"
        assert state.log_file("nginx").with_name("nginx.log.1").exists()
        assert proc.poll() is None
    finally:
        proc.kill()
        proc.wait()
    errors = proc.stderr.read()
    assert "rotation failed" in errors and "SUPERVISOR_SERVER_URL" in errors


def test_the_stack_config_runs_the_listener_on_every_minute(state: State) -> None:
    from mockinfra.stack.programs import Options, programs
    from mockinfra.stack.render import render_supervisord

    text = render_supervisord(state, programs(state, Options())[0])
    section = text[text.index(f"[eventlistener:{logrotate.NAME}]") :]
    assert "events=TICK_60\n" in section
    assert "-m mockinfra.stack.logrotate" in section
    assert f"stderr_logfile={state.log_file(logrotate.NAME)}" in section
    assert f'MOCKINFRA_STATE_DIR="{state.root}"' in section


_NGINX_CONF = """
daemon off;
{user}
pid {root}/nginx.pid;
error_log {root}/logs/nginx-error.log notice;
events {{ worker_connections 64; }}
http {{
    access_log {root}/logs/nginx.log;
    client_body_temp_path {root}/tmp; proxy_temp_path {root}/tmp; fastcgi_temp_path {root}/tmp;
    uwsgi_temp_path {root}/tmp; scgi_temp_path {root}/tmp;
    server {{ listen {host}:{port}; location / {{ return 200 "ok"; }} }}
}}
"""


def _get(url: str, n: int) -> None:
    with httpx.Client(timeout=5) as client:
        for _ in range(n):
            assert client.get(url).status_code == 200


def _lines(path: Path, expected: int) -> int:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if path.exists() and len(path.read_text().splitlines()) >= expected:
            break
        time.sleep(0.05)
    return len(path.read_text().splitlines()) if path.exists() else 0


@pytest.mark.integration
def test_watch_mode_rotates_a_real_nginx_log_and_nginx_opens_a_fresh_one(tmp_path: Path) -> None:
    """The compose mode (`--every`), against a real nginx: a full access log is rotated, nginx
    is told to reopen it (found through its pid file here) and its next lines go to a new file;
    a log below the size is left alone."""
    nginx = binaries.BY_KEY["nginx"].require()
    for folder in ("logs", "tmp"):
        (tmp_path / folder).mkdir()
    port = servers.free_port()
    conf = tmp_path / "nginx.conf"
    # As root nginx's workers would become `nobody`, who cannot enter pytest's 0700 folders.
    user = "user root;" if os.geteuid() == 0 else ""
    conf.write_text(_NGINX_CONF.format(user=user, root=tmp_path, host=topology.HOST, port=port))
    proc = subprocess.Popen(
        [nginx, "-c", str(conf), "-p", str(tmp_path), "-e", str(tmp_path / "logs/nginx-error.log")]
    )
    try:
        servers.wait_for_port(topology.HOST, port, timeout=10)
        url = f"http://{topology.HOST}:{port}/"
        access = tmp_path / "logs" / "nginx.log"
        _get(url, 20)
        assert _lines(access, 20) == 20

        def nginx_pid() -> int:
            return logrotate.pid_from_file(tmp_path / "nginx.pid")

        logrotate.watch(tmp_path / "logs", 0.05, nginx_pid, max_bytes=1 << 20, rounds=2)
        assert not access.with_name("nginx.log.1").exists()  # 20 lines are below 1 MiB

        logrotate.watch(tmp_path / "logs", 0.05, nginx_pid, max_bytes=100, rounds=1)
        assert len(access.with_name("nginx.log.1").read_text().splitlines()) == 20
        _get(url, 5)
        assert _lines(access, 5) == 5  # reopened: the new lines are in a new file
        assert len(access.with_name("nginx.log.1").read_text().splitlines()) == 20
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_pid_file_that_is_missing_or_garbled_is_no_pid(tmp_path: Path) -> None:
    assert logrotate.pid_from_file(tmp_path / "absent.pid") == 0
    (tmp_path / "bad.pid").write_text("not a pid\n")
    assert logrotate.pid_from_file(tmp_path / "bad.pid") == 0
    (tmp_path / "good.pid").write_text("4242\n")
    assert logrotate.pid_from_file(tmp_path / "good.pid") == 4242


class _Proc:
    def __init__(self, pid: int, cmdline: list[str]) -> None:
        self.pid, self.info = pid, {"cmdline": cmdline}


@pytest.mark.parametrize(
    ("cmdlines", "expected"),
    [
        ([["nginx: master process nginx -c /config/nginx.conf"], ["nginx: worker process"]], 1),
        ([["nginx: worker process"], ["python", "-m", "mockinfra.stack.logrotate"]], 0),
        ([["nginx: master process a"], ["nginx: master process b"]], 0),  # which one? neither
        ([[], ["nginx: master process"]], 2),  # a process whose cmdline cannot be read
    ],
)
def test_nginx_master_is_found_only_when_it_is_the_only_one(
    monkeypatch: pytest.MonkeyPatch, cmdlines: list[list[str]], expected: int
) -> None:
    procs = [_Proc(pid, cmdline) for pid, cmdline in enumerate(cmdlines, start=1)]
    monkeypatch.setattr(psutil, "process_iter", lambda attrs: iter(procs))
    assert logrotate.nginx_master_pid() == expected
