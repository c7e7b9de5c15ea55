"""`GET /health`: the frontend is up; `backend` says whether its gRPC channel is ready.

Always 200 while the process serves: a backend outage is the backends' health, not the
frontend's, and nginx must keep routing pages that can still render it.
"""

from __future__ import annotations

import time
from importlib.metadata import version
from typing import Final

import grpc
from fastapi import APIRouter
from starlette.responses import Response

from mockinfra.frontend.deps import BackendDep, SettingsDep
from mockinfra.frontend.responses import JSONResponse
from mockinfra.frontend.schemas import Health

VERSION: Final = version("mockinfra-frontend")
STARTED: Final = time.monotonic()

router = APIRouter(tags=["frontend"])


@router.get("/health", response_model=Health)
async def health(backend: BackendDep, settings: SettingsDep) -> Response:
    state = backend.channel_state()
    ready = state is grpc.ChannelConnectivity.READY
    return JSONResponse(
        {
            "status": "healthy" if ready else "degraded",
            "service": settings.service,
            "instance": settings.instance,
            "version": VERSION,
            "uptime": round(time.monotonic() - STARTED, 3),
            "backend": {
                "target": settings.backend_target,
                "state": state.name.lower(),
                "ready": ready,
            },
        }
    )
