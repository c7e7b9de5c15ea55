"""The stack's memory figure counts a page shared by several processes once (PSS, not RSS)."""

from __future__ import annotations

import subprocess
import sys
import time

import psutil
import pytest

from mockinfra.loadtest.bench import memory
from mockinfra.stack.report import memory_of

SHARED_MIB = 64
# A parent maps 64 MiB of shared anonymous memory, touches it, forks a child that touches it
# too: each process's RSS holds the whole 64 MiB, their PSS half of it each.
_SHARE = f"""
import mmap, os, sys, time
size = {SHARED_MIB} << 20
m = mmap.mmap(-1, size)  # MAP_SHARED: the child shares these pages after fork
m.write(b"x" * size)
if os.fork() == 0:
    sum(m[i] for i in range(0, size, 4096))
    print("ready", flush=True)
    time.sleep(30)
    os._exit(0)
time.sleep(30)
"""


def _sharing_pair() -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, "-c", _SHARE], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    return proc


def _kill(proc: subprocess.Popen[str]) -> None:
    for p in psutil.Process(proc.pid).children():
        p.kill()
    proc.kill()
    proc.wait()


def test_memory_of_counts_pages_shared_with_a_child_once() -> None:
    proc = _sharing_pair()
    try:
        tree = [psutil.Process(proc.pid), *psutil.Process(proc.pid).children()]
        assert len(tree) == 2
        rss_sum = sum(p.memory_info().rss for p in tree)
        used = memory_of(proc.pid)
        mib = 1 << 20
        assert rss_sum >= 2 * SHARED_MIB * mib  # RSS: the shared pages once per process
        assert SHARED_MIB * mib <= used <= rss_sum - (SHARED_MIB // 2) * mib
    finally:
        _kill(proc)


def test_bench_sampler_keeps_the_peak_of_the_process_trees(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The bench's sampler reads the trees once per TREE_REFRESH samples and PSS every
    sample; the child found in the first tree counts, shared pages once."""
    monkeypatch.setattr(memory, "INTERVAL", 0.05)
    monkeypatch.setattr(memory, "TREE_REFRESH", 3)
    proc = _sharing_pair()
    try:
        with memory.Sampler({"pair": proc.pid}) as sampler:
            deadline = time.monotonic() + 10
            while sampler.samples < 5 and time.monotonic() < deadline:
                time.sleep(0.05)
        mib = 1 << 20
        assert sampler.samples >= 5
        assert SHARED_MIB * mib <= sampler.peak_total == sampler.peak["pair"]
        assert sampler.peak_total <= memory_of(proc.pid) + 8 * mib
    finally:
        _kill(proc)


def test_memory_of_a_process_that_is_gone_is_zero() -> None:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    assert memory_of(proc.pid) == 0
