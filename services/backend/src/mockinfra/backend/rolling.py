"""Requests per minute, error rate and mean latency over the last minute, cheaply.

Rather than touching every call, a background task snapshots the gRPC server counters the
interceptors already keep (every few seconds); the status answer is the difference between now
and the oldest snapshot within the minute. Injected errors count, as a client sees them.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass
from typing import Final

from mockinfra.common.metrics import Metrics

WINDOW_SECONDS: Final = 60.0
SERVICE_PREFIX: Final = "mockinfra.v1."  # health checks and reflection are not traffic


@dataclass(frozen=True, slots=True)
class Snapshot:
    at: float
    calls: float
    errors: float
    seconds: float


@dataclass(frozen=True, slots=True)
class Rates:
    requests_per_minute: float
    error_rate: float
    average_response_time_ms: float


class RollingRates:
    """Snapshots of the grpc_server_* totals of this process, a minute deep."""

    def __init__(self, metrics: Metrics, interval: float = 5.0) -> None:
        self.metrics = metrics
        self._snapshots: deque[Snapshot] = deque(maxlen=int(WINDOW_SECONDS / interval) + 2)

    def _totals(self) -> Snapshot:
        calls = errors = seconds = 0.0
        for family in self.metrics.grpc_server_handled_total.collect():
            for sample in family.samples:
                if not sample.name.endswith("_total"):
                    continue
                if not sample.labels.get("grpc_service", "").startswith(SERVICE_PREFIX):
                    continue
                calls += sample.value
                if sample.labels.get("grpc_code") != "OK":
                    errors += sample.value
        for family in self.metrics.grpc_server_handling_seconds.collect():
            for sample in family.samples:
                if sample.name.endswith("_sum") and sample.labels.get(
                    "grpc_service", ""
                ).startswith(SERVICE_PREFIX):
                    seconds += sample.value
        return Snapshot(time.monotonic(), calls, errors, seconds)

    def tick(self) -> None:
        """Take a snapshot (called periodically) and drop those older than the window."""
        now = self._totals()
        self._snapshots.append(now)
        while self._snapshots and now.at - self._snapshots[0].at > WINDOW_SECONDS:
            self._snapshots.popleft()

    def rates(self) -> Rates:
        now = self._totals()
        base = self._snapshots[0] if self._snapshots else Snapshot(now.at, 0.0, 0.0, 0.0)
        calls = now.calls - base.calls
        elapsed = max(now.at - base.at, 1.0)
        if calls <= 0:
            return Rates(0.0, 0.0, 0.0)
        return Rates(
            requests_per_minute=calls * 60.0 / min(elapsed, WINDOW_SECONDS),
            error_rate=(now.errors - base.errors) / calls,
            average_response_time_ms=(now.seconds - base.seconds) / calls * 1000.0,
        )
