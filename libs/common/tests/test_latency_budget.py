"""Injected latency is a budget for the whole call: the handler's own time is not added to it,
and it counts from the caller's latency anchor when one is sent."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

import grpc
import pytest

from mockinfra.common import faults as faults_module
from mockinfra.common.faults import (
    LATENCY_ANCHOR_METADATA,
    FaultInjector,
    add_downstream,
    advance_anchor,
    anchor_age,
    anchor_metadata,
    close_budget,
    open_budget,
    reset_anchor,
    set_anchor,
)
from mockinfra.common.grpc_client import ClientTelemetry
from mockinfra.common.grpc_server import start_server
from mockinfra.common.runtime import Runtime
from mockinfra.v1 import backend_pb2, backend_pb2_grpc

from .conftest import make_runtime

STATUS_SERVICE = backend_pb2.DESCRIPTOR.services_by_name["StatusService"].full_name


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


def test_anchor_age_accepts_only_a_recent_past() -> None:
    now = time.time()
    assert anchor_age(None) == 0.0 and anchor_age("") == 0.0 and anchor_age("soon") == 0.0
    assert 0.04 < anchor_age(f"{now - 0.05:.6f}") < 0.5
    assert 0.04 < anchor_age(f"{now - 0.05:.6f}".encode()) < 0.5
    assert anchor_age(f"{now - 10:.6f}") == 0.0  # a clock jump, not transport
    assert anchor_age(f"{now + 5:.6f}") == 0.0


async def test_an_injected_error_waits_only_what_is_left(rt: Runtime, sleeps: list[float]) -> None:
    rt.faults.set("latency", {"mean_ms": 200, "p95_ms": 200}, 60)
    rt.faults.set("error_rate", {"rate": 1}, 60)
    fault, _ = await rt.faults.admit(already=0.05)
    assert fault is not None
    assert len(sleeps) == 1 and 0.14 < sleeps[0] < 0.16


def test_outgoing_calls_carry_the_anchor_and_advance_it() -> None:
    assert all(key != LATENCY_ANCHOR_METADATA for key, _ in ClientTelemetry.outgoing())
    token = set_anchor(1000.0)
    try:
        assert (LATENCY_ANCHOR_METADATA, "1000.000000") in ClientTelemetry.outgoing()
        advance_anchor()  # a downstream call finished: the next one counts from now
        pair = anchor_metadata()
        assert pair is not None and float(pair[1]) > time.time() - 5
    finally:
        reset_anchor(token)
    assert anchor_metadata() is None


async def test_a_served_call_counts_its_delay_from_the_callers_anchor(
    sleeps: list[float],
) -> None:
    """Over a real grpc.aio server: with an anchor 80 ms old the server pads 80 ms less."""
    rt = make_runtime()
    rt.faults.set("latency", {"mean_ms": 200, "p95_ms": 200}, 60)

    async def get_status(request: Any, context: Any) -> backend_pb2.StatusResponse:
        return backend_pb2.StatusResponse(status="healthy")

    def register(srv: grpc.aio.Server) -> Iterable[str]:
        handler = grpc.unary_unary_rpc_method_handler(
            get_status,
            request_deserializer=backend_pb2.GetStatusRequest.FromString,
            response_serializer=backend_pb2.StatusResponse.SerializeToString,
        )
        srv.add_generic_rpc_handlers(
            (grpc.method_handlers_generic_handler(STATUS_SERVICE, {"GetStatus": handler}),)
        )
        return (STATUS_SERVICE,)

    running = await start_server(rt, register, port=0, metrics=False)
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{running.port}") as channel:
            status = backend_pb2_grpc.StatusServiceStub(channel)
            await status.GetStatus(backend_pb2.GetStatusRequest())
            anchored = ((LATENCY_ANCHOR_METADATA, f"{time.time() - 0.08:.6f}"),)
            await status.GetStatus(backend_pb2.GetStatusRequest(), metadata=anchored)
    finally:
        await running.stop(grace=0)
        rt.faults.close()
    # The delay is 190-210 ms. Without an anchor the pad is the delay less the handler's time;
    # with one at least 80 ms of it had passed before the call arrived (more if it was slow).
    plain, *anchored_pads = sleeps
    assert 0.14 < plain <= 0.21
    assert len(anchored_pads) <= 1 and all(pad <= 0.21 - 0.08 for pad in anchored_pads)
