"""`GET /api/backend/error/{kind}`: the seed's open fault triggers, via FaultService.TriggerFault.

`timeout` holds the call for 10 s on the backend, so it runs under the longer trigger deadline.
"""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import Response

from mockinfra.frontend import convert
from mockinfra.frontend.api.routes.common import GATEWAY_PREFIX, error_responses
from mockinfra.frontend.client import TriggerName
from mockinfra.frontend.deps import BackendDep
from mockinfra.frontend.responses import gateway_json
from mockinfra.frontend.schemas import FaultTriggered

router = APIRouter(prefix=GATEWAY_PREFIX, tags=["backend"], responses=error_responses())


@router.get("/error/{kind}", response_model=FaultTriggered)
async def trigger_backend_fault(backend: BackendDep, kind: TriggerName) -> Response:
    reply = await backend.trigger_fault(kind=kind)
    return gateway_json(reply, convert.triggered(reply.message))
