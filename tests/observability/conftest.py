"""Clients for the observability proof on the live stack: Prometheus, Alertmanager, the alert
receiver, fault control, supervisord, and light synthetic traffic through nginx.

Every wait polls an API with a deadline; every traffic burst is bounded in count and in time.
The machine has 2 cores shared with other test runs, so deadlines are generous.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Final, TypeVar

import httpx
import pytest

from mockinfra.chaos.control import RemoteFaultControl
from mockinfra.common import topology
from mockinfra.stack.state import State
from mockinfra.stack.supervisor import Supervisor

T = TypeVar("T")

POLL_SECONDS: Final = 2.0
REQUEST_TIMEOUT: Final = 10.0
# Paths an agent's users hit: the /api/backend/... gateway (both backends, database, cache,
# queues) and the pages that fan out to the backends.
TRAFFIC_PATHS: Final = (
    "/api/backend/data?limit=20",
    "/api/backend/data?limit=10&nocache=true",
    "/api/backend/status",
    "/api/backend/users?limit=10",
    "/api/backend/queue/stats",
    "/api/data",
    "/api/users",
    "/",
)


@dataclass
class Live:
    """The stack's observability APIs, as an agent would use them."""

    state: State
    http: httpx.AsyncClient
    faults: RemoteFaultControl
    supervisor: Supervisor
    traffic_sent: Counter[int] = field(default_factory=Counter)  # by status code

    @staticmethod
    async def until(probe: Callable[[], Awaitable[T | None]], *, within: float, what: str) -> T:
        """Poll `probe` until it returns something other than None; fail after `within` s."""
        deadline = time.monotonic() + within
        while True:
            result = await probe()
            if result is not None:
                return result
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {within:.0f} s waiting for {what}")
            await asyncio.sleep(POLL_SECONDS)

    @staticmethod
    def finite(result: list[dict[str, Any]]) -> bool:
        """An instant-vector result with at least one real number (NaN is 0/0: no data)."""
        return any(math.isfinite(float(series["value"][1])) for series in result)

    async def query(self, promql: str) -> list[dict[str, Any]]:
        resp = await self.http.get(
            f"{topology.url('prometheus')}/api/v1/query", params={"query": promql}
        )
        body = resp.json()
        assert resp.status_code == 200 and body["status"] == "success", (promql, body)
        result: list[dict[str, Any]] = body["data"]["result"]
        return result

    async def targets(self) -> list[dict[str, Any]]:
        resp = await self.http.get(
            f"{topology.url('prometheus')}/api/v1/targets", params={"state": "active"}
        )
        resp.raise_for_status()
        active: list[dict[str, Any]] = resp.json()["data"]["activeTargets"]
        return active

    async def alertmanager_alerts(self, alertname: str) -> list[dict[str, Any]]:
        resp = await self.http.get(
            f"{topology.url('alertmanager')}/api/v2/alerts",
            params={"active": "true", "filter": f'alertname="{alertname}"'},
        )
        resp.raise_for_status()
        alerts: list[dict[str, Any]] = resp.json()
        return alerts

    async def received(self, alertname: str, since: datetime) -> list[dict[str, Any]]:
        """Notifications the webhook receiver stored for `alertname` since `since`, oldest first."""
        resp = await self.http.get(
            f"{topology.url('alertsink')}/alerts",
            params={"alertname": alertname, "since": since.isoformat(), "limit": 1000},
        )
        resp.raise_for_status()
        alerts: list[dict[str, Any]] = resp.json()["alerts"]
        return alerts[::-1]

    @contextlib.asynccontextmanager
    async def traffic(
        self, *, rps: float = 5.0, max_requests: int = 1500, max_seconds: float = 300.0
    ) -> AsyncIterator[None]:
        """Light GET traffic through nginx while the block runs, bounded in count and time."""
        stop = asyncio.Event()

        async def run() -> None:
            base = topology.url("nginx")
            deadline = time.monotonic() + max_seconds
            for i in range(max_requests):
                if stop.is_set() or time.monotonic() > deadline:
                    return
                with contextlib.suppress(httpx.HTTPError):
                    resp = await self.http.get(base + TRAFFIC_PATHS[i % len(TRAFFIC_PATHS)])
                    self.traffic_sent[resp.status_code] += 1
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), 1.0 / rps)

        task = asyncio.create_task(run())
        try:
            yield
        finally:
            stop.set()
            await task


@pytest.fixture(scope="module")
async def live(stack: Any) -> AsyncIterator[Live]:
    state = State(Path(stack.state_dir))
    token = state.fault_token_file.read_text(encoding="utf-8").strip()
    async with httpx.AsyncClient(timeout=REQUEST_TIMEOUT) as http:
        faults = RemoteFaultControl(token)
        try:
            yield Live(state=state, http=http, faults=faults, supervisor=Supervisor(state))
        finally:
            await faults.aclose()
