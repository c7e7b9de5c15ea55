"""Per-endpoint and per-service request statistics, independent of Locust.

Locust groups its own statistics by request name only; the summary also needs them by the
service that answered (frontend, backend-1, backend-2, read from `X-Backend-Instance`). One small
accumulator serves both groupings, so the two tables agree and the logic is testable without
importing Locust (which monkey-patches the interpreter with gevent).
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field


def _bucket(ms: float) -> int:
    """Round a response time like Locust does: exact under 100 ms, 2-3 significant digits above."""
    if ms < 100:
        return round(ms)
    if ms < 1000:
        return int(round(ms, -1))
    if ms < 10000:
        return int(round(ms, -2))
    return int(round(ms, -3))


@dataclass(slots=True)
class Accumulator:
    """Counts, failures and a response-time histogram for one group of requests."""

    requests: int = 0
    failures: int = 0
    injected: int = 0  # failures marked X-Fault-Injected
    total_ms: float = 0.0
    times: Counter[int] = field(default_factory=Counter)
    ok_requests: int = 0
    ok_total_ms: float = 0.0
    ok_times: Counter[int] = field(default_factory=Counter)

    def add(self, ms: float, *, failed: bool, injected: bool) -> None:
        self.requests += 1
        self.total_ms += ms
        self.times[_bucket(ms)] += 1
        if failed:
            self.failures += 1
            self.injected += injected
        else:
            self.ok_requests += 1
            self.ok_total_ms += ms
            self.ok_times[_bucket(ms)] += 1

    @property
    def error_rate(self) -> float:
        return self.failures / self.requests if self.requests else 0.0

    @property
    def mean_ms(self) -> float:
        return self.total_ms / self.requests if self.requests else 0.0

    @property
    def ok_mean_ms(self) -> float:
        return self.ok_total_ms / self.ok_requests if self.ok_requests else 0.0

    def percentile(self, q: float, *, ok_only: bool = False) -> float:
        """The q-quantile (0..1) of the response times, nearest-rank on the rounded histogram."""
        times, count = (self.ok_times, self.ok_requests) if ok_only else (self.times, self.requests)
        if not count:
            return 0.0
        rank = max(1, math.ceil(q * count))
        seen = 0
        for value in sorted(times):
            seen += times[value]
            if seen >= rank:
                return float(value)
        return float(max(times))

    def merge(self, other: Accumulator) -> None:
        self.requests += other.requests
        self.failures += other.failures
        self.injected += other.injected
        self.total_ms += other.total_ms
        self.times.update(other.times)
        self.ok_requests += other.ok_requests
        self.ok_total_ms += other.ok_total_ms
        self.ok_times.update(other.ok_times)


@dataclass(slots=True)
class Recorder:
    """Every request of a run, grouped by endpoint (`METHOD name`) and by answering service."""

    endpoints: dict[str, Accumulator] = field(default_factory=dict)
    services: dict[str, Accumulator] = field(default_factory=dict)
    # per service, only the requests that count for the fidelity check (no /error/ routes)
    fidelity: dict[str, Accumulator] = field(default_factory=dict)

    def record(
        self,
        *,
        endpoint: str,
        service: str,
        ms: float,
        failed: bool,
        injected: bool,
        counts_for_fidelity: bool,
    ) -> None:
        for table, key in ((self.endpoints, endpoint), (self.services, service)):
            table.setdefault(key, Accumulator()).add(ms, failed=failed, injected=injected)
        if counts_for_fidelity:
            acc = self.fidelity.setdefault(service, Accumulator())
            acc.add(ms, failed=failed, injected=injected)

    def total(self) -> Accumulator:
        acc = Accumulator()
        for one in self.endpoints.values():
            acc.merge(one)
        return acc
