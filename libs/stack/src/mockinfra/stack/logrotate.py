"""Rotates the logs nginx writes itself while the stack runs, and has nginx reopen them.

supervisord rotates what it writes (every program's stdout), and each Python service rotates its
own file (`MOCKINFRA_LOG_FILE`). nginx writes its access and error logs itself, about 0.8 KB per
gateway request: this rotates them once they reach the size limit, then asks nginx to reopen
them (`SIGUSR1` to its master), so a long load test does not fill the disk.

- Locally: `python -m mockinfra.stack.logrotate`, a supervisord event listener
  (`[eventlistener:logrotate]`, every minute on `TICK_60`; supervisord knows nginx's pid). It
  talks supervisord's listener protocol on stdin/stdout, so it reports on stderr.
- Under compose: `python -m mockinfra.stack.logrotate --every 60 --logs /var/log/mockinfra`, a
  service sharing nginx's process namespace (`pid: service:nginx`), where nginx's master is
  found by name; or `--nginx-pid-file` where nginx's pid file can be read.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import os
import signal
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Final

import psutil
from supervisor import childutils

from mockinfra.common.logging import LOG_MAX_BYTES
from mockinfra.stack.layout import COMPOSE_LOGS
from mockinfra.stack.state import State, rotate_large, self_written_logs

NAME: Final = "logrotate"
EVENTS: Final = "TICK_60"
NGINX: Final = "nginx"


def rotate_once(state: State, nginx_pid: Callable[[], int]) -> list[Path]:
    """Rotate nginx's logs that reached the size limit; signal nginx to reopen them."""
    return _reopen_after(state.rotate_large_logs(), nginx_pid)


def _reopen_after(rotated: list[Path], nginx_pid: Callable[[], int]) -> list[Path]:
    if rotated:
        pid = nginx_pid()
        if pid > 0:
            # Gone meanwhile: it opens fresh files when it starts again.
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGUSR1)
    return rotated


def _supervised_pid(name: str) -> int:
    """The pid supervisord reports for program `name` (0 when it is not running)."""
    rpc = childutils.getRPCInterface(os.environ)
    return int(rpc.supervisor.getProcessInfo(name)["pid"])


def nginx_master_pid() -> int:
    """The pid of the one nginx master this process can see (0 when none or several): in a
    container sharing nginx's process namespace there is exactly one."""
    masters = [
        p.pid
        for p in psutil.process_iter(["cmdline"])
        if (p.info["cmdline"] or [""])[0].startswith("nginx: master")
    ]
    return masters[0] if len(masters) == 1 else 0


def pid_from_file(path: Path) -> int:
    """The pid an nginx pid file holds (0 when it is missing or unreadable)."""
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 0


def watch(
    logs: Path,
    every: float,
    nginx_pid: Callable[[], int],
    *,
    max_bytes: int = LOG_MAX_BYTES,
    rounds: int | None = None,
) -> None:
    """Every `every` seconds rotate nginx's logs in `logs` that reached `max_bytes` and have
    nginx reopen them; forever, or `rounds` times."""
    paths = self_written_logs(logs)

    def rotate() -> list[Path]:
        return _reopen_after(rotate_large(paths, max_bytes), nginx_pid)

    for done in itertools.count(1):
        _report(rotate)
        if rounds is not None and done >= rounds:
            return
        time.sleep(every)


def _report(rotate: Callable[[], list[Path]]) -> None:
    try:
        for path in rotate():
            print(f"rotated {path}", file=sys.stderr, flush=True)
    except Exception as exc:  # a failed rotation must not stop the next ones
        print(f"rotation failed: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m mockinfra.stack.logrotate", description=__doc__
    )
    parser.add_argument("--every", type=float, help="run on its own every N seconds (compose)")
    parser.add_argument("--logs", type=Path, default=COMPOSE_LOGS, help=f"default: {COMPOSE_LOGS}")
    parser.add_argument("--nginx-pid-file", type=Path, help="default: find nginx's master")
    args = parser.parse_args(argv)
    if args.every is not None:
        pid_file: Path | None = args.nginx_pid_file
        find = (lambda: pid_from_file(pid_file)) if pid_file else nginx_master_pid
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        watch(args.logs, args.every, find)
        return
    state = State.from_env()
    while True:
        childutils.listener.wait(sys.stdin, sys.stdout)
        _report(lambda: rotate_once(state, lambda: _supervised_pid(NGINX)))
        childutils.listener.ok(sys.stdout)


if __name__ == "__main__":
    main()
