"""What each service should show at nginx under a fault profile, composed end to end.

The rule (docs/fault-model.md, `mockinfra.frontend.faultpolicy`): the frontend's own faults
apply to the pages and views it owns, not to the `/api/backend/...` gateway, so a gateway answer
shows exactly the backend that produced it. The frontend's own routes call a backend too: `/`
asks for the backend status and renders a problem note when that fails (so only the frontend's
errors show), while `/api/data` and `/api/users` pass a backend error on. Latency adds up on
all three: the frontend's injected delay, then the backend's. nginx balances the backends
(`least_conn`), so a frontend call meets each backend about equally often.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from mockinfra.common import topology
from mockinfra.common.faults import LatencyProfile
from mockinfra.loadtest import routes
from mockinfra.loadtest.profile import ConfiguredProfile

# Frontend routes that call a backend, and whether a backend error reaches the caller.
PROPAGATES: Final = {routes.HOME: False, routes.FRONT_DATA: True, routes.FRONT_USERS: True}
SAMPLES: Final = 20_000
SEED: Final = 20_240_601  # fixed, so the expectation is the same on every run


@dataclass(frozen=True, slots=True)
class Expectation:
    error_rate: float
    mean_ms: float
    p95_ms: float


def _latency(profile: ConfiguredProfile, instance: str) -> LatencyProfile:
    prof = profile.instance(instance)
    return LatencyProfile.fit(prof.latency_mean_ms, prof.latency_p95_ms)


def _backend_rate(profile: ConfiguredProfile) -> float:
    rates = [profile.instance(b).error_rate for b in topology.BACKEND_INSTANCES]
    return sum(rates) / len(rates)


def _frontend_latency(profile: ConfiguredProfile) -> tuple[float, float]:
    """Mean and p95 (ms) of frontend delay plus one backend's delay, by simulation."""
    rng = random.Random(SEED)
    front = _latency(profile, routes.FRONTEND)
    backs = [_latency(profile, b) for b in topology.BACKEND_INSTANCES]
    draws = sorted(
        1000 * (front.sample(rng) + backs[i % len(backs)].sample(rng)) for i in range(SAMPLES)
    )
    return sum(draws) / SAMPLES, draws[int(0.95 * SAMPLES) - 1]


def expectation(
    profile: ConfiguredProfile, instance: str, route_counts: Mapping[str, int]
) -> Expectation:
    """What `instance` should show; for the frontend, weighted by how often each route ran."""
    prof = profile.instance(instance)
    if instance != routes.FRONTEND:
        return Expectation(prof.error_rate, prof.latency_mean_ms, prof.latency_p95_ms)
    both = 1 - (1 - prof.error_rate) * (1 - _backend_rate(profile))
    weighted = total = 0.0
    for route, propagates in PROPAGATES.items():
        n = route_counts.get(route, 0)
        weighted += n * (both if propagates else prof.error_rate)
        total += n
    rate = weighted / total if total else prof.error_rate
    if prof.latency_mean_ms == 0:
        return Expectation(rate, 0.0, 0.0)
    mean, p95 = _frontend_latency(profile)
    return Expectation(rate, mean, p95)
