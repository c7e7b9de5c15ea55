"""Injected error rate: none at 0, the configured fraction (seeded) at 0.15."""

from __future__ import annotations

import asyncio
from typing import Any

import grpc
import pytest

from mockinfra.v1 import backend_pb2, backend_pb2_grpc

pytestmark = pytest.mark.integration

P = backend_pb2


async def _outcomes(calls: list[Any], batch: int = 50) -> list[grpc.StatusCode | str]:
    """Run call factories in bounded batches; each outcome is OK or the code, tagged injected."""
    results: list[grpc.StatusCode | str] = []

    async def one(make: Any) -> grpc.StatusCode | str:
        call = make()
        try:
            await call
            return grpc.StatusCode.OK
        except grpc.aio.AioRpcError as exc:
            trailing: Any = exc.trailing_metadata() or ()
            injected = next((v for k, v in trailing if k == "x-fault-injected"), None)
            return f"injected:{injected}" if injected else exc.code()

    for start in range(0, len(calls), batch):
        results += await asyncio.gather(*(one(m) for m in calls[start : start + batch]))
    return results


async def test_zero_error_rate_means_zero_errors(backend_server: Any) -> None:
    b = await backend_server(error_rate=0.0)
    data = backend_pb2_grpc.DataServiceStub(b.channel)
    created = await data.CreateData(P.CreateDataRequest(name="steady", value=5))
    users = backend_pb2_grpc.UserServiceStub(b.channel)
    queue = backend_pb2_grpc.QueueServiceStub(b.channel)
    status = backend_pb2_grpc.StatusServiceStub(b.channel)
    calls: list[Any] = []
    for i in range(60):
        calls += [
            lambda i=i: data.ListData(P.ListDataRequest(limit=1 + i % 50, offset=i)),
            lambda i=i: data.GetData(P.GetDataRequest(id=1 + i % 100)),
            lambda i=i: data.UpdateData(P.UpdateDataRequest(id=created.id, value=float(i))),
            lambda i=i: users.ListUsers(P.ListUsersRequest(page=1 + i % 3, limit=20)),
            lambda: queue.Enqueue(P.EnqueueRequest(type="steady", priority=P.PRIORITY_LOW)),
        ]
    calls += [lambda: status.GetStatus(P.GetStatusRequest()) for _ in range(20)]
    outcomes = await _outcomes(calls)
    assert len(outcomes) == 320
    assert [o for o in outcomes if o is not grpc.StatusCode.OK] == []
    await data.DeleteData(P.DeleteDataRequest(id=created.id))


async def test_error_rate_015_is_observed(backend_server: Any) -> None:
    b = await backend_server(error_rate=0.15, seed=20240601)
    data = backend_pb2_grpc.DataServiceStub(b.channel)
    outcomes = await _outcomes(
        [lambda: data.ListData(P.ListDataRequest(limit=5)) for _ in range(2000)], batch=100
    )
    failed = [o for o in outcomes if o is not grpc.StatusCode.OK]
    assert all(isinstance(o, str) and o == "injected:error_rate" for o in failed), set(failed)
    assert 0.12 <= len(failed) / len(outcomes) <= 0.18, len(failed)
