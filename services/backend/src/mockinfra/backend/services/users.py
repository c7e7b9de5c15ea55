"""UserService: paginated listing of `users`."""

from __future__ import annotations

from typing import Final

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from mockinfra.backend.app import Backend
from mockinfra.backend.services import convert
from mockinfra.backend.services._rpc import Ctx, require, rpc
from mockinfra.v1 import backend_pb2, backend_pb2_grpc

DEFAULT_LIMIT: Final = 20
MAX_LIMIT: Final = 100
MAX_PAGE: Final = 1_000_000
_LIST = text(
    "SELECT id, username, email, created_at, last_login FROM users "
    "ORDER BY id LIMIT :limit OFFSET :offset"
)
_COUNT = text("SELECT count(*) FROM users")


class UserServicer(backend_pb2_grpc.UserServiceServicer):
    def __init__(self, backend: Backend) -> None:
        self.backend = backend

    @rpc
    async def ListUsers(
        self, request: backend_pb2.ListUsersRequest, context: Ctx
    ) -> backend_pb2.ListUsersResponse:
        page = request.page or 1
        limit = request.limit or DEFAULT_LIMIT
        require(1 <= page <= MAX_PAGE, f"page: must lie within 1..{MAX_PAGE}, got {page}")
        require(1 <= limit <= MAX_LIMIT, f"limit: must lie within 1..{MAX_LIMIT}, got {limit}")

        async def fetch(conn: AsyncConnection) -> backend_pb2.ListUsersResponse:
            total = (await conn.execute(_COUNT)).scalar_one()
            rows = await conn.execute(_LIST, {"limit": limit, "offset": (page - 1) * limit})
            return backend_pb2.ListUsersResponse(
                users=[convert.user(r) for r in rows.mappings()],
                total=total,
                page=page,
                limit=limit,
            )

        return await self.backend.db.run("list_users", fetch)
