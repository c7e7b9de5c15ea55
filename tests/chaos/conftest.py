"""In-memory stand-ins for the fault control, supervisor and Alertmanager (unit tests)."""

from __future__ import annotations

import builtins
import signal
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

import pytest

from mockinfra.chaos.alerts import Alert
from mockinfra.chaos.control import ActiveFault, FaultControlError


@dataclass
class FakeControl:
    faults: dict[str, dict[str, ActiveFault]] = field(default_factory=dict)
    fail_on: builtins.set[str] = field(default_factory=builtins.set)  # instances whose `set` raises

    async def set(
        self, instance: str, kind: str, params: Mapping[str, str], ttl_seconds: float
    ) -> ActiveFault:
        if instance in self.fail_on:
            raise FaultControlError(f"{instance}: unreachable")
        fault = ActiveFault(instance, kind, dict(params), ttl_seconds)
        self.faults.setdefault(instance, {})[kind] = fault
        return fault

    async def clear(self, instance: str, kind: str | None = None) -> int:
        mine = self.faults.get(instance, {})
        kinds = [kind] if kind else list(mine)
        return sum(mine.pop(k, None) is not None for k in kinds)

    async def list(self, instance: str) -> list[ActiveFault]:
        return list(self.faults.get(instance, {}).values())

    async def aclose(self) -> None:
        return None

    def active(self, kind: str) -> builtins.set[str]:
        return {i for i, f in self.faults.items() if kind in f}


@dataclass
class FakeComponents:
    states: dict[str, str] = field(default_factory=dict)

    async def state(self, name: str) -> str:
        return self.states.get(name, "RUNNING")

    async def pid(self, name: str) -> int:
        return 0

    async def stop(self, name: str) -> None:
        self.states[name] = "STOPPED"

    async def start(self, name: str) -> None:
        self.states[name] = "RUNNING"

    async def signal(self, name: str, sig: signal.Signals) -> int:
        return 0

    async def ensure_running(self, name: str, within: float = 60.0) -> None:
        self.states[name] = "RUNNING"

    async def names(self) -> list[str]:
        return list(self.states)


@dataclass
class FakeAlerts:
    """Fires `name` for instance backend-2 while the control holds an error_rate > 0.5 there."""

    control: FakeControl
    name: str = "BackendHighErrorRate"
    started: float = field(default_factory=time.time)

    async def firing(self) -> list[Alert]:
        fault = self.control.faults.get("backend-2", {}).get("error_rate")
        if fault is None or float(fault.params["rate"]) <= 0.5:
            return []
        labels = {"alertname": self.name, "instance": "backend-2", "service": "backend"}
        return [Alert(self.name, labels, "fp-1", datetime.now().astimezone())]


async def healthy() -> list[str]:
    return []


@pytest.fixture
def fake_control() -> FakeControl:
    return FakeControl()


@pytest.fixture
def fake_components() -> FakeComponents:
    return FakeComponents()


@pytest.fixture
def fake_alerts(fake_control: FakeControl) -> FakeAlerts:
    return FakeAlerts(fake_control)
