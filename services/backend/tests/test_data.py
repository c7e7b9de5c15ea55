"""DataService and UserService over gRPC against real PostgreSQL and Valkey."""

from __future__ import annotations

from typing import Any

import grpc
import pytest

from mockinfra.v1 import backend_pb2, backend_pb2_grpc

pytestmark = pytest.mark.integration


def sample(metrics: Any, name: str, **labels: str) -> float:
    value = metrics.registry.get_sample_value(
        name, {"service": metrics.service, "instance": metrics.instance, **labels}
    )
    return float(value or 0.0)


async def test_crud_round_trip(backend_server: Any) -> None:
    b = await backend_server()
    stub = backend_pb2_grpc.DataServiceStub(b.channel)
    request = backend_pb2.CreateDataRequest(name="round-trip", value=12.345)
    request.metadata.update({"team": "sre", "tags": ["a", "b"]})

    created = await stub.CreateData(request)
    assert created.id > 0 and created.name == "round-trip"
    assert created.value == pytest.approx(12.35)  # numeric(10,2) rounds
    assert created.status == "active"
    assert dict(created.metadata)["team"] == "sre"

    got = await stub.GetData(backend_pb2.GetDataRequest(id=created.id))
    assert got == created

    updated = await stub.UpdateData(
        backend_pb2.UpdateDataRequest(id=created.id, value=-3.5, status="archived")
    )
    assert (updated.name, updated.value, updated.status) == ("round-trip", -3.5, "archived")
    assert updated.updated_at.ToDatetime() >= created.updated_at.ToDatetime()

    deleted = await stub.DeleteData(backend_pb2.DeleteDataRequest(id=created.id))
    assert deleted.deleted and deleted.id == created.id
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.GetData(backend_pb2.GetDataRequest(id=created.id))
    assert err.value.code() is grpc.StatusCode.NOT_FOUND


async def test_every_answer_names_the_instance(backend_server: Any) -> None:
    b = await backend_server(instance="backend-x")
    stub = backend_pb2_grpc.DataServiceStub(b.channel)
    ok = stub.ListData(backend_pb2.ListDataRequest(limit=1))
    await ok
    assert ("x-instance", "backend-x") in tuple(await ok.trailing_metadata())
    bad = stub.GetData(backend_pb2.GetDataRequest(id=-1))
    with pytest.raises(grpc.aio.AioRpcError):
        await bad
    assert ("x-instance", "backend-x") in tuple(await bad.trailing_metadata())


async def test_pagination_bounds(backend_server: Any) -> None:
    b = await backend_server()
    data = backend_pb2_grpc.DataServiceStub(b.channel)
    first = await data.ListData(backend_pb2.ListDataRequest(limit=10, offset=0, nocache=True))
    second = await data.ListData(backend_pb2.ListDataRequest(limit=10, offset=10, nocache=True))
    assert len(first.items) == 10 and len(second.items) == 10
    assert {i.id for i in first.items}.isdisjoint({i.id for i in second.items})
    assert max(i.id for i in first.items) < min(i.id for i in second.items)
    assert first.total >= 100 and (first.limit, first.offset) == (10, 0)

    default = await data.ListData(backend_pb2.ListDataRequest(nocache=True))
    assert default.limit == 100 and len(default.items) == 100

    past_end = await data.ListData(
        backend_pb2.ListDataRequest(limit=5, offset=first.total + 10, nocache=True)
    )
    assert list(past_end.items) == [] and past_end.total == first.total

    users = backend_pb2_grpc.UserServiceStub(b.channel)
    page1 = await users.ListUsers(backend_pb2.ListUsersRequest())
    assert (page1.page, page1.limit, page1.total, len(page1.users)) == (1, 20, 50, 20)
    page3 = await users.ListUsers(backend_pb2.ListUsersRequest(page=3, limit=20))
    assert len(page3.users) == 10 and page3.users[0].username == "user041"
    assert "@" in page3.users[0].email


@pytest.mark.parametrize(
    ("method", "request_"),
    [
        ("ListData", backend_pb2.ListDataRequest(limit=-1)),
        ("ListData", backend_pb2.ListDataRequest(limit=1001)),
        ("ListData", backend_pb2.ListDataRequest(offset=-5)),
        ("GetData", backend_pb2.GetDataRequest(id=0)),
        ("CreateData", backend_pb2.CreateDataRequest(name="", value=1)),
        ("CreateData", backend_pb2.CreateDataRequest(name="   ", value=1)),
        ("CreateData", backend_pb2.CreateDataRequest(name="x" * 256, value=1)),
        ("CreateData", backend_pb2.CreateDataRequest(name="x" * 100_000, value=1)),
        ("CreateData", backend_pb2.CreateDataRequest(name="nul\x00", value=1)),
        ("CreateData", backend_pb2.CreateDataRequest(name="big", value=1e12)),
        ("CreateData", backend_pb2.CreateDataRequest(name="nan", value=float("nan"))),
        ("UpdateData", backend_pb2.UpdateDataRequest(id=1)),
        ("UpdateData", backend_pb2.UpdateDataRequest(id=1, status="exploded")),
        ("DeleteData", backend_pb2.DeleteDataRequest(id=-3)),
    ],
)
async def test_bad_data_input_is_invalid_argument(
    backend_server: Any, method: str, request_: Any
) -> None:
    b = await backend_server()
    stub = backend_pb2_grpc.DataServiceStub(b.channel)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await getattr(stub, method)(request_)
    assert err.value.code() is grpc.StatusCode.INVALID_ARGUMENT, err.value.details()
    assert err.value.details()


@pytest.mark.parametrize(
    "request_",
    [backend_pb2.ListUsersRequest(page=-1), backend_pb2.ListUsersRequest(limit=101)],
)
async def test_bad_users_input_is_invalid_argument(backend_server: Any, request_: Any) -> None:
    b = await backend_server()
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await backend_pb2_grpc.UserServiceStub(b.channel).ListUsers(request_)
    assert err.value.code() is grpc.StatusCode.INVALID_ARGUMENT


async def test_unknown_ids_are_not_found(backend_server: Any) -> None:
    b = await backend_server()
    stub = backend_pb2_grpc.DataServiceStub(b.channel)
    missing = 10**15
    calls = [
        stub.GetData(backend_pb2.GetDataRequest(id=missing)),
        stub.UpdateData(backend_pb2.UpdateDataRequest(id=missing, name="x")),
        stub.DeleteData(backend_pb2.DeleteDataRequest(id=missing)),
    ]
    for call in calls:
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await call
        assert err.value.code() is grpc.StatusCode.NOT_FOUND
        assert str(missing) in (err.value.details() or "")


async def test_cache_hit_then_invalidated_by_a_write(backend_server: Any) -> None:
    b = await backend_server()
    metrics = b.backend.rt.metrics
    stub = backend_pb2_grpc.DataServiceStub(b.channel)
    listing = backend_pb2.ListDataRequest(limit=7, offset=3)
    # Start from a known state: a write invalidates whatever earlier tests cached.
    created = await stub.CreateData(backend_pb2.CreateDataRequest(name="cache-test", value=1))
    hits0 = sample(metrics, "cache_hits_total", cache="data")
    misses0 = sample(metrics, "cache_misses_total", cache="data")

    first = await stub.ListData(listing)
    second = await stub.ListData(listing)
    assert (first.source, second.source) == ("database", "cache")
    assert list(first.items) == list(second.items) and first.total == second.total
    assert sample(metrics, "cache_misses_total", cache="data") == misses0 + 1
    assert sample(metrics, "cache_hits_total", cache="data") == hits0 + 1

    await stub.UpdateData(backend_pb2.UpdateDataRequest(id=created.id, name="cache-test-2"))
    third = await stub.ListData(listing)
    assert third.source == "database"
    assert sample(metrics, "cache_misses_total", cache="data") == misses0 + 2

    bypass = await stub.ListData(backend_pb2.ListDataRequest(limit=7, offset=3, nocache=True))
    assert bypass.source == "database"
    assert sample(metrics, "cache_hits_total", cache="data") == hits0 + 1
    await stub.DeleteData(backend_pb2.DeleteDataRequest(id=created.id))
    assert sample(metrics, "db_query_duration_seconds_count", operation="list_data") >= 3


async def test_a_listing_filled_before_a_write_is_never_served_after_it(
    backend_server: Any, valkey_server: str
) -> None:
    """The race the version tag exists for: a reader queried the database, a write landed,
    then the reader stored what it read. That listing must read as a miss, and is replaced."""
    from redis.asyncio import Redis

    from mockinfra.backend.cache import DATA_LIST_PREFIX, DATA_VERSION_KEY

    b = await backend_server()
    stub = backend_pb2_grpc.DataServiceStub(b.channel)
    listing = backend_pb2.ListDataRequest(limit=4, offset=0)
    created = await stub.CreateData(backend_pb2.CreateDataRequest(name="race", value=1))
    client = Redis.from_url(valkey_server)

    async def get(key: str) -> bytes:
        value = await client.get(key)
        assert isinstance(value, bytes), key
        return value

    try:
        old = await get(DATA_VERSION_KEY)
        fresh = await stub.ListData(listing)  # a miss: fills the listing at the current version
        key = f"{DATA_LIST_PREFIX}:4:0"
        assert (await get(key)).startswith(old + b":")
        await stub.UpdateData(backend_pb2.UpdateDataRequest(id=created.id, name="race-2"))
        # The slow reader's fill lands after the write, tagged with the version it read at.
        await client.set(key, old + b":" + fresh.SerializeToString(), ex=60)
        after = await stub.ListData(listing)
        assert after.source == "database"
        new = await get(DATA_VERSION_KEY)
        assert int(new) == int(old) + 1
        assert (await get(key)).startswith(new + b":")
        assert (await stub.ListData(listing)).source == "cache"
        # One key per (limit, offset), whatever the number of writes.
        assert await client.keys(f"{DATA_LIST_PREFIX}:4:*") == [key.encode()]
    finally:
        await stub.DeleteData(backend_pb2.DeleteDataRequest(id=created.id))
        await client.aclose()


async def test_write_publishes_a_data_event(backend_server: Any, valkey_server: str) -> None:
    from redis.asyncio import Redis

    b = await backend_server()
    client = Redis.from_url(valkey_server)
    pubsub = client.pubsub()
    try:
        await pubsub.subscribe("data-events")
        assert (await pubsub.get_message(timeout=5.0))["type"] == "subscribe"
        stub = backend_pb2_grpc.DataServiceStub(b.channel)
        created = await stub.CreateData(backend_pb2.CreateDataRequest(name="event", value=2))
        message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=5.0)
        assert message is not None and b'"created"' in message["data"]
        assert str(created.id).encode() in message["data"]
    finally:
        await pubsub.aclose()  # type: ignore[no-untyped-call]
        await client.aclose()


async def test_sessions_round_trip(backend_server: Any) -> None:
    b = await backend_server()
    cache = b.backend.cache
    await cache.session_set("s-1", {"user": 7}, ttl_seconds=60)
    assert await cache.session_get("s-1") == {"user": 7}
    assert await cache.session_delete("s-1")
    assert await cache.session_get("s-1") is None
