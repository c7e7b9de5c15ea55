"""Latency fit, error decisions, TTL expiry, dependency faults."""

from __future__ import annotations

import asyncio
import random

import grpc
import pytest

from mockinfra.common.faults import DependencyFault, FaultKind, LatencyProfile
from mockinfra.common.runtime import Runtime

from .conftest import make_runtime


@pytest.mark.parametrize(("mean_ms", "p95_ms"), [(50.0, 200.0), (100.0, 500.0), (10.0, 12.0)])
def test_latency_fit_matches_mean_and_p95(mean_ms: float, p95_ms: float) -> None:
    profile = LatencyProfile.fit(mean_ms, p95_ms)
    rng = random.Random(1)
    samples = sorted(profile.sample(rng) * 1000.0 for _ in range(200_000))
    mean = sum(samples) / len(samples)
    p95 = samples[int(0.95 * len(samples))]
    assert mean == pytest.approx(mean_ms, rel=0.03)
    assert p95 == pytest.approx(p95_ms, rel=0.03)


def test_latency_fit_edges() -> None:
    assert not LatencyProfile.fit(0, 0).enabled
    assert LatencyProfile.fit(0, 0).sample(random.Random(1)) == 0.0
    near_constant = LatencyProfile.fit(100, 100)
    assert near_constant.shape >= 1000
    beyond = LatencyProfile.fit(100, 5000)  # beyond any gamma: the most skewed one
    assert beyond.shape == pytest.approx(0.1)
    with pytest.raises(ValueError):
        LatencyProfile.fit(-1, 10)


async def _decisions(rt: Runtime, n: int) -> list[int]:
    out = []
    for _ in range(n):
        fault = await rt.faults.before_call()
        out.append(0 if fault is None else fault.http_status)
    return out


async def test_error_rate_reproducible_and_near_rate() -> None:
    a = make_runtime(error_rate=0.15, fault_seed=123)
    b = make_runtime(error_rate=0.15, fault_seed=123)
    first, second = await _decisions(a, 4000), await _decisions(b, 4000)
    assert first == second
    errors = [s for s in first if s]
    assert 0.13 <= len(errors) / len(first) <= 0.17
    assert set(errors) == {500, 502, 503}
    text = a.metrics.expose()[0].decode()
    series = 'faults_injected_total{fault="error_rate",instance="orders-1",service="orders"}'
    assert f"{series} {len(errors)}.0" in text
    c = make_runtime(error_rate=0.15, fault_seed=124)
    assert await _decisions(c, 4000) != first


async def test_runtime_fault_overrides_and_expires(rt: Runtime) -> None:
    assert await rt.faults.before_call() is None  # base rate 0
    fault = rt.faults.set("error_rate", {"rate": 1}, ttl_seconds=0.3)
    assert fault.params == {"rate": "1"}
    injected = await rt.faults.before_call()
    assert injected is not None and injected.kind is FaultKind.ERROR_RATE
    assert injected.grpc_code in (grpc.StatusCode.INTERNAL, grpc.StatusCode.UNAVAILABLE)
    assert 'fault_active{fault="error_rate",instance="orders-1",service="orders"} 1.0' in (
        rt.metrics.expose()[0].decode()
    )
    await asyncio.sleep(0.4)  # past the TTL: wall-clock expiry is the behaviour under test
    assert rt.faults.active() == []
    assert await rt.faults.before_call() is None
    assert 'fault_active{fault="error_rate",instance="orders-1",service="orders"} 0.0' in (
        rt.metrics.expose()[0].decode()
    )


async def test_timeout_fault(rt: Runtime) -> None:
    rt.faults.set(FaultKind.TIMEOUT, {"seconds": 0.01}, ttl_seconds=60)
    injected = await rt.faults.before_call()
    assert injected is not None
    assert (injected.http_status, injected.grpc_code) == (504, grpc.StatusCode.DEADLINE_EXCEEDED)
    assert rt.faults.clear() == 1


def test_dependency_faults_and_validation(rt: Runtime) -> None:
    rt.faults.check_dependency("database")
    rt.faults.set("db_failure", {}, 30)
    with pytest.raises(DependencyFault) as info:
        rt.faults.check_dependency("database")
    assert info.value.dependency == "database"
    rt.faults.check_dependency("cache")
    assert rt.faults.clear("db_failure") == 1
    rt.faults.check_dependency("database")
    cases: list[tuple[str, dict[str, object], float]] = [
        ("nope", {}, 10),
        ("error_rate", {}, 10),
        ("error_rate", {"rate": 2}, 10),
        ("error_rate", {"rate": "x"}, 10),
        ("latency", {"mean_ms": 10, "bogus": 1}, 10),
        ("hang", {}, 0),
        ("hang", {}, -1),
    ]
    for kind, params, ttl in cases:
        with pytest.raises(ValueError):
            rt.faults.set(kind, params, ttl)


async def test_latency_fault_delays(rt: Runtime) -> None:
    rt.faults.set("latency", {"mean_ms": 5, "p95_ms": 20}, 60)
    assert rt.faults.latency.mean_ms == 5
    assert await rt.faults.before_call() is None
    text = rt.metrics.expose()[0].decode()
    assert 'faults_injected_total{fault="latency",instance="orders-1",service="orders"} 1.0' in text


async def test_memory_spike_is_released(rt: Runtime) -> None:
    rt.faults.trigger("memory_spike", {"mb": 8, "seconds": 0.1})
    with pytest.raises(ValueError):
        rt.faults.trigger("error_rate")
