"""Load shapes as plain functions of time: how many users, spawned how fast, until when.

Kept free of Locust so they can be tested directly; `runner` adapts them to `LoadTestShape`.
Every shape returns None once its duration is over, which is what ends a run by itself.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum


class ShapeName(StrEnum):
    RAMP = "ramp"
    SUSTAINED = "sustained"
    SPIKE = "spike"


Tick = tuple[int, float]


@dataclass(frozen=True, slots=True)
class Shape:
    """A named shape for `users` users at `spawn_rate` users/s, lasting `duration` seconds."""

    name: ShapeName
    users: int
    spawn_rate: float
    duration: float

    def tick(self, t: float) -> Tick | None:
        """(users, spawn rate) at `t` seconds into the run, or None when the run is over."""
        if t >= self.duration:
            return None
        if self.name is ShapeName.SUSTAINED:
            return self.users, self.spawn_rate
        if self.name is ShapeName.RAMP:
            # Climb in steps over the first 80% of the run, then hold the peak.
            climb = 0.8 * self.duration
            return max(1, math.ceil(self.users * min(1.0, (t + 1) / climb))), self.spawn_rate
        # SPIKE: a fifth of the users, all of them for the middle fifth, then back down.
        base = max(1, self.users // 5)
        if 0.4 * self.duration <= t < 0.6 * self.duration:
            return self.users, max(self.spawn_rate, float(self.users))
        return base, max(self.spawn_rate, float(self.users))
