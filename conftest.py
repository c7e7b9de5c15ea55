"""Real-server fixtures shared by every member's tests.

`postgres_server` and `valkey_server` are real processes on free ports (session-scoped,
started on first use, stopped by pid at the end). `backend_server` starts backend instances
in-process on a free port (grpc.aio), with per-test error rate, latency and fault seed, so the
frontend's tests can run against the real thing too.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

import grpc
import pytest

from mockinfra.stack import servers


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[servers.PostgresInfo]:
    """A schema-applied PostgreSQL: `.app_dsn` (least-privilege role), `.admin_dsn`, `.port`."""
    with servers.running_postgres() as info:
        yield info


@pytest.fixture(scope="session")
def valkey_server() -> Iterator[str]:
    """The URL (`redis://127.0.0.1:N/0`) of a Valkey/Redis shared by the session."""
    with servers.running_valkey() as server:
        yield server.url


@pytest.fixture
def own_valkey() -> Iterator[servers.ValkeyServer]:
    """A Valkey of the test's own, which it may stop and start (same port) or fill freely."""
    with servers.running_valkey() as server:
        yield server


@dataclass(slots=True)
class RunningBackend:
    """An in-process backend: `target` for channels, `channel` ready to use, `server` to stop."""

    target: str
    channel: grpc.aio.Channel
    server: Any  # mockinfra.backend.server.BackendServer

    @property
    def backend(self) -> Any:  # mockinfra.backend.app.Backend
        return self.server.backend


class BackendFactory(Protocol):
    def __call__(
        self,
        *,
        error_rate: float = 0.0,
        latency_mean_ms: float = 0.0,
        latency_p95_ms: float = 0.0,
        seed: int | None = 1,
        instance: str = "backend-test",
        **overrides: Any,
    ) -> Awaitable[RunningBackend]: ...


@pytest.fixture
async def backend_server(
    postgres_server: servers.PostgresInfo, valkey_server: str
) -> AsyncIterator[BackendFactory]:
    """Factory: `await backend_server(error_rate=0.15, seed=7)` starts one more instance.

    Any `BackendSettings` field can be overridden (e.g. `cache_url=`, `worker_enabled=False`);
    every instance started is stopped when the test ends.
    """
    from mockinfra.backend.config import BackendSettings
    from mockinfra.backend.server import start
    from mockinfra.common.runtime import Runtime

    started: list[RunningBackend] = []

    async def factory(
        *,
        error_rate: float = 0.0,
        latency_mean_ms: float = 0.0,
        latency_p95_ms: float = 0.0,
        seed: int | None = 1,
        instance: str = "backend-test",
        **overrides: Any,
    ) -> RunningBackend:
        settings = BackendSettings(
            **{
                "instance": instance,
                "port": 0,
                "metrics_port": None,
                "error_rate": error_rate,
                "latency_mean_ms": latency_mean_ms,
                "latency_p95_ms": latency_p95_ms,
                "fault_seed": seed,
                "database_url": postgres_server.app_dsn,
                "cache_url": valkey_server,
                "queue_retry_backoff_seconds": 0.05,
                "queue_poll_seconds": 0.1,
                "health_interval_seconds": 0.5,
                "drain_seconds": 2.0,
                **overrides,
            }
        )
        rt = Runtime.create(settings, configure_log=False)
        server = await start(settings, rt=rt, metrics=False)
        running = RunningBackend(server.target, grpc.aio.insecure_channel(server.target), server)
        started.append(running)
        return running

    yield factory
    for running in reversed(started):
        await running.channel.close(grace=None)
        await running.server.stop(grace=1.0)
