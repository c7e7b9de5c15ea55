"""CPU time per request of each program while the bench loads it.

Requests per second depend on how much of the machine the programs get, which on a shared or
virtual machine moves from minute to minute; the CPU each program spends per request does not,
so it says where the time goes and whether a change made a program cheaper. User + system time
of a process and its children (nginx workers), read with psutil before and after each
measurement and summed over the rounds.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import psutil

from mockinfra.stack.report import process_tree


def cpu_seconds(pid: int) -> float:
    """User + system seconds of `pid` and its descendants; 0 when it is gone.

    Live descendants are read one by one; those that exited and were reaped (a postgres
    backend at disconnect, an nginx worker after a reload) count through their parent's
    `children_user`/`children_system`, so a measurement does not lose them.
    """
    total = 0.0
    for p in process_tree(pid):
        with contextlib.suppress(psutil.Error):
            times = p.cpu_times()
            total += times.user + times.system + times.children_user + times.children_system
    return total


def _busy_seconds() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine, all CPUs."""
    t = psutil.cpu_times()
    idle = t.idle + getattr(t, "iowait", 0.0)
    total = sum(t)
    return total - idle, total


@dataclass
class CpuMeter:
    """Accumulates each program's CPU seconds over the measurements run inside `measure()`."""

    pids: Mapping[str, int]
    seconds: dict[str, float] = field(default_factory=dict)
    busy: float = 0.0
    total: float = 0.0

    @contextlib.contextmanager
    def measure(self) -> Iterator[None]:
        before = {name: cpu_seconds(pid) for name, pid in self.pids.items()}
        busy0, total0 = _busy_seconds()
        yield
        busy1, total1 = _busy_seconds()
        for name, pid in self.pids.items():
            spent = max(0.0, cpu_seconds(pid) - before[name])
            self.seconds[name] = self.seconds.get(name, 0.0) + spent
        self.busy += busy1 - busy0
        self.total += total1 - total0

    def as_dict(self, requests: int) -> dict[str, Any]:
        """Milliseconds of CPU per request by program, their sum, and how busy the machine was."""
        per_request = {
            name: round(secs * 1000.0 / requests, 3) if requests else 0.0
            for name, secs in sorted(self.seconds.items(), key=lambda kv: -kv[1])
        }
        return {
            "per_request_ms": per_request,
            "total_per_request_ms": round(sum(per_request.values()), 3),
            "machine_busy_pct": round(100.0 * self.busy / self.total, 1) if self.total else 0.0,
        }
