"""A supervisord event listener that rotates the logs nginx writes itself while the stack runs.

supervisord rotates what it writes (every program's stdout). nginx writes its access and error
logs itself, about 0.8 KB per gateway request: `up` rotates them, and this listener does the
same every minute (`TICK_60`), then asks nginx to reopen them (`SIGUSR1` to its master, whose
pid supervisord knows), so a long load test does not fill the disk.

`python -m mockinfra.stack.logrotate`, started by supervisord (`[eventlistener:logrotate]`);
it talks supervisord's listener protocol on stdin/stdout, so it reports on stderr.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Final

from supervisor import childutils

from mockinfra.stack.state import State

NAME: Final = "logrotate"
EVENTS: Final = "TICK_60"
NGINX: Final = "nginx"


def rotate_once(state: State, nginx_pid: Callable[[], int]) -> list[Path]:
    """Rotate nginx's logs that reached the size limit; signal nginx to reopen them."""
    rotated = state.rotate_large_logs()
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


def main() -> None:
    state = State.from_env()
    while True:
        childutils.listener.wait(sys.stdin, sys.stdout)
        try:
            for path in rotate_once(state, lambda: _supervised_pid(NGINX)):
                print(f"rotated {path}", file=sys.stderr, flush=True)
        except Exception as exc:  # a failed rotation must not stop the next ones
            print(f"rotation failed: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
        childutils.listener.ok(sys.stdout)


if __name__ == "__main__":
    main()
