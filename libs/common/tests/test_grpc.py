"""The gRPC server telemetry and fault service end to end, on a real grpc.aio server."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from mockinfra.common.grpc_client import insecure_channel
from mockinfra.common.grpc_server import RunningServer, start_server
from mockinfra.common.runtime import Runtime
from mockinfra.v1 import backend_pb2, backend_pb2_grpc, faults_pb2, faults_pb2_grpc

from .conftest import TOKEN, make_runtime

STATUS_SERVICE = backend_pb2.DESCRIPTOR.services_by_name["StatusService"].full_name
USER_SERVICE = backend_pb2.DESCRIPTOR.services_by_name["UserService"].full_name
AUTH = (("authorization", f"Bearer {TOKEN}"),)


class Status(backend_pb2_grpc.StatusServiceServicer):
    async def GetStatus(self, request: Any, context: Any) -> backend_pb2.StatusResponse:
        return backend_pb2.StatusResponse(status="healthy", instance="orders-1")


class Users(backend_pb2_grpc.UserServiceServicer):
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    async def ListUsers(self, request: Any, context: Any) -> backend_pb2.ListUsersResponse:
        if request.page == 99:
            raise RuntimeError("a bug")
        self.rt.faults.check_dependency("database")
        return backend_pb2.ListUsersResponse(total=0, page=request.page)


@pytest.fixture
async def server() -> AsyncIterator[tuple[Runtime, RunningServer]]:
    rt = make_runtime()

    def register(srv: grpc.aio.Server) -> Iterable[str]:
        backend_pb2_grpc.add_StatusServiceServicer_to_server(Status(), srv)
        backend_pb2_grpc.add_UserServiceServicer_to_server(Users(rt), srv)
        return (STATUS_SERVICE, USER_SERVICE)

    running = await start_server(rt, register, port=0, metrics=False)
    yield rt, running
    await running.stop(grace=0)
    rt.faults.close()


def _trailer(error: grpc.aio.AioRpcError) -> str:
    metadata: Any = error.trailing_metadata() or ()
    return {str(k): str(v) for k, v in metadata}["x-fault-injected"]


def _who(metadata: Any) -> str | None:
    return {str(k): str(v) for k, v in metadata or ()}.get("x-instance")


def _sample(rt: Runtime, line_start: str) -> float:
    for line in rt.metrics.expose()[0].decode().splitlines():
        if line.startswith(line_start):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


async def test_calls_metrics_trace_and_faults(
    server: tuple[Runtime, RunningServer], spans: InMemorySpanExporter
) -> None:
    rt, running = server
    async with insecure_channel(rt, f"127.0.0.1:{running.port}") as channel:
        status = backend_pb2_grpc.StatusServiceStub(channel)
        call = status.GetStatus(backend_pb2.GetStatusRequest(), metadata=(("x-request-id", "r-1"),))
        reply = await call
        assert reply.status == "healthy"
        trailing = dict(await call.trailing_metadata())
        assert trailing["x-instance"] == "orders-1" and trailing["x-request-id"] == "r-1"
        assert not await call.initial_metadata()  # nothing sent ahead of the reply

        labels = 'grpc_method="GetStatus",grpc_service="mockinfra.v1.StatusService"'
        assert _sample(rt, f"grpc_server_started_total{{{labels}") == 1
        assert _sample(rt, f'grpc_server_handled_total{{grpc_code="OK",{labels}') == 1
        assert _sample(rt, f'grpc_client_handled_total{{grpc_code="OK",{labels}') == 1
        server_span = next(s for s in spans.get_finished_spans() if s.kind.name == "SERVER")
        client_span = next(s for s in spans.get_finished_spans() if s.kind.name == "CLIENT")
        assert server_span.context.trace_id == client_span.context.trace_id
        assert server_span.parent is not None
        assert server_span.parent.span_id == client_span.context.span_id

        # An injected error aborts with its code and the trailing marker.
        faults = faults_pb2_grpc.FaultServiceStub(channel)
        fault = faults_pb2.Fault(kind="error_rate", params={"rate": "1"}, ttl_seconds=60)
        await faults.SetFault(faults_pb2.SetFaultRequest(fault=fault), metadata=AUTH)
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await status.GetStatus(backend_pb2.GetStatusRequest())
        assert info.value.code() in (grpc.StatusCode.INTERNAL, grpc.StatusCode.UNAVAILABLE)
        assert _trailer(info.value) == "error_rate"
        # Committed (initial metadata sent before the abort) and named in both.
        assert _who(info.value.initial_metadata()) == "orders-1"
        assert _who(info.value.trailing_metadata()) == "orders-1"
        code = info.value.code().name
        assert _sample(rt, f'grpc_server_handled_total{{grpc_code="{code}",{labels}') == 1
        assert _sample(rt, 'faults_injected_total{fault="error_rate"') == 1
        listed = await faults.ListFaults(faults_pb2.ListFaultsRequest(), metadata=AUTH)
        assert [f.kind for f in listed.faults] == ["error_rate"] and listed.instance == "orders-1"
        cleared = await faults.ClearFaults(faults_pb2.ClearFaultsRequest(), metadata=AUTH)
        assert cleared.cleared == 1

        # A dependency fault raised by the handler becomes UNAVAILABLE, marked.
        users = backend_pb2_grpc.UserServiceStub(channel)
        rt.faults.set("db_failure", {}, 60)
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await users.ListUsers(backend_pb2.ListUsersRequest(page=1))
        assert info.value.code() is grpc.StatusCode.UNAVAILABLE
        assert _trailer(info.value) == "db_failure"
        assert _who(info.value.initial_metadata()) == "orders-1"
        rt.faults.clear()

        # An unexpected exception is counted as UNKNOWN; the answer still names the instance.
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await users.ListUsers(backend_pb2.ListUsersRequest(page=99))
        assert info.value.code() is grpc.StatusCode.UNKNOWN
        assert _who(info.value.trailing_metadata()) == "orders-1"
        assert (
            _sample(rt, 'grpc_server_handled_total{grpc_code="UNKNOWN",grpc_method="ListUsers"')
            == 1
        )

        health = health_pb2_grpc.HealthStub(channel)
        for name in ("", STATUS_SERVICE):
            check = await health.Check(health_pb2.HealthCheckRequest(service=name))
            assert check.status == health_pb2.HealthCheckResponse.SERVING
        assert _sample(rt, 'grpc_server_started_total{grpc_method="Check"') == 0


async def test_a_retrying_client_sees_every_injected_error(
    server: tuple[Runtime, RunningServer],
) -> None:
    """The injected fault commits the call before failing, so a channel whose retry policy
    covers UNAVAILABLE does not retry an injected UNAVAILABLE away: one server call per call."""
    rt, running = server
    rt.faults.set("error_rate", {"rate": "1"}, 60)
    codes = []
    async with insecure_channel(rt, f"127.0.0.1:{running.port}", retries=True) as channel:
        status = backend_pb2_grpc.StatusServiceStub(channel)
        for _ in range(20):
            with pytest.raises(grpc.aio.AioRpcError) as info:
                await status.GetStatus(backend_pb2.GetStatusRequest())
            codes.append(info.value.code())
    assert grpc.StatusCode.UNAVAILABLE in codes  # the 502 and 503 draws
    labels = 'grpc_method="GetStatus",grpc_service="mockinfra.v1.StatusService"'
    assert _sample(rt, f"grpc_server_started_total{{{labels}") == 20


async def test_a_generic_handler_gets_the_same_telemetry() -> None:
    """A service registered by hand (a generic handler only, no registered methods) is wrapped
    like a generated one, once per method."""
    rt = make_runtime()

    async def get_status(request: Any, context: Any) -> backend_pb2.StatusResponse:
        return backend_pb2.StatusResponse(status="healthy", instance="orders-1")

    handler = grpc.unary_unary_rpc_method_handler(
        get_status,
        request_deserializer=backend_pb2.GetStatusRequest.FromString,
        response_serializer=backend_pb2.StatusResponse.SerializeToString,
    )

    def register(srv: grpc.aio.Server) -> Iterable[str]:
        generic = grpc.method_handlers_generic_handler(STATUS_SERVICE, {"GetStatus": handler})
        srv.add_generic_rpc_handlers((generic,))
        return (STATUS_SERVICE,)

    running = await start_server(rt, register, port=0, metrics=False)
    try:
        async with insecure_channel(rt, f"127.0.0.1:{running.port}") as channel:
            status = backend_pb2_grpc.StatusServiceStub(channel)
            for i in range(3):
                call = status.GetStatus(
                    backend_pb2.GetStatusRequest(), metadata=(("x-request-id", f"g-{i}"),)
                )
                assert (await call).status == "healthy"
                trailing = dict(await call.trailing_metadata())
                assert trailing["x-instance"] == "orders-1"
                assert trailing["x-request-id"] == f"g-{i}"
        labels = 'grpc_method="GetStatus",grpc_service="mockinfra.v1.StatusService"'
        assert _sample(rt, f'grpc_server_handled_total{{grpc_code="OK",{labels}') == 3
    finally:
        await running.stop(grace=0)
        rt.faults.close()


@pytest.mark.parametrize(
    "metadata", [(), (("authorization", "Bearer wrong"),), (("authorization", TOKEN),)]
)
async def test_fault_service_rejects_missing_or_wrong_token(
    server: tuple[Runtime, RunningServer], metadata: tuple[tuple[str, str], ...]
) -> None:
    rt, running = server
    async with insecure_channel(rt, f"127.0.0.1:{running.port}") as channel:
        faults = faults_pb2_grpc.FaultServiceStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await faults.ListFaults(faults_pb2.ListFaultsRequest(), metadata=metadata)
        assert info.value.code() is grpc.StatusCode.UNAUTHENTICATED
        fault = faults_pb2.Fault(kind="error_rate", params={"rate": "1"}, ttl_seconds=60)
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await faults.SetFault(faults_pb2.SetFaultRequest(fault=fault), metadata=metadata)
        assert info.value.code() is grpc.StatusCode.UNAUTHENTICATED
    assert rt.faults.active() == []


async def test_fault_service_validation_and_triggers(
    server: tuple[Runtime, RunningServer],
) -> None:
    rt, running = server
    async with insecure_channel(rt, f"127.0.0.1:{running.port}") as channel:
        faults = faults_pb2_grpc.FaultServiceStub(channel)
        for fault in (
            faults_pb2.Fault(kind="bogus", ttl_seconds=60),
            faults_pb2.Fault(kind="error_rate", params={"rate": "7"}, ttl_seconds=60),
            faults_pb2.Fault(kind="hang", ttl_seconds=0),
        ):
            with pytest.raises(grpc.aio.AioRpcError) as info:
                await faults.SetFault(faults_pb2.SetFaultRequest(fault=fault), metadata=AUTH)
            assert info.value.code() is grpc.StatusCode.INVALID_ARGUMENT
        reply = await faults.TriggerFault(
            faults_pb2.TriggerFaultRequest(type=faults_pb2.TRIGGER_TYPE_DATABASE)
        )
        assert reply.instance == "orders-1"
        assert [f.kind for f in rt.faults.active()] == ["db_failure"]
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await faults.TriggerFault(faults_pb2.TriggerFaultRequest())
        assert info.value.code() is grpc.StatusCode.INVALID_ARGUMENT
