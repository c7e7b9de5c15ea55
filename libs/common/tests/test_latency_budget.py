"""Injected latency is a budget for the whole call: the handler's own time is not added to it."""

from __future__ import annotations

import time

import pytest

from mockinfra.common import faults as faults_module
from mockinfra.common.faults import FaultInjector, add_downstream, close_budget, open_budget
from mockinfra.common.runtime import Runtime


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Requested sleeps, recorded instead of slept (no timing in tests)."""
    requested: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        requested.append(seconds)

    monkeypatch.setattr(f"{faults_module.__name__}.asyncio.sleep", fake_sleep)
    return requested


async def test_admit_returns_the_delay_and_pad_sleeps_the_remainder(
    rt: Runtime, sleeps: list[float]
) -> None:
    rt.faults.set("latency", {"mean_ms": 200, "p95_ms": 200}, 60)  # nearly constant 200 ms
    fault, delay = await rt.faults.admit()
    assert fault is None and 0.19 < delay < 0.21
    assert sleeps == []  # nothing slept before the handler
    await FaultInjector.pad(time.perf_counter(), delay)  # a handler that took no time
    assert len(sleeps) == 1 and delay - 0.05 < sleeps[0] <= delay
    await FaultInjector.pad(time.perf_counter() - 0.05, delay)  # a handler that took 50 ms
    assert sleeps[1] <= delay - 0.05
    await FaultInjector.pad(time.perf_counter() - 0.3, delay)  # slower than the budget
    assert len(sleeps) == 2


async def test_before_call_still_sleeps_the_whole_delay(rt: Runtime, sleeps: list[float]) -> None:
    rt.faults.set("latency", {"mean_ms": 200, "p95_ms": 200}, 60)
    assert await rt.faults.before_call() is None
    assert len(sleeps) == 1 and 0.19 < sleeps[0] < 0.21


async def test_downstream_time_is_not_part_of_the_budget(sleeps: list[float]) -> None:
    token = open_budget()
    try:
        add_downstream(0.1)  # a backend call made by the handler took 100 ms
        await FaultInjector.pad(time.perf_counter() - 0.12, 0.2)
    finally:
        close_budget(token)
    assert len(sleeps) == 1 and 0.1 < sleeps[0] <= 0.18  # 200 ms minus 20 ms of own work
    add_downstream(5.0)  # outside a budget: ignored
    await FaultInjector.pad(time.perf_counter(), 0.2)
    assert sleeps[1] > 0.15


async def test_an_injected_error_waits_its_delay_first(rt: Runtime, sleeps: list[float]) -> None:
    rt.faults.set("latency", {"mean_ms": 200, "p95_ms": 200}, 60)
    rt.faults.set("error_rate", {"rate": 1}, 60)
    fault, delay = await rt.faults.admit()
    assert fault is not None and delay == 0.0
    assert len(sleeps) == 1 and 0.19 < sleeps[0] < 0.21
