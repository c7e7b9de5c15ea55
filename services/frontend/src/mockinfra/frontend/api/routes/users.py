"""`GET /api/backend/users`: UserService.ListUsers with the seed's pagination."""

from __future__ import annotations

from typing import Annotated, Final

from fastapi import APIRouter, Query
from starlette.responses import Response

from mockinfra.frontend import convert
from mockinfra.frontend.api.routes.common import GATEWAY_PREFIX, error_responses
from mockinfra.frontend.deps import BackendDep
from mockinfra.frontend.responses import gateway_json
from mockinfra.frontend.schemas import UserList

MAX_PAGE: Final = 1_000_000

router = APIRouter(prefix=GATEWAY_PREFIX, tags=["backend"], responses=error_responses())

Page = Annotated[int, Query(ge=1, le=MAX_PAGE, description="1-based page number")]
PageLimit = Annotated[int, Query(ge=1, le=100, description="users per page")]


@router.get("/users", response_model=UserList)
async def list_users(backend: BackendDep, page: Page = 1, limit: PageLimit = 20) -> Response:
    reply = await backend.list_users(page=page, limit=limit)
    return gateway_json(reply, convert.user_list(reply.message))
