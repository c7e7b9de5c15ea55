"""QueueService: enqueue onto the priority queues, and queue statistics."""

from __future__ import annotations

from typing import Final

from mockinfra.backend.app import Backend
from mockinfra.backend.cache import CacheUnavailable
from mockinfra.backend.queues import HIGH, LOW, MEDIUM
from mockinfra.backend.services import convert
from mockinfra.backend.services._rpc import Ctx, require, rpc
from mockinfra.v1 import backend_pb2, backend_pb2_grpc

MAX_TYPE: Final = 64
QUEUE_FOR: Final = {
    backend_pb2.PRIORITY_UNSPECIFIED: MEDIUM,
    backend_pb2.PRIORITY_HIGH: HIGH,
    backend_pb2.PRIORITY_MEDIUM: MEDIUM,
    backend_pb2.PRIORITY_LOW: LOW,
}


class QueueServicer(backend_pb2_grpc.QueueServiceServicer):
    def __init__(self, backend: Backend) -> None:
        self.backend = backend

    @rpc
    async def Enqueue(
        self, request: backend_pb2.EnqueueRequest, context: Ctx
    ) -> backend_pb2.EnqueueResponse:
        type_ = request.type
        require(bool(type_.strip()) and len(type_) <= MAX_TYPE, "type: 1..64 characters")
        queue = QUEUE_FOR.get(request.priority)
        require(queue is not None, f"priority: unknown value {request.priority}")
        assert queue is not None
        payload = convert.struct_dict(request.payload, "payload")
        try:
            message_id, size = await self.backend.queues.enqueue(queue, type_, payload)
        except OSError as exc:
            raise CacheUnavailable(str(exc)) from exc
        return backend_pb2.EnqueueResponse(id=message_id, queue=queue, queue_size=size)

    @rpc
    async def GetQueueStats(
        self, request: backend_pb2.GetQueueStatsRequest, context: Ctx
    ) -> backend_pb2.QueueStats:
        queues = self.backend.queues
        sizes = await queues.sizes()
        stats = queues.stats
        return backend_pb2.QueueStats(
            sizes=sizes,
            processed=stats.processed,
            retried=stats.retried,
            dead_lettered=stats.dead_lettered,
        )
