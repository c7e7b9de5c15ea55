"""Valkey as a cache: read-through data listings, session storage and change events.

A listing is cached under one key per (limit, offset), its value tagged with the data version
it was read at (`<version>:<protobuf bytes>`). A write bumps the version (one INCR), so every
listing cached before it stops matching at once. A read is one MGET of the version and the
listing: a hit when the tag matches, a miss otherwise (then the listing is refilled, tagged with
the version read before the database query, so a reader that raced a writer never makes a stale
listing look current).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any, Final

import orjson
from redis.asyncio import BlockingConnectionPool, Redis
from redis.exceptions import RedisError

from mockinfra.common.faults import FaultInjector
from mockinfra.common.metrics import Metrics
from mockinfra.common.pipelined import PipelinedConnection, PipelinedError

PREFIX: Final = "mockinfra"
DATA_VERSION_KEY: Final = f"{PREFIX}:data:version"
DATA_LIST_PREFIX: Final = f"{PREFIX}:data:list"
SESSION_PREFIX: Final = f"{PREFIX}:session"
EVENTS_CHANNEL: Final = "data-events"
CACHE_NAME: Final = "data"  # the `cache` label of cache_hits_total / cache_misses_total


class CacheUnavailable(Exception):
    """Valkey could not be reached."""


def make_client(url: str, *, max_connections: int = 100) -> Redis:
    """A pooled asyncio client with short timeouts: a dead cache must fail fast, not hang.

    The pool blocks (up to 2 s) rather than failing when every connection is busy, so a burst
    of calls queues instead of erroring.
    """
    pool: BlockingConnectionPool = BlockingConnectionPool.from_url(
        url,
        max_connections=max_connections,
        timeout=2.0,
        socket_timeout=3.0,
        socket_connect_timeout=2.0,
        health_check_interval=10,
    )
    return Redis.from_pool(pool)


class Cache:
    """Read-through listing cache, sessions and the `data-events` publisher over one client."""

    def __init__(
        self,
        client: Redis,
        *,
        metrics: Metrics,
        faults: FaultInjector,
        instance: str,
        ttl_seconds: int = 300,
    ) -> None:
        self.client = client
        self.metrics = metrics
        self.faults = faults
        self.instance = instance
        self.ttl = ttl_seconds
        # The hot read goes over one pipelined connection (pipelined.py); the rest uses the pool.
        kw = client.connection_pool.connection_kwargs
        self._reader = PipelinedConnection(
            kw.get("host", "localhost"),
            int(kw.get("port", 6379)),
            db=int(kw.get("db", 0) or 0),
            password=kw.get("password"),
            username=kw.get("username"),
            timeout=float(kw.get("socket_timeout") or 3.0),
            connect_timeout=float(kw.get("socket_connect_timeout") or 2.0),
        )
        metrics.precreate_caches([CACHE_NAME])

    def _error(self, operation: str, exc: Exception) -> CacheUnavailable:
        self.metrics.labels_for(self.metrics.cache_errors_total, operation=operation).inc()
        return CacheUnavailable(f"cache {operation} failed: {type(exc).__name__}: {exc}")

    async def get_listing(self, limit: int, offset: int) -> tuple[bytes, bytes | None]:
        """(current version, cached bytes or None); counts the hit or miss."""
        self.faults.check_dependency("cache")
        try:
            version, value = await self._reader.call(
                "MGET", DATA_VERSION_KEY, f"{DATA_LIST_PREFIX}:{limit}:{offset}"
            )
        except PipelinedError as exc:
            raise self._error("get", exc) from exc
        version = version or b"0"
        if value is not None:
            tag, _, listing = value.partition(b":")
            if tag == version:
                self.metrics.cache_hit(CACHE_NAME)
                return version, listing
        self.metrics.cache_miss(CACHE_NAME)
        return version, None

    async def put_listing(self, version: bytes, limit: int, offset: int, value: bytes) -> None:
        """Store a listing tagged with the version read before the database query."""
        self.faults.check_dependency("cache")
        try:
            await self.client.set(
                f"{DATA_LIST_PREFIX}:{limit}:{offset}", version + b":" + value, ex=self.ttl
            )
        except RedisError as exc:
            raise self._error("set", exc) from exc

    async def data_changed(self, event: str, item_id: int) -> None:
        """Invalidate every cached listing and publish the change, in one round trip."""
        self.faults.check_dependency("cache")
        message = orjson.dumps(
            {
                "event": event,
                "id": item_id,
                "instance": self.instance,
                "timestamp": datetime.now(UTC).isoformat(),
            }
        )
        try:
            async with self.client.pipeline(transaction=False) as pipe:
                pipe.incr(DATA_VERSION_KEY)
                pipe.publish(EVENTS_CHANNEL, message)
                await pipe.execute()
        except RedisError as exc:
            raise self._error("invalidate", exc) from exc

    # ------------------------------------------------------------ sessions

    async def session_set(self, session_id: str, data: dict[str, Any], ttl_seconds: int) -> None:
        self.faults.check_dependency("cache")
        try:
            await self.client.set(
                f"{SESSION_PREFIX}:{session_id}", orjson.dumps(data), ex=ttl_seconds
            )
        except RedisError as exc:
            raise self._error("session_set", exc) from exc

    async def session_get(self, session_id: str) -> dict[str, Any] | None:
        self.faults.check_dependency("cache")
        try:
            raw = await self.client.get(f"{SESSION_PREFIX}:{session_id}")
        except RedisError as exc:
            raise self._error("session_get", exc) from exc
        if raw is None:
            return None
        data: dict[str, Any] = orjson.loads(raw)
        return data

    async def session_delete(self, session_id: str) -> bool:
        self.faults.check_dependency("cache")
        try:
            return bool(await self.client.delete(f"{SESSION_PREFIX}:{session_id}"))
        except RedisError as exc:
            raise self._error("session_delete", exc) from exc

    # ------------------------------------------------------------ status

    async def ping(self) -> float:
        """PING round trip in milliseconds (health checks; no fault check, no retries)."""
        start = time.perf_counter()
        await self.client.ping()
        return (time.perf_counter() - start) * 1000.0

    async def memory_usage(self) -> int:
        info = await self.client.info("memory")
        return int(info.get("used_memory", 0))

    async def close(self) -> None:
        await self._reader.close()
        await self.client.aclose()
