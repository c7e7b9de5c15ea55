"""The four Valkey queues and this instance's worker.

Messages are JSON `{id, type, payload, timestamp, attempts, max_attempts, queue}` in lists named
`high-priority`, `medium-priority`, `low-priority` and `dead-letter`. The worker BLPOPs the three
work queues in priority order (BLPOP serves the first non-empty key), processes with a timeout,
and on failure parks the message in a delayed sorted set with exponential backoff; a Lua script
moves due messages back atomically, so two instances never both retry one. After
`max_attempts` failures a message goes to `dead-letter`. Messages of type `poison` or with
payload `{"fail": true}` always fail, so tests and chaos can drive dead-lettering.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

import orjson
from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy import text

from mockinfra.backend.db import Database
from mockinfra.common.faults import FaultInjector
from mockinfra.common.metrics import Metrics

HIGH: Final = "high-priority"
MEDIUM: Final = "medium-priority"
LOW: Final = "low-priority"
DEAD_LETTER: Final = "dead-letter"
WORK_QUEUES: Final = (HIGH, MEDIUM, LOW)  # BLPOP order = priority order
ALL_QUEUES: Final = (*WORK_QUEUES, DEAD_LETTER)
DELAYED_KEY: Final = "mockinfra:queue:delayed"
MAX_ATTEMPTS: Final = 3
FAILING_TYPES: Final = frozenset({"poison"})

# KEYS[1] = delayed set; ARGV[1] = now. Members are "<queue>|<message json>".
_PROMOTE_LUA: Final = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, 100)
for _, m in ipairs(due) do
  redis.call('ZREM', KEYS[1], m)
  local sep = string.find(m, '|', 1, true)
  redis.call('RPUSH', string.sub(m, 1, sep - 1), string.sub(m, sep + 1))
end
return #due
"""

_INSERT_LOG = text(
    "INSERT INTO process_log (data, service, status) "
    "VALUES (CAST(:data AS jsonb), :service, :status)"
)

log = logging.getLogger("mockinfra.backend.queues")


class ProcessingError(Exception):
    """A message could not be processed (it will be retried, then dead-lettered)."""


@dataclass(slots=True)
class WorkerStats:
    processed: int = 0
    retried: int = 0
    dead_lettered: int = 0


class Queues:
    """Enqueue, sizes and the worker loop of one backend instance."""

    def __init__(
        self,
        client: Redis,
        *,
        db: Database,
        metrics: Metrics,
        faults: FaultInjector,
        instance: str,
        processing_timeout: float = 30.0,
        retry_backoff: float = 1.0,
        poll_seconds: float = 0.5,
    ) -> None:
        self.client = client
        self.db = db
        self.metrics = metrics
        self.faults = faults
        self.instance = instance
        self.processing_timeout = processing_timeout
        self.retry_backoff = retry_backoff
        self.poll_seconds = poll_seconds
        self.stats = WorkerStats()
        self._promote = client.register_script(_PROMOTE_LUA)
        self._sizes = {q: metrics.labels_for(metrics.queue_size, queue=q) for q in ALL_QUEUES}
        self._outcomes = {
            (q, outcome): metrics.labels_for(metrics.queue_messages_total, queue=q, outcome=outcome)
            for q in ALL_QUEUES
            for outcome in ("enqueued", "processed", "retried", "dead_lettered")
        }

    async def enqueue(self, queue: str, type_: str, payload: dict[str, Any]) -> tuple[str, int]:
        """Append a new message; returns (message id, queue length after the push)."""
        self.faults.check_dependency("cache")
        message = {
            "id": str(uuid.uuid4()),
            "type": type_,
            "payload": payload,
            "timestamp": datetime.now(UTC).isoformat(),
            "attempts": 0,
            "max_attempts": MAX_ATTEMPTS,
            "queue": queue,
        }
        size = int(await self.client.rpush(queue, orjson.dumps(message)))
        self._sizes[queue].set(size)
        self._outcomes[queue, "enqueued"].inc()
        return str(message["id"]), size

    async def sizes(self) -> dict[str, int]:
        """Length of every queue (dead-letter included); refreshes the queue_size gauge."""
        async with self.client.pipeline(transaction=False) as pipe:
            for queue in ALL_QUEUES:
                pipe.llen(queue)
            lengths = await pipe.execute()
        sizes = dict(zip(ALL_QUEUES, (int(n) for n in lengths), strict=True))
        for queue, size in sizes.items():
            self._sizes[queue].set(size)
        return sizes

    # ------------------------------------------------------------ worker

    async def step(self) -> bool:
        """Promote due retries, take at most one message and handle it; False when idle."""
        await self._promote(keys=[DELAYED_KEY], args=[time.time()])
        item = await self.client.blpop(list(WORK_QUEUES), timeout=self.poll_seconds)
        if item is None:
            return False
        queue, raw = item
        await self._handle(queue.decode() if isinstance(queue, bytes) else str(queue), raw)
        return True

    async def run_worker(self, stop: asyncio.Event) -> None:
        """Process messages until `stop` is set; survives cache and database outages."""
        while not stop.is_set():
            try:
                await self.step()
            except (RedisError, OSError) as exc:
                log.warning("queue worker: cache unavailable: %s", exc)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=1.0)

    async def _handle(self, queue: str, raw: bytes | str) -> None:
        try:
            message: dict[str, Any] = orjson.loads(raw)
            if not isinstance(message, dict):
                raise TypeError("message is not an object")
        except (orjson.JSONDecodeError, TypeError):
            log.error("queue %s: undecodable message dead-lettered", queue)
            await self.client.rpush(DEAD_LETTER, raw)
            self._outcomes[DEAD_LETTER, "dead_lettered"].inc()
            return
        try:
            async with asyncio.timeout(self.processing_timeout):
                await self._process(message)
        except Exception as exc:  # any failure of one message: retry or dead-letter it
            await self._failed(queue, message, exc)
        else:
            self.stats.processed += 1
            self._outcomes[queue, "processed"].inc()

    async def _process(self, message: dict[str, Any]) -> None:
        payload = message.get("payload")
        if message.get("type") in FAILING_TYPES or (
            isinstance(payload, dict) and payload.get("fail") is True
        ):
            raise ProcessingError(f"message type {message.get('type')!r} cannot be processed")
        data = orjson.dumps(message).decode()
        await self.db.run(
            "insert_process_log",
            lambda conn: conn.execute(
                _INSERT_LOG, {"data": data, "service": self.instance, "status": "processed"}
            ),
        )

    async def _failed(self, queue: str, message: dict[str, Any], exc: Exception) -> None:
        attempts = int(message.get("attempts", 0)) + 1
        max_attempts = int(message.get("max_attempts", MAX_ATTEMPTS))
        message["attempts"] = attempts
        message["last_error"] = f"{type(exc).__name__}: {exc}"[:500]
        extra = {"message_id": message.get("id"), "queue": queue, "attempts": attempts}
        if attempts >= max_attempts:
            await self.client.rpush(DEAD_LETTER, orjson.dumps(message))
            self.stats.dead_lettered += 1
            self._outcomes[queue, "dead_lettered"].inc()
            log.warning("queue message dead-lettered: %s", message["last_error"], extra=extra)
            return
        due = time.time() + self.retry_backoff * 2 ** (attempts - 1)
        await self.client.zadd(DELAYED_KEY, {f"{queue}|".encode() + orjson.dumps(message): due})
        self.stats.retried += 1
        self._outcomes[queue, "retried"].inc()
        log.info("queue message retried: %s", message["last_error"], extra=extra)
