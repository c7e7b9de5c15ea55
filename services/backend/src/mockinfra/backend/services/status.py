"""StatusService: the seed's `/api/backend/status`, answered by this instance."""

from __future__ import annotations

import asyncio

from mockinfra.backend.app import PING_TIMEOUT_SECONDS, Backend
from mockinfra.backend.services._rpc import Ctx, rpc
from mockinfra.v1 import backend_pb2, backend_pb2_grpc


class StatusServicer(backend_pb2_grpc.StatusServiceServicer):
    def __init__(self, backend: Backend) -> None:
        self.backend = backend

    @rpc
    async def GetStatus(
        self, request: backend_pb2.GetStatusRequest, context: Ctx
    ) -> backend_pb2.StatusResponse:
        b = self.backend
        db_ms, cache_ms = await asyncio.gather(b.ping_database(), b.ping_cache())
        memory = 0
        if cache_ms is not None:
            try:
                async with asyncio.timeout(PING_TIMEOUT_SECONDS):
                    memory = await b.cache.memory_usage()
            except Exception:  # memory is informative only; the ping decided the status
                memory = 0
        rates = b.rolling.rates()
        healthy = db_ms is not None and cache_ms is not None
        return backend_pb2.StatusResponse(
            status="healthy" if healthy else "degraded",
            instance=b.instance,
            version=b.version,
            uptime_seconds=b.uptime_seconds,
            database=backend_pb2.DatabaseStatus(
                status="connected" if db_ms is not None else "disconnected",
                latency_ms=db_ms or 0.0,
                pool_size=b.db.pool_size,
                active_connections=b.db.checked_out,
            ),
            cache=backend_pb2.CacheStatus(
                status="connected" if cache_ms is not None else "disconnected",
                latency_ms=cache_ms or 0.0,
                memory_usage=memory,
            ),
            metrics=backend_pb2.InstanceMetrics(
                requests_per_minute=rates.requests_per_minute,
                error_rate=rates.error_rate,
                average_response_time_ms=rates.average_response_time_ms,
            ),
        )
