"""The stack's memory figure counts a page shared by several processes once (PSS, not RSS)."""

from __future__ import annotations

import subprocess
import sys

import psutil

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


def test_memory_of_counts_pages_shared_with_a_child_once() -> None:
    proc = subprocess.Popen([sys.executable, "-c", _SHARE], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        tree = [psutil.Process(proc.pid), *psutil.Process(proc.pid).children()]
        assert len(tree) == 2
        rss_sum = sum(p.memory_info().rss for p in tree)
        used = memory_of(proc.pid)
        mib = 1 << 20
        assert rss_sum >= 2 * SHARED_MIB * mib  # RSS: the shared pages once per process
        assert SHARED_MIB * mib <= used <= rss_sum - (SHARED_MIB // 2) * mib
    finally:
        for p in psutil.Process(proc.pid).children():
            p.kill()
        proc.kill()
        proc.wait()


def test_memory_of_a_process_that_is_gone_is_zero() -> None:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    assert memory_of(proc.pid) == 0
