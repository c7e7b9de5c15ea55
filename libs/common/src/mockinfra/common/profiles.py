"""Named fault profiles: the error rates and latency each application instance starts with.

`seed` is the seed's configuration (frontend 10%, backend-1 15%, backend-2 20%, seed latency
baselines); it exceeds the seed's own 10% error-rate alert, so it alerts all the time. `quiet`
keeps the seed's latency but error rates well under the alert threshold, the baseline chaos runs
start from. `off` injects nothing (benchmarks, functional tests).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from mockinfra.common import topology


class ProfileName(StrEnum):
    SEED = "seed"
    QUIET = "quiet"
    OFF = "off"


@dataclass(frozen=True, slots=True)
class InstanceProfile:
    """What one application instance injects on its own when no run-time fault is set."""

    error_rate: float
    latency_mean_ms: float
    latency_p95_ms: float


QUIET_ERROR_RATE: Final = 0.01


def profile_for(name: ProfileName | str, instance: str) -> InstanceProfile:
    """The profile of one instance (a topology component name) under a named profile."""
    name = ProfileName(name)
    comp = topology.component(instance)
    if name is ProfileName.OFF or comp.role is not topology.Role.APP or comp.error_rate == 0:
        return InstanceProfile(0.0, 0.0, 0.0)
    mean, p95 = (
        topology.BACKEND_LATENCY_MS if comp.service == "backend" else topology.FRONTEND_LATENCY_MS
    )
    rate = comp.error_rate if name is ProfileName.SEED else QUIET_ERROR_RATE
    return InstanceProfile(rate, mean, p95)
