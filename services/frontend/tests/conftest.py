"""A fake in-process backend (grpc.aio, the real stubs) and the frontend app wired to it.

The fake answers like the real backend (`x-instance` in the trailers; an injected fault commits
the call with initial metadata and adds the `x-fault-injected` trailer) with knobs the tests
drive by input: a `name` of "boom" is an injected INTERNAL error, "bad" an INVALID_ARGUMENT,
"taken" an ALREADY_EXISTS; item 777 answers after the deadline.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Final

import grpc
import httpx
import pytest
from google.protobuf import timestamp_pb2
from prometheus_client import CollectorRegistry

from mockinfra.common.grpc_server import INSTANCE_METADATA
from mockinfra.common.runtime import Runtime
from mockinfra.frontend.app import create_app
from mockinfra.frontend.config import Settings
from mockinfra.v1 import backend_pb2, backend_pb2_grpc, faults_pb2, faults_pb2_grpc

FAKE_INSTANCE = "fake-1"
SLOW_ID = 777
USERS = 45

Context = grpc.aio.ServicerContext[Any, Any]


def _now() -> timestamp_pb2.Timestamp:
    ts = timestamp_pb2.Timestamp()
    ts.GetCurrentTime()
    return ts


_WHO: Final = ((INSTANCE_METADATA, FAKE_INSTANCE),)


def _hello(context: Context) -> None:
    context.set_trailing_metadata(_WHO)


async def _inject(context: Context, kind: str, code: grpc.StatusCode, message: str) -> None:
    await context.send_initial_metadata(_WHO)
    context.set_trailing_metadata((*_WHO, ("x-fault-injected", kind)))
    await context.abort(code, message)


class FakeBackend(
    backend_pb2_grpc.DataServiceServicer,
    backend_pb2_grpc.UserServiceServicer,
    backend_pb2_grpc.QueueServiceServicer,
    backend_pb2_grpc.StatusServiceServicer,
    faults_pb2_grpc.FaultServiceServicer,
):
    def __init__(self) -> None:
        self.items: dict[int, backend_pb2.DataItem] = {}
        self.next_id = 1
        self.enqueued: list[backend_pb2.EnqueueRequest] = []
        self.triggered: list[int] = []

    async def _fail_for(self, name: str, context: Context) -> None:
        if name == "boom":
            await _inject(context, "error_rate", grpc.StatusCode.INTERNAL, "injected error (500)")
        if name == "bad":
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "name is not acceptable")
        if name == "taken":
            await context.abort(grpc.StatusCode.ALREADY_EXISTS, "name already exists")

    async def ListData(self, request: Any, context: Context) -> backend_pb2.ListDataResponse:
        _hello(context)
        limit = request.limit or 100
        items = list(self.items.values())[request.offset : request.offset + limit]
        return backend_pb2.ListDataResponse(
            items=items, total=len(self.items), limit=limit, offset=request.offset, source="cache"
        )

    async def GetData(self, request: Any, context: Context) -> backend_pb2.DataItem:
        _hello(context)
        if request.id == SLOW_ID:
            await asyncio.sleep(5)
        if request.id not in self.items:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"no item {request.id}")
        return self.items[request.id]

    async def CreateData(self, request: Any, context: Context) -> backend_pb2.DataItem:
        _hello(context)
        await self._fail_for(request.name, context)
        item = backend_pb2.DataItem(
            id=self.next_id,
            name=request.name,
            value=request.value,
            status="active",
            metadata=request.metadata,
            created_at=_now(),
            updated_at=_now(),
        )
        self.items[item.id] = item
        self.next_id += 1
        return item

    async def UpdateData(self, request: Any, context: Context) -> backend_pb2.DataItem:
        _hello(context)
        item = self.items.get(request.id)
        if item is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"no item {request.id}")
            raise AssertionError  # abort raises
        if request.HasField("name"):
            item.name = request.name
        if request.HasField("value"):
            item.value = request.value
        if request.HasField("status"):
            item.status = request.status
        if request.HasField("metadata"):
            item.metadata.CopyFrom(request.metadata)
        item.updated_at.CopyFrom(_now())
        return item

    async def DeleteData(self, request: Any, context: Context) -> backend_pb2.DeleteDataResponse:
        _hello(context)
        if self.items.pop(request.id, None) is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"no item {request.id}")
        return backend_pb2.DeleteDataResponse(id=request.id, deleted=True)

    async def ListUsers(self, request: Any, context: Context) -> backend_pb2.ListUsersResponse:
        _hello(context)
        page, limit = request.page or 1, request.limit or 20
        first = (page - 1) * limit + 1
        users = [
            backend_pb2.User(
                id=i, username=f"user{i}", email=f"user{i}@example.com", created_at=_now()
            )
            for i in range(first, min(first + limit, USERS + 1))
        ]
        return backend_pb2.ListUsersResponse(users=users, total=USERS, page=page, limit=limit)

    async def Enqueue(self, request: Any, context: Context) -> backend_pb2.EnqueueResponse:
        _hello(context)
        self.enqueued.append(request)
        queue = backend_pb2.Priority.Name(request.priority).removeprefix("PRIORITY_").lower()
        return backend_pb2.EnqueueResponse(
            id=f"msg-{len(self.enqueued)}", queue=f"{queue}-priority", queue_size=1
        )

    async def GetQueueStats(self, request: Any, context: Context) -> backend_pb2.QueueStats:
        _hello(context)
        return backend_pb2.QueueStats(sizes={"high-priority": 2, "dead-letter": 1}, processed=5)

    async def GetStatus(self, request: Any, context: Context) -> backend_pb2.StatusResponse:
        _hello(context)
        return backend_pb2.StatusResponse(
            status="healthy",
            instance=FAKE_INSTANCE,
            version="0.1.0",
            uptime_seconds=12.5,
            database=backend_pb2.DatabaseStatus(
                status="connected", latency_ms=1.5, pool_size=10, active_connections=2
            ),
            cache=backend_pb2.CacheStatus(status="connected", latency_ms=0.3, memory_usage=1024),
            metrics=backend_pb2.InstanceMetrics(
                requests_per_minute=60.0, error_rate=0.15, average_response_time_ms=100.0
            ),
        )

    async def SetFault(self, request: Any, context: Context) -> faults_pb2.Fault:
        await context.abort(grpc.StatusCode.UNIMPLEMENTED, "not in the fake")
        raise AssertionError  # abort raises

    async def ClearFaults(self, request: Any, context: Context) -> faults_pb2.ClearFaultsResponse:
        await context.abort(grpc.StatusCode.UNIMPLEMENTED, "not in the fake")
        raise AssertionError

    async def ListFaults(self, request: Any, context: Context) -> faults_pb2.ListFaultsResponse:
        await context.abort(grpc.StatusCode.UNIMPLEMENTED, "not in the fake")
        raise AssertionError

    async def TriggerFault(self, request: Any, context: Context) -> faults_pb2.TriggerFaultResponse:
        _hello(context)
        self.triggered.append(request.type)
        if request.type == faults_pb2.TRIGGER_TYPE_TIMEOUT:
            await _inject(context, "timeout", grpc.StatusCode.DEADLINE_EXCEEDED, "injected timeout")
        return faults_pb2.TriggerFaultResponse(message="triggered", instance=FAKE_INSTANCE)


@pytest.fixture
async def fake_backend() -> AsyncIterator[tuple[FakeBackend, str]]:
    """The fake served on a free loopback port: (servicer, target)."""
    fake = FakeBackend()
    server = grpc.aio.server()
    backend_pb2_grpc.add_DataServiceServicer_to_server(fake, server)
    backend_pb2_grpc.add_UserServiceServicer_to_server(fake, server)
    backend_pb2_grpc.add_QueueServiceServicer_to_server(fake, server)
    backend_pb2_grpc.add_StatusServiceServicer_to_server(fake, server)
    faults_pb2_grpc.add_FaultServiceServicer_to_server(fake, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    yield fake, f"127.0.0.1:{port}"
    await server.stop(None)


ClientFactory = Callable[..., Awaitable[httpx.AsyncClient]]


@pytest.fixture
async def frontend() -> AsyncIterator[ClientFactory]:
    """Factory: `await frontend(target, error_rate=...)` -> an httpx client on a started app."""
    stack: list[tuple[Any, httpx.AsyncClient]] = []

    async def factory(target: str, **overrides: Any) -> httpx.AsyncClient:
        settings = Settings(
            **{
                "profile": "off",
                "backend_target": target,
                "grpc_deadline_seconds": 1.0,
                "fault_seed": 3,
                "fault_token": "secret-token",
                **overrides,
            }
        )
        rt = Runtime.create(settings, configure_log=False, registry=CollectorRegistry())
        app = create_app(rt)
        lifespan = app.router.lifespan_context(app)
        await lifespan.__aenter__()
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, raise_app_exceptions=False),
            base_url="http://frontend.test",
        )
        stack.append((lifespan, client))
        return client

    yield factory
    for lifespan, client in reversed(stack):
        await client.aclose()
        await lifespan.__aexit__(None, None, None)


@pytest.fixture
async def client(
    fake_backend: tuple[FakeBackend, str], frontend: ClientFactory
) -> httpx.AsyncClient:
    """The frontend (no injected faults) over the fake backend."""
    return await frontend(fake_backend[1])
