"""The seed's frontend JSON API, `/api/data` and `/api/users`: frontend-owned views fed by the
backends (a smaller default page, the answering instance in the body, no emails in user lists).

These are frontend routes: the frontend's own random errors and latency apply to them, on top of
whatever the backend call injects.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from starlette.responses import Response

from mockinfra.frontend import convert
from mockinfra.frontend.api.routes.common import error_responses
from mockinfra.frontend.api.routes.data import Offset
from mockinfra.frontend.api.routes.users import Page
from mockinfra.frontend.deps import BackendDep
from mockinfra.frontend.responses import gateway_json
from mockinfra.frontend.schemas import DataView, UsersView

router = APIRouter(prefix="/api", tags=["frontend"], responses=error_responses())

ViewLimit = Annotated[int, Query(ge=1, le=100)]


@router.get("/data", response_model=DataView)
async def data_view(backend: BackendDep, limit: ViewLimit = 20, offset: Offset = 0) -> Response:
    reply = await backend.list_data(limit=limit, offset=offset)
    body = convert.data_list(reply.message)
    body["backend"] = reply.instance
    return gateway_json(reply, body)


@router.get("/users", response_model=UsersView)
async def users_view(backend: BackendDep, page: Page = 1, limit: ViewLimit = 20) -> Response:
    reply = await backend.list_users(page=page, limit=limit)
    body = convert.user_list(reply.message, with_email=False)
    body["backend"] = reply.instance
    return gateway_json(reply, body)
