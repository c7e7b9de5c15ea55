"""Injection steps: each scenario `inject` entry becomes a `Step` that applies and reverts itself.

Faults the services implement go through their fault control (with a TTL, so they expire even
if the runner dies). The rest act on the real components from outside, as the failure would:
supervisord stops or kills processes, Valkey keys are deleted or memory squeezed, PostgreSQL
tables are locked, nginx's rendered configuration is broken and reloaded, a file fills the disk.
Every revert is idempotent, so recovery can run twice (finally block and `--recover-all`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import signal
import socket
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Protocol

import asyncpg  # type: ignore[import-untyped]
import httpx
from redis.asyncio import Redis

from mockinfra.chaos.components import ComponentControl
from mockinfra.chaos.control import FaultControl
from mockinfra.common import topology
from mockinfra.stack.programs import cache_url, database_urls
from mockinfra.stack.state import State

MAX_DISK_FILL_MB: Final = 4096
CHAOS_MARKER: Final = "mockinfra-chaos"
_CHUNK: Final = 1024 * 1024


@dataclass(slots=True)
class Context:
    """What steps act through; built once per run."""

    control: FaultControl
    components: ComponentControl
    http: httpx.AsyncClient
    state: State
    fault_ttl: float
    run_id: str = "manual"
    # Per instance, the faults the baseline keeps in force (restored after a fault step).
    baseline: dict[str, list[tuple[str, dict[str, str]]]] = field(default_factory=dict)
    note: Callable[[str, str], None] = lambda event, detail: None

    @property
    def chaos_dir(self) -> Path:
        return self.state.root / "chaos"


class Step(Protocol):
    """One injection; `apply` may be called again while held (`every_seconds`)."""

    async def apply(self, ctx: Context) -> str: ...

    async def revert(self, ctx: Context) -> str: ...


def _str_params(params: Mapping[str, Any]) -> dict[str, str]:
    return {str(k): str(v) for k, v in params.items()}


# ---------------------------------------------------------------- run-time faults


@dataclass(slots=True)
class FaultStep:
    instances: list[str]
    kind: str
    params: dict[str, str]

    async def apply(self, ctx: Context) -> str:
        for instance in self.instances:
            await ctx.control.set(instance, self.kind, self.params, ctx.fault_ttl)
        return f"{self.kind} {self.params} on {', '.join(self.instances)} (ttl {ctx.fault_ttl:g}s)"

    async def revert(self, ctx: Context) -> str:
        for instance in self.instances:
            await ctx.control.clear(instance, self.kind)
            for kind, params in ctx.baseline.get(instance, []):
                if kind == self.kind:  # the baseline's own fault of this kind comes back
                    await ctx.control.set(instance, kind, params, ctx.fault_ttl)
        return f"cleared {self.kind} on {', '.join(self.instances)}"


# ---------------------------------------------------------------- processes


@dataclass(slots=True)
class StopStep:
    component: str

    async def apply(self, ctx: Context) -> str:
        await ctx.components.stop(self.component)
        return f"supervisor stopped {self.component}"

    async def revert(self, ctx: Context) -> str:
        await ctx.components.ensure_running(self.component)
        return f"{self.component} running again"


@dataclass(slots=True)
class KillStep:
    """SIGKILL (crash; supervisord restarts it) or SIGSTOP (a frozen, hung process)."""

    component: str
    sig: signal.Signals

    async def apply(self, ctx: Context) -> str:
        pid = await ctx.components.signal(self.component, self.sig)
        return f"{self.sig.name} to {self.component} pid {pid}" if pid else f"{self.component} down"

    async def revert(self, ctx: Context) -> str:
        await ctx.components.ensure_running(self.component)
        return f"{self.component} running again"


# ---------------------------------------------------------------- Valkey


def _redis() -> Redis:
    return Redis.from_url(
        cache_url(), socket_timeout=5.0, socket_connect_timeout=5.0, decode_responses=True
    )


@dataclass(slots=True)
class CacheFlushStep:
    """Deletes the cached listings (not queues or sessions): every read becomes a miss."""

    pattern: str

    async def apply(self, ctx: Context) -> str:
        deleted = 0
        client = _redis()
        try:
            async for key in client.scan_iter(match=self.pattern, count=500):
                deleted += int(await client.unlink(key))
        finally:
            await client.aclose()
        return f"deleted {deleted} keys matching {self.pattern}"

    async def revert(self, ctx: Context) -> str:
        return "cache refills from reads"


@dataclass(slots=True)
class CacheMemoryPressureStep:
    """Lowers maxmemory to just above what is used and adds filler: Valkey evicts under LRU."""

    fill_mb: int
    used_ratio: float
    original: int | None = None

    async def apply(self, ctx: Context) -> str:
        client = _redis()
        try:
            if self.original is None:
                raw = await client.config_get("maxmemory")
                self.original = int(raw.get("maxmemory") or 0)
                _journal(ctx, "valkey_maxmemory", {"maxmemory": self.original})
            chunk = b"\x00" * (64 * 1024)
            async with client.pipeline(transaction=False) as pipe:
                for i in range(self.fill_mb * 16):
                    # Expiring filler: gone by itself even if nobody reverts.
                    pipe.set(f"{CHAOS_MARKER}:fill:{i}", chunk, ex=int(ctx.fault_ttl))
                await pipe.execute()
            used = int((await client.info("memory"))["used_memory"])
            limit = int(used / self.used_ratio)
            await client.config_set("maxmemory", limit)
        finally:
            await client.aclose()
        return f"maxmemory {self.original} -> {limit} bytes (used {used})"

    async def revert(self, ctx: Context) -> str:
        client = _redis()
        try:
            keys = [k async for k in client.scan_iter(match=f"{CHAOS_MARKER}:fill:*", count=1000)]
            if keys:
                await client.unlink(*keys)
            original = self.original or _seed_maxmemory(ctx)
            await client.config_set("maxmemory", original)
        finally:
            await client.aclose()
        _unjournal(ctx, "valkey_maxmemory")
        return f"maxmemory restored to {original}, {len(keys)} filler keys removed"


def _seed_maxmemory(ctx: Context) -> int:
    saved = _read_journal(ctx).get("valkey_maxmemory", {})
    return int(saved.get("maxmemory") or 256 * 1024 * 1024)


@dataclass(slots=True)
class QueueBacklogStep:
    """Stalls the consumers (process_log locked) while producers keep enqueueing."""

    queue: str
    count: int
    lock: TableLock | None = None

    async def apply(self, ctx: Context) -> str:
        if self.lock is None:
            self.lock = TableLock("process_log")
            await self.lock.start(ctx)
        client = _redis()
        try:
            size = int(await client.llen(self.queue))
            missing = max(0, self.count - size)
            async with client.pipeline(transaction=False) as pipe:
                for _ in range(missing):
                    pipe.rpush(self.queue, _message("chaos-backlog", ctx.run_id, self.queue))
                await pipe.execute()
        finally:
            await client.aclose()
        return f"{self.queue}: {size} -> {size + missing} messages, consumers stalled"

    async def revert(self, ctx: Context) -> str:
        if self.lock is not None:
            await self.lock.stop()
            self.lock = None
        removed = await _remove_messages(self.queue, "chaos-backlog")
        return f"process_log unlocked, {removed} backlog messages removed from {self.queue}"


def _message(type_: str, run_id: str, queue: str) -> bytes:
    """A message in the backend's queue format (mockinfra.backend.queues)."""
    return json.dumps(
        {
            "id": str(uuid.uuid4()),
            "type": type_,
            "payload": {"source": CHAOS_MARKER, "run_id": run_id},
            "timestamp": "1970-01-01T00:00:00Z",
            "attempts": 0,
            "max_attempts": 3,
            "queue": queue,
        }
    ).encode()


async def _remove_messages(queue: str, type_: str) -> int:
    """LREM every message of one type from a queue (bounded by the queue's length)."""
    client = _redis()
    removed = 0
    try:
        for raw in await client.lrange(queue, 0, -1):
            try:
                message = json.loads(raw)
            except ValueError:
                continue
            if isinstance(message, dict) and message.get("type") == type_:
                text = raw if isinstance(raw, str) else raw.decode()
                removed += int(await client.lrem(queue, 0, text))
    finally:
        await client.aclose()
    return removed


@dataclass(slots=True)
class PoisonMessagesStep:
    """Enqueues messages the worker can never process, through the public queue API."""

    count: int
    priority: str

    async def apply(self, ctx: Context) -> str:
        url = f"{topology.url('frontend')}/api/backend/queue"
        body = {"type": "poison", "payload": {"source": CHAOS_MARKER}, "priority": self.priority}
        accepted = 0
        for _ in range(self.count):
            resp = await ctx.http.post(url, json=body)
            accepted += resp.status_code < 300
        return f"{accepted}/{self.count} poison messages enqueued"

    async def revert(self, ctx: Context) -> str:
        removed = 0
        for queue in ("high-priority", "medium-priority", "low-priority", "dead-letter"):
            removed += await _remove_messages(queue, "poison")
        return f"{removed} poison messages removed"


# ---------------------------------------------------------------- PostgreSQL


@dataclass(slots=True)
class TableLock:
    """An ACCESS EXCLUSIVE lock held by an admin session, optionally in pulses."""

    table: str
    hold_seconds: float = 0.0  # 0: hold until stopped
    pause_seconds: float = 0.0
    _task: asyncio.Task[None] | None = None
    _ready: asyncio.Event = field(default_factory=asyncio.Event)

    async def start(self, ctx: Context) -> None:
        if not re.fullmatch(r"[a-z_]+", self.table):
            raise ValueError(f"bad table name {self.table!r}")
        dsn = database_urls(ctx.state)[0]
        self._task = asyncio.create_task(self._run(dsn), name=f"lock-{self.table}")
        await asyncio.wait_for(self._ready.wait(), timeout=15)

    async def _run(self, dsn: str) -> None:
        conn = await asyncpg.connect(dsn, timeout=10)
        try:
            while True:
                async with conn.transaction():
                    await conn.execute(f"LOCK TABLE {self.table} IN ACCESS EXCLUSIVE MODE")
                    self._ready.set()
                    if self.hold_seconds <= 0:
                        await asyncio.Event().wait()  # until cancelled
                    await asyncio.sleep(self.hold_seconds)
                await asyncio.sleep(self.pause_seconds)
        finally:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.close(), timeout=5)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None


@dataclass(slots=True)
class SqlLoadStep:
    """Lock contention on a table (`mode: lock`) plus `slow_query_simulation()` sessions."""

    table: str
    hold_seconds: float
    pause_seconds: float
    slow_sessions: int
    slow_seconds: float
    # Clients looping on uncached reads through the frontend: with the table locked each one
    # holds a backend pool connection until its deadline, so the pools fill (4 req/s of
    # background traffic alone peaks at 3-4 of 10 connections).
    readers: int = 0
    lock: TableLock | None = None
    _slow: list[asyncio.Task[None]] = field(default_factory=list)

    async def apply(self, ctx: Context) -> str:
        if self.lock is None and self.table:
            self.lock = TableLock(self.table, self.hold_seconds, self.pause_seconds)
            await self.lock.start(ctx)
        if not self._slow:
            dsn = database_urls(ctx.state)[0]
            self._slow = [
                asyncio.create_task(self._slow_loop(dsn)) for _ in range(self.slow_sessions)
            ] + [asyncio.create_task(self._reader(ctx.http)) for _ in range(self.readers)]
        return (
            f"lock on {self.table or '-'} ({self.hold_seconds:g}s on/{self.pause_seconds:g}s off), "
            f"{self.slow_sessions} slow_query_simulation({self.slow_seconds:g}) sessions, "
            f"{self.readers} uncached readers"
        )

    async def _reader(self, http: httpx.AsyncClient) -> None:
        url = f"{topology.url('frontend')}/api/backend/data?limit=10&nocache=true"
        while True:
            try:
                await http.get(url, timeout=30.0)
            except httpx.HTTPError:
                await asyncio.sleep(0.5)  # the frontend is down or refusing: do not spin

    async def _slow_loop(self, dsn: str) -> None:
        conn = await asyncpg.connect(dsn, timeout=10)
        try:
            while True:
                await conn.execute("SELECT slow_query_simulation($1)", self.slow_seconds)
        finally:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.close(), timeout=5)

    async def revert(self, ctx: Context) -> str:
        if self.lock is not None:
            await self.lock.stop()
            self.lock = None
        for task in self._slow:
            task.cancel()
        for task in self._slow:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._slow = []
        return "database load stopped, locks released"


# ---------------------------------------------------------------- host and nginx


@dataclass(slots=True)
class DiskFillStep:
    """Writes one bounded file inside the state folder."""

    size_mb: int

    def path(self, ctx: Context) -> Path:
        return ctx.chaos_dir / "disk-fill.bin"

    async def apply(self, ctx: Context) -> str:
        path = self.path(ctx)
        size = min(self.size_mb, MAX_DISK_FILL_MB)

        def fill() -> None:
            path.parent.mkdir(parents=True, exist_ok=True)
            block = b"\x00" * _CHUNK
            with path.open("wb") as out:
                for _ in range(size):
                    out.write(block)
                out.flush()

        await asyncio.to_thread(fill)
        return f"wrote {size} MiB to {path}"

    async def revert(self, ctx: Context) -> str:
        path = self.path(ctx)
        await asyncio.to_thread(path.unlink, missing_ok=True)
        return f"removed {path}"


def _free_port() -> int:
    """A loopback port nothing listens on (bound then released): the "typo" upstream."""
    with socket.socket() as sock:
        sock.bind((topology.HOST, 0))
        return int(sock.getsockname()[1])


@dataclass(slots=True)
class NginxUpstreamStep:
    """Points the named components' upstream servers at a dead port, then reloads nginx."""

    components: list[str]

    def conf(self, ctx: Context) -> Path:
        return ctx.state.config / "nginx.conf"

    def backup(self, ctx: Context) -> Path:
        return ctx.chaos_dir / "nginx.conf.orig"

    async def apply(self, ctx: Context) -> str:
        conf, backup = self.conf(ctx), self.backup(ctx)
        text = await asyncio.to_thread(conf.read_text, encoding="utf-8")
        if not backup.exists():
            backup.parent.mkdir(parents=True, exist_ok=True)
            await asyncio.to_thread(backup.write_text, text, encoding="utf-8")
        changed = []
        for name in self.components:
            addr = f"{topology.HOST}:{topology.component(name).port}"
            dead = f"{topology.HOST}:{_free_port()}"
            if re.search(rf"server\s+{re.escape(addr)}\b", text):
                text = re.sub(rf"(server\s+){re.escape(addr)}\b", rf"\g<1>{dead}", text)
                changed.append(f"{name} -> {dead}")
        if not changed:
            raise RuntimeError(f"no upstream server of {self.components} in {conf}")
        await asyncio.to_thread(conf.write_text, text, encoding="utf-8")
        await ctx.components.signal("nginx", signal.SIGHUP)
        return f"nginx upstream {', '.join(changed)} (reloaded)"

    async def revert(self, ctx: Context) -> str:
        conf, backup = self.conf(ctx), self.backup(ctx)
        if not backup.exists():
            return "nginx configuration untouched"
        await asyncio.to_thread(backup.replace, conf)
        await ctx.components.signal("nginx", signal.SIGHUP)
        return "nginx configuration restored (reloaded)"


# ---------------------------------------------------------------- journal


def _journal_path(ctx: Context) -> Path:
    return ctx.chaos_dir / "journal.json"


def _read_journal(ctx: Context) -> dict[str, Any]:
    try:
        loaded: dict[str, Any] = json.loads(_journal_path(ctx).read_text(encoding="utf-8"))
        return loaded
    except (OSError, ValueError):
        return {}


def _journal(ctx: Context, key: str, value: Any) -> None:
    """Remember what a non-expiring change must restore, for `--recover-all` after a SIGKILL."""
    data = _read_journal(ctx)
    data[key] = value
    _journal_path(ctx).parent.mkdir(parents=True, exist_ok=True)
    _journal_path(ctx).write_text(json.dumps(data), encoding="utf-8")


def _unjournal(ctx: Context, key: str) -> None:
    data = _read_journal(ctx)
    if data.pop(key, None) is not None:
        _journal_path(ctx).write_text(json.dumps(data), encoding="utf-8")


# ---------------------------------------------------------------- building


def build(action: str, spec: Mapping[str, Any]) -> Step:
    """The step for one scenario `inject` entry (already schema-validated)."""
    params = dict(spec.get("params") or {})
    if action == "fault":
        return FaultStep(list(spec["instances"]), str(spec["kind"]), _str_params(params))
    if action == "stop":
        return StopStep(str(spec["component"]))
    if action == "kill":
        return KillStep(str(spec["component"]), signal.Signals[f"SIG{spec.get('signal', 'KILL')}"])
    if action == "cache_flush":
        return CacheFlushStep(str(params.get("pattern", "mockinfra:data:list:*")))
    if action == "cache_memory_pressure":
        return CacheMemoryPressureStep(
            int(params.get("fill_mb", 8)), float(params.get("used_ratio", 0.95))
        )
    if action == "queue_backlog":
        return QueueBacklogStep(
            str(params.get("queue", "low-priority")), int(params.get("count", 1500))
        )
    if action == "poison_messages":
        return PoisonMessagesStep(int(params.get("count", 5)), str(params.get("priority", "low")))
    if action == "sql_load":
        return SqlLoadStep(
            table=str(params.get("table", "")),
            hold_seconds=float(params.get("hold_seconds", 0)),
            pause_seconds=float(params.get("pause_seconds", 0)),
            slow_sessions=int(params.get("slow_sessions", 0)),
            slow_seconds=float(params.get("slow_seconds", 2)),
            readers=int(params.get("readers", 0)),
        )
    if action == "disk_fill":
        return DiskFillStep(int(params.get("size_mb", 1024)))
    if action == "nginx_upstream":
        return NginxUpstreamStep(list(str(params.get("components", "backend-1")).split(",")))
    raise ValueError(f"unknown action {action!r}")


async def recover_journal(ctx: Context) -> list[str]:
    """Undo what a dead runner left behind: files, nginx config, Valkey maxmemory."""
    done = [
        await DiskFillStep(0).revert(ctx),
        await NginxUpstreamStep([]).revert(ctx),
    ]
    if "valkey_maxmemory" in _read_journal(ctx):
        done.append(await CacheMemoryPressureStep(0, 1.0).revert(ctx))
    return done
