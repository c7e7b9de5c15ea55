"""`GET /api/backend/status`: the answering backend instance's health and counters."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import Response

from mockinfra.frontend import convert
from mockinfra.frontend.api.routes.common import GATEWAY_PREFIX, error_responses
from mockinfra.frontend.deps import BackendDep
from mockinfra.frontend.responses import gateway_json
from mockinfra.frontend.schemas import BackendStatus

router = APIRouter(prefix=GATEWAY_PREFIX, tags=["backend"], responses=error_responses())


@router.get("/status", response_model=BackendStatus)
async def get_backend_status(backend: BackendDep) -> Response:
    reply = await backend.status()
    return gateway_json(reply, convert.status(reply.message))
