"""The seed's performance baselines (DESIGN.md, "Seed baselines"), per service."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Final

from mockinfra.common import topology


@dataclass(frozen=True, slots=True)
class Baseline:
    """What the seed says a service looks like under load."""

    mean_ms: float
    p95_ms: float
    rps: float

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


# Latencies come from the ports table; throughputs are only documented in DESIGN.md.
BASELINES: Final = {
    "frontend": Baseline(*topology.FRONTEND_LATENCY_MS, rps=1000.0),
    "backend": Baseline(*topology.BACKEND_LATENCY_MS, rps=500.0),
}


def baseline_for(instance: str) -> Baseline | None:
    """The baseline of an instance (`backend-2` -> backend's), None for non-services."""
    comp = topology.BY_NAME.get(instance)
    return BASELINES.get(comp.service) if comp is not None else None
