"""Resident memory of the running stack while the bench loads it, sampled in a thread.

Per component it reuses the stack runner's `memory_of` (the PSS of a process and its children:
nginx workers, PostgreSQL backends; PSS rather than RSS so that shared pages count once in the
total); the components are the programs supervisord runs for this state folder.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field
from typing import Any, Final

import psutil

from mockinfra.stack.report import memory_of, process_tree, pss_of
from mockinfra.stack.state import State
from mockinfra.stack.supervisor import Supervisor

MIB: Final = 1024 * 1024
# The sampler shares the 2 cores with the stack it measures, and only the stack's rounds are
# sampled: a sample costs about 13 ms of CPU (the kernel reading 25 processes' page tables for
# PSS), and finding each program's children by walking /proc twice that, so the trees are
# re-read only every TREE_REFRESH samples. At 0.5 s with fresh trees it was 7.5% of a core.
INTERVAL: Final = 1.0
TREE_REFRESH: Final = 10


def stack_pids(state: State | None = None) -> dict[str, int]:
    """Component name -> pid of every running program of the stack (empty when it is down)."""
    sup = Supervisor(state or State.from_env())
    if sup.pid() is None:
        return {}

    async def infos() -> dict[str, int]:
        return {name: i.pid for name, i in (await sup.processes()).items() if i.pid > 0}

    return asyncio.run(infos())


def snapshot(pids: dict[str, int]) -> dict[str, int]:
    return {name: memory_of(pid) for name, pid in pids.items()}


@dataclass
class Sampler:
    """Samples the total every INTERVAL seconds until stopped; keeps the peak sample."""

    pids: dict[str, int]
    peak_total: int = 0
    peak: dict[str, int] = field(default_factory=dict)
    samples: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def _run(self) -> None:
        trees: dict[str, list[psutil.Process]] = {}
        while not self._stop.wait(INTERVAL):
            if self.samples % TREE_REFRESH == 0:  # nginx or PostgreSQL may have forked
                trees = {name: process_tree(pid) for name, pid in self.pids.items()}
            snap = {name: pss_of(procs) for name, procs in trees.items()}
            self.samples += 1
            if (total := sum(snap.values())) > self.peak_total:
                self.peak_total, self.peak = total, snap

    def __enter__(self) -> Sampler:
        self._thread = threading.Thread(target=self._run, name="memory-sampler", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def as_dict(self) -> dict[str, Any]:
        return {
            "measure": "pss",
            "peak_total_mib": round(self.peak_total / MIB, 1),
            "peak_by_component_mib": {k: round(v / MIB, 1) for k, v in sorted(self.peak.items())},
            "samples": self.samples,
        }
