"""Helpers for the backend's tests (the real-server fixtures live in the top-level conftest)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

Until = Callable[..., Awaitable[None]]
POLL_SECONDS = 0.05


async def _until(predicate: Callable[[], Awaitable[bool]], *, within: float = 20.0) -> None:
    """Poll a server's observable state until `predicate` holds: bounded in time and count."""
    async with asyncio.timeout(within):
        for _ in range(int(within / POLL_SECONDS) + 1):
            if await predicate():
                return
            await asyncio.sleep(POLL_SECONDS)
    raise TimeoutError(f"condition not met within {within} s")


@pytest.fixture
def until() -> Until:
    """`await until(async_predicate, within=20)`: wait for a state change of a real server."""
    return _until
