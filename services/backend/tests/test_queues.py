"""Queues: priority order, retries with backoff, dead-lettering after 3 attempts."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from redis.asyncio import Redis
from sqlalchemy import text

from mockinfra.backend.queues import DEAD_LETTER
from mockinfra.stack.servers import ValkeyServer
from mockinfra.v1 import backend_pb2, backend_pb2_grpc

pytestmark = pytest.mark.integration

P = backend_pb2


async def test_failing_message_is_dead_lettered_after_three_attempts(
    backend_server: Any, own_valkey: ValkeyServer, until: Any
) -> None:
    b = await backend_server(cache_url=own_valkey.url)
    stub = backend_pb2_grpc.QueueServiceStub(b.channel)
    poison = await stub.Enqueue(P.EnqueueRequest(type="poison", priority=P.PRIORITY_HIGH))
    request = P.EnqueueRequest(type="report", priority=P.PRIORITY_LOW)
    request.payload.update({"fail": True})
    failing = await stub.Enqueue(request)
    assert (poison.queue, failing.queue) == ("high-priority", "low-priority")

    async def both_dead() -> bool:
        stats = await stub.GetQueueStats(P.GetQueueStatsRequest())
        return bool(stats.sizes[DEAD_LETTER] == 2)

    await until(both_dead)
    stats = await stub.GetQueueStats(P.GetQueueStatsRequest())
    assert (stats.dead_lettered, stats.retried, stats.processed) == (2, 4, 0)
    assert stats.sizes["high-priority"] == stats.sizes["low-priority"] == 0

    client = Redis.from_url(own_valkey.url)
    try:
        dead = [orjson.loads(m) for m in await client.lrange(DEAD_LETTER, 0, -1)]
    finally:
        await client.aclose()
    assert {m["id"] for m in dead} == {poison.id, failing.id}
    assert all(m["attempts"] == 3 == m["max_attempts"] for m in dead)
    assert all("cannot be processed" in m["last_error"] for m in dead)

    metrics = b.backend.rt.metrics
    labels = {"service": metrics.service, "instance": metrics.instance}
    dead_lettered = metrics.registry.get_sample_value(
        "queue_messages_total", {**labels, "queue": "high-priority", "outcome": "dead_lettered"}
    )
    assert dead_lettered == 1.0
    assert metrics.registry.get_sample_value("queue_size", {**labels, "queue": DEAD_LETTER}) == 2


async def test_worker_takes_the_highest_priority_first(
    backend_server: Any, own_valkey: ValkeyServer
) -> None:
    b = await backend_server(cache_url=own_valkey.url, worker_enabled=False)
    stub = backend_pb2_grpc.QueueServiceStub(b.channel)
    order = [
        ("low-1", P.PRIORITY_LOW),
        ("medium-1", P.PRIORITY_UNSPECIFIED),  # unspecified means medium
        ("high-1", P.PRIORITY_HIGH),
        ("low-2", P.PRIORITY_LOW),
        ("high-2", P.PRIORITY_HIGH),
        ("medium-2", P.PRIORITY_MEDIUM),
    ]
    ids = {}
    for type_, priority in order:
        ids[(await stub.Enqueue(P.EnqueueRequest(type=type_, priority=priority))).id] = type_
    stats = await stub.GetQueueStats(P.GetQueueStatsRequest())
    assert dict(stats.sizes) == {
        "high-priority": 2,
        "medium-priority": 2,
        "low-priority": 2,
        "dead-letter": 0,
    }

    queues = b.backend.queues
    steps = 0
    while await queues.step():
        steps += 1
        assert steps <= len(order)
    assert queues.stats.processed == len(order)

    async def processed(conn: Any) -> list[str]:
        rows = await conn.execute(
            text("SELECT data->>'id' FROM process_log WHERE data->>'id' = ANY(:ids) ORDER BY id"),
            {"ids": list(ids)},
        )
        return [ids[r[0]] for r in rows]

    seen = await b.backend.db.run("test", processed)
    assert seen == ["high-1", "high-2", "medium-1", "medium-2", "low-1", "low-2"]


async def test_bad_enqueue_input_is_invalid_argument(backend_server: Any) -> None:
    import grpc

    b = await backend_server(worker_enabled=False)
    stub = backend_pb2_grpc.QueueServiceStub(b.channel)
    for request in (
        P.EnqueueRequest(type=""),
        P.EnqueueRequest(type="x" * 65),
        P.EnqueueRequest(type="ok", priority=99),  # type: ignore[arg-type]
    ):
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await stub.Enqueue(request)
        assert err.value.code() is grpc.StatusCode.INVALID_ARGUMENT
