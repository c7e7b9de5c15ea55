"""`/api/backend/queue`: enqueue a message by priority, read the queue statistics."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import Response

from mockinfra.frontend import convert
from mockinfra.frontend.api.routes.common import GATEWAY_PREFIX, error_responses
from mockinfra.frontend.deps import BackendDep
from mockinfra.frontend.responses import gateway_json
from mockinfra.frontend.schemas import QueueMessageAccepted, QueueMessageCreate, QueueStats

router = APIRouter(prefix=f"{GATEWAY_PREFIX}/queue", tags=["backend"], responses=error_responses())


@router.post("", response_model=QueueMessageAccepted, status_code=202)
async def enqueue_message(backend: BackendDep, body: QueueMessageCreate) -> Response:
    reply = await backend.enqueue(type=body.type, payload=body.payload, priority=body.priority)
    return gateway_json(reply, convert.enqueued(reply.message), status_code=202)


@router.get("/stats", response_model=QueueStats)
async def get_queue_stats(backend: BackendDep) -> Response:
    reply = await backend.queue_stats()
    return gateway_json(reply, convert.queue_stats(reply.message))
