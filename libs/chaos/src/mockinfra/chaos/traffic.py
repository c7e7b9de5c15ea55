"""Light background traffic during a run: the rate and ratio alerts need requests to judge.

A few requests per second straight to the frontend (nginx's rate limit is not what a scenario
tests), over a small fixed set of cached reads so the baseline's cache hit rate stays high.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from typing import Final

import httpx

from mockinfra.common import topology

PATHS: Final = (
    "/api/backend/data?limit=20",
    "/api/backend/data?limit=20",
    "/api/backend/data?limit=10&nocache=true",
    "/api/backend/status",
    "/api/backend/users?limit=10",
    "/api/data",
    "/api/users",
)
REQUEST_TIMEOUT: Final = 15.0
MAX_IN_FLIGHT: Final = 32  # a hung backend must not pile up unbounded requests


async def generate(rps: float, stop: asyncio.Event, *, seed: int | None = None) -> int:
    """Send about `rps` requests per second until `stop` is set; returns how many were sent."""
    if rps <= 0:
        return 0
    rng = random.Random(seed)
    base = topology.url("frontend")
    slots = asyncio.Semaphore(MAX_IN_FLIGHT)
    sent = 0
    tasks: set[asyncio.Task[None]] = set()

    async def one(client: httpx.AsyncClient, path: str) -> None:
        try:
            with contextlib.suppress(httpx.HTTPError):
                await client.get(base + path)
        finally:
            slots.release()

    async with httpx.AsyncClient(timeout=REQUEST_TIMEOUT) as client:
        interval = 1.0 / rps
        next_at = time.monotonic()
        while not stop.is_set():
            if slots.locked():
                await asyncio.sleep(interval)
            else:
                await slots.acquire()
                task = asyncio.create_task(one(client, rng.choice(PATHS)))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
                sent += 1
            next_at += interval
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), max(0.0, next_at - time.monotonic()))
        for task in list(tasks):
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return sent
