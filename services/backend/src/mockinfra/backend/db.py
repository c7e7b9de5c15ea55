"""PostgreSQL access: one async SQLAlchemy engine (asyncpg), timed, retried, self-healing.

The pool (10 connections, 5 s checkout timeout) pings connections before handing them out, so
after a database restart the stale ones are replaced on first use; a query that still fails on a
connection error is retried 3 times with exponential backoff, then reported as
`DatabaseUnavailable`, which the servicers turn into UNAVAILABLE.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any, Final, TypeVar

from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from tenacity import (
    AsyncRetrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential,
)

from mockinfra.common.faults import FaultInjector
from mockinfra.common.metrics import Metrics

T = TypeVar("T")
POOL: Final = "database"


class DatabaseUnavailable(Exception):
    """The database could not be reached (after retries) or its pool is exhausted."""


def asyncpg_url(url: str) -> str:
    """`postgresql://...` (libpq form, as the stack hands it out) to SQLAlchemy's asyncpg form."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres", "postgresql+psycopg"):
        parsed = parsed.set(drivername="postgresql+asyncpg")
    return parsed.render_as_string(hide_password=False)


def is_connection_error(exc: BaseException) -> bool:
    """Errors worth a retry: the connection, not the query, failed."""
    if isinstance(exc, PoolTimeoutError):
        return False  # the pool is exhausted; retrying only queues more waiters
    if isinstance(exc, (OSError, ConnectionError, TimeoutError)):
        return True
    if isinstance(exc, DBAPIError):
        if exc.connection_invalidated:
            return True
        orig = type(exc.orig).__name__ if exc.orig is not None else ""
        return isinstance(exc, (OperationalError, InterfaceError)) and orig != "QueryCanceledError"
    return False


class Database:
    """The engine plus the bookkeeping every query goes through (`run`)."""

    def __init__(
        self,
        url: str,
        *,
        metrics: Metrics,
        faults: FaultInjector,
        pool_size: int = 10,
        pool_timeout: float = 5.0,
        retries: int = 3,
    ) -> None:
        self.metrics = metrics
        self.faults = faults
        self.pool_size = pool_size
        self.retries = retries
        self.engine: AsyncEngine = create_async_engine(
            asyncpg_url(url),
            pool_size=pool_size,
            max_overflow=0,
            pool_timeout=pool_timeout,
            pool_pre_ping=True,
            pool_recycle=1800,
            connect_args={"timeout": pool_timeout, "command_timeout": 60},
        )
        self._active = metrics.labels_for(metrics.active_connections, pool=POOL)
        self._active.set(0)
        metrics.labels_for(metrics.pool_size, pool=POOL).set(pool_size)
        self.checked_out = 0
        pool = self.engine.sync_engine.pool
        event.listen(pool, "checkout", self._on_checkout)
        event.listen(pool, "checkin", self._on_checkin)

    def _on_checkout(self, *_: Any) -> None:
        self.checked_out += 1
        self._active.set(self.checked_out)

    def _on_checkin(self, *_: Any) -> None:
        self.checked_out = max(0, self.checked_out - 1)
        self._active.set(self.checked_out)

    async def run(self, operation: str, work: Callable[[AsyncConnection], Awaitable[T]]) -> T:
        """Run `work` in a transaction, timed as `db_query_duration_seconds{operation}`.

        Raises `DependencyFault` while a `db_failure` fault is set, `DatabaseUnavailable` when
        the database cannot be reached; query errors (constraint violations...) pass through.
        """
        self.faults.check_dependency("database")
        start = time.perf_counter()
        try:
            async for attempt in AsyncRetrying(
                retry=retry_if_exception(is_connection_error),
                stop=stop_after_attempt(self.retries),
                wait=wait_exponential(multiplier=0.1, max=2.0),
                reraise=True,
            ):
                with attempt:
                    async with self.engine.begin() as conn:
                        return await work(conn)
        except PoolTimeoutError as exc:
            self.metrics.child(self.metrics.db_errors_total, operation).inc()
            raise DatabaseUnavailable(
                f"database connection pool exhausted ({self.pool_size} connections busy)"
            ) from exc
        except Exception as exc:
            self.metrics.child(self.metrics.db_errors_total, operation).inc()
            if is_connection_error(exc):
                raise DatabaseUnavailable(
                    f"database unreachable after {self.retries} attempts: {type(exc).__name__}"
                ) from exc
            raise
        finally:
            self.metrics.observe_db(operation, time.perf_counter() - start)
        raise AssertionError("unreachable: AsyncRetrying returns or raises")

    async def ping(self) -> float:
        """Round trip of `SELECT 1` in milliseconds, without retries (health checks)."""
        start = time.perf_counter()
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        return (time.perf_counter() - start) * 1000.0

    async def close(self) -> None:
        await self.engine.dispose()
