"""One backend instance's state: database, cache, queues, background tasks and health.

Built once per process (or per in-process test server) and shared by the servicers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

from mockinfra.backend import __version__
from mockinfra.backend.cache import Cache, make_client
from mockinfra.backend.config import BackendSettings
from mockinfra.backend.db import Database
from mockinfra.backend.queues import Queues
from mockinfra.backend.rolling import RollingRates
from mockinfra.common.runtime import Runtime

log = logging.getLogger("mockinfra.backend")

ServingHook = Callable[[bool], Awaitable[None] | None]
PING_TIMEOUT_SECONDS = 2.0


class Backend:
    """Everything a backend instance owns; `start()` and `close()` bracket its life."""

    def __init__(self, rt: Runtime, settings: BackendSettings) -> None:
        self.rt = rt
        self.settings = settings
        self.instance = settings.instance
        self.version = __version__
        self.started_at = time.monotonic()
        self.db = Database(
            settings.database_url,
            metrics=rt.metrics,
            faults=rt.faults,
            pool_size=settings.pool_size,
            pool_timeout=settings.pool_timeout_seconds,
            retries=settings.db_retries,
        )
        self.redis = make_client(settings.cache_url)
        self.cache = Cache(
            self.redis,
            metrics=rt.metrics,
            faults=rt.faults,
            instance=self.instance,
            ttl_seconds=settings.cache_ttl_seconds,
        )
        self.queues = Queues(
            self.redis,
            db=self.db,
            metrics=rt.metrics,
            faults=rt.faults,
            instance=self.instance,
            processing_timeout=settings.queue_processing_timeout_seconds,
            retry_backoff=settings.queue_retry_backoff_seconds,
            poll_seconds=settings.queue_poll_seconds,
        )
        self.rolling = RollingRates(rt.metrics, interval=settings.health_interval_seconds)
        self.db_ok = False
        self.cache_ok = False
        self.on_serving: ServingHook | None = None  # set by the server wiring
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    # ------------------------------------------------------------ health

    async def ping_database(self) -> float | None:
        """Latency in ms, or None when the database does not answer."""
        try:
            async with asyncio.timeout(PING_TIMEOUT_SECONDS):
                return await self.db.ping()
        except Exception:  # any failure means "unreachable" for a health check
            return None

    async def ping_cache(self) -> float | None:
        """Latency in ms, or None when Valkey does not answer."""
        try:
            async with asyncio.timeout(PING_TIMEOUT_SECONDS):
                return await self.cache.ping()
        except Exception:  # any failure means "unreachable" for a health check
            return None

    async def check_health(self) -> bool:
        """Ping both dependencies, update the flags and the health service; True when serving."""
        db_ms, cache_ms = await asyncio.gather(self.ping_database(), self.ping_cache())
        db_ok, cache_ok = db_ms is not None, cache_ms is not None
        serving = db_ok and cache_ok
        if (db_ok, cache_ok) != (self.db_ok, self.cache_ok):
            log.log(
                logging.INFO if serving else logging.WARNING,
                "dependencies: database %s, cache %s",
                "up" if db_ok else "DOWN",
                "up" if cache_ok else "DOWN",
            )
        self.db_ok, self.cache_ok = db_ok, cache_ok
        if self.on_serving is not None:
            result = self.on_serving(serving)
            if result is not None:
                await result
        if cache_ok:
            with contextlib.suppress(Exception):
                await self.queues.sizes()
        return serving

    async def _health_loop(self) -> None:
        while not self._stop.is_set():
            try:
                await self.check_health()
                self.rolling.tick()
            except Exception:  # the loop must outlive any single failed check
                log.exception("health check failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    self._stop.wait(), timeout=self.settings.health_interval_seconds
                )

    # ------------------------------------------------------------ life cycle

    async def start(self) -> None:
        """Check dependencies once, then start the health loop and the queue worker."""
        self.started_at = time.monotonic()
        await self.check_health()
        self.rolling.tick()
        self._tasks.append(asyncio.create_task(self._health_loop(), name="health"))
        if self.settings.worker_enabled:
            self._tasks.append(
                asyncio.create_task(self.queues.run_worker(self._stop), name="queue-worker")
            )

    async def close(self) -> None:
        """Stop the worker (it finishes its current message, bounded), then close the pools."""
        self._stop.set()
        if self._tasks:
            _, pending = await asyncio.wait(
                self._tasks, timeout=self.settings.queue_poll_seconds + 5.0
            )
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
            self._tasks.clear()
        await self.db.close()
        await self.cache.close()

    @property
    def uptime_seconds(self) -> float:
        return time.monotonic() - self.started_at
