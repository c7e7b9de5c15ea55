"""Health follows the dependencies: NOT_SERVING while Valkey or PostgreSQL is down, back after."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from mockinfra.stack.servers import PostgresServer, ValkeyServer
from mockinfra.v1 import backend_pb2, backend_pb2_grpc

pytestmark = pytest.mark.integration

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


async def _wait_health(channel: grpc.aio.Channel, want: int) -> None:
    """Poll the health service until it reports `want` (bounded in time and count)."""
    stub = health_pb2_grpc.HealthStub(channel)
    request = health_pb2.HealthCheckRequest(service="")
    for _ in range(200):
        if (await stub.Check(request, timeout=5)).status == want:
            return
        await asyncio.sleep(0.1)
    raise TimeoutError(
        f"health never became {health_pb2.HealthCheckResponse.ServingStatus.Name(want)}"
    )


@pytest.fixture
def own_postgres() -> Iterator[PostgresServer]:
    with PostgresServer() as server:
        yield server


async def test_health_follows_valkey(backend_server: Any, own_valkey: ValkeyServer) -> None:
    b = await backend_server(cache_url=own_valkey.url, health_interval_seconds=0.2)
    await _wait_health(b.channel, SERVING)

    own_valkey.stop()
    await _wait_health(b.channel, NOT_SERVING)
    status = await backend_pb2_grpc.StatusServiceStub(b.channel).GetStatus(
        backend_pb2.GetStatusRequest()
    )
    assert (status.status, status.cache.status, status.database.status) == (
        "degraded",
        "disconnected",
        "connected",
    )
    # Reads degrade to the database instead of failing.
    listing = await backend_pb2_grpc.DataServiceStub(b.channel).ListData(
        backend_pb2.ListDataRequest(limit=3)
    )
    assert listing.source == "database" and len(listing.items) == 3

    own_valkey.start()
    await _wait_health(b.channel, SERVING)
    listing = await backend_pb2_grpc.DataServiceStub(b.channel).ListData(
        backend_pb2.ListDataRequest(limit=3)
    )
    assert len(listing.items) == 3


async def test_database_outage_is_unavailable_then_recovers(
    backend_server: Any, own_postgres: PostgresServer
) -> None:
    assert own_postgres.info is not None
    b = await backend_server(database_url=own_postgres.info.app_dsn, health_interval_seconds=0.2)
    data = backend_pb2_grpc.DataServiceStub(b.channel)
    assert (await data.GetData(backend_pb2.GetDataRequest(id=1))).name == "item-001"

    own_postgres.stop()
    await _wait_health(b.channel, NOT_SERVING)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await data.GetData(backend_pb2.GetDataRequest(id=1))
    assert err.value.code() is grpc.StatusCode.UNAVAILABLE
    assert "database" in (err.value.details() or "")

    own_postgres.start()
    await _wait_health(b.channel, SERVING)
    # The pool replaced its dead connections by itself.
    assert (await data.GetData(backend_pb2.GetDataRequest(id=1))).name == "item-001"
