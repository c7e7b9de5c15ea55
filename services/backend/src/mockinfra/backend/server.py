"""Wiring: the backend's servicers on the standard `mockinfra.common` gRPC server.

`start()` gives a running instance (the entry point and the in-process test fixture share it);
`run()` serves until SIGTERM/SIGINT, then drains: health goes NOT_SERVING, in-flight calls get
`drain_seconds` to finish, then the queue worker stops and the pools close.

It uses `grpc_server.start_server` rather than `serve()` because the backend drives the health
service itself (NOT_SERVING while the database or cache is unreachable), which needs the
health servicer that `serve()` keeps to itself.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

import grpc
from grpc_health.v1 import health_pb2

from mockinfra.backend.app import Backend
from mockinfra.backend.config import BackendSettings
from mockinfra.backend.services.data import DataServicer
from mockinfra.backend.services.queue import QueueServicer
from mockinfra.backend.services.status import StatusServicer
from mockinfra.backend.services.users import UserServicer
from mockinfra.common.gc_tuning import tune_gc
from mockinfra.common.grpc_server import RunningServer, run_until_signal, start_server
from mockinfra.common.runtime import Runtime
from mockinfra.v1 import backend_pb2, backend_pb2_grpc

SERVICE_NAMES: Final = tuple(s.full_name for s in backend_pb2.DESCRIPTOR.services_by_name.values())


def _register(backend: Backend) -> Iterable[str]:
    def register(server: grpc.aio.Server) -> Iterable[str]:
        backend_pb2_grpc.add_DataServiceServicer_to_server(DataServicer(backend), server)
        backend_pb2_grpc.add_UserServiceServicer_to_server(UserServicer(backend), server)
        backend_pb2_grpc.add_QueueServiceServicer_to_server(QueueServicer(backend), server)
        backend_pb2_grpc.add_StatusServiceServicer_to_server(StatusServicer(backend), server)
        return SERVICE_NAMES

    return register  # type: ignore[return-value]


@dataclass(slots=True)
class BackendServer:
    """A started backend instance: its gRPC server and its state."""

    running: RunningServer
    backend: Backend

    @property
    def port(self) -> int:
        return self.running.port

    @property
    def target(self) -> str:
        return f"{self.backend.settings.host}:{self.running.port}"

    async def stop(self, grace: float | None = None) -> None:
        """NOT_SERVING, drain in-flight calls, then stop the worker and close the pools."""
        drain = self.backend.settings.drain_seconds if grace is None else grace
        try:
            await self.running.stop(grace=drain)
        finally:
            await self.backend.close()


async def start(
    settings: BackendSettings,
    *,
    rt: Runtime | None = None,
    port: int | None = None,
    metrics: bool = True,
) -> BackendServer:
    """Start the backend's dependencies' clients, worker, health loop and gRPC server."""
    rt = rt or Runtime.create(settings)
    backend = Backend(rt, settings)
    await backend.start()
    running = await start_server(
        rt,
        _register(backend),  # type: ignore[arg-type]
        port=port,
        metrics=metrics,
    )
    health = running.health

    async def set_serving(serving: bool) -> None:
        status = (
            health_pb2.HealthCheckResponse.SERVING
            if serving
            else health_pb2.HealthCheckResponse.NOT_SERVING
        )
        for name in ("", *SERVICE_NAMES):
            await health.set(name, status)

    backend.on_serving = set_serving
    await set_serving(backend.db_ok and backend.cache_ok)
    return BackendServer(running, backend)


async def run(settings: BackendSettings) -> None:
    """Serve until SIGTERM or SIGINT, then drain and stop cleanly (exit status 0)."""
    rt = Runtime.create(settings)
    server = await start(settings, rt=rt)
    tune_gc()
    await run_until_signal(rt, server.stop)
