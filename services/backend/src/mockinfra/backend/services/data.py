"""DataService: CRUD over `mock_data`, with the read-through listing cache."""

from __future__ import annotations

import logging
from typing import Final, cast

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from mockinfra.backend.app import Backend
from mockinfra.backend.cache import CacheUnavailable
from mockinfra.backend.queues import LOW
from mockinfra.backend.services import convert
from mockinfra.backend.services._rpc import Ctx, InvalidArgument, NotFound, require, rpc
from mockinfra.common.faults import InjectedFault
from mockinfra.v1 import backend_pb2, backend_pb2_grpc

log = logging.getLogger("mockinfra.backend.data")

DEFAULT_LIMIT: Final = 100
MAX_LIMIT: Final = 1000
_COLUMNS: Final = "id, name, value, status, metadata, created_at, updated_at"
_LIST = text(f"SELECT {_COLUMNS} FROM mock_data ORDER BY id LIMIT :limit OFFSET :offset")
_COUNT = text("SELECT count(*) FROM mock_data")
_GET = text(f"SELECT {_COLUMNS} FROM mock_data WHERE id = :id")
_INSERT = text(
    "INSERT INTO mock_data (name, value, metadata) "
    f"VALUES (:name, :value, CAST(:metadata AS jsonb)) RETURNING {_COLUMNS}"
)
_UPDATE = text(
    "UPDATE mock_data SET name = COALESCE(:name, name), value = COALESCE(:value, value), "
    "status = COALESCE(:status, status), "
    "metadata = COALESCE(CAST(:metadata AS jsonb), metadata), updated_at = now() "
    f"WHERE id = :id RETURNING {_COLUMNS}"
)
_DELETE = text("DELETE FROM mock_data WHERE id = :id RETURNING id")


def _check_id(item_id: int) -> int:
    require(item_id > 0, f"id: must be a positive integer, got {item_id}")
    return item_id


class DataServicer(backend_pb2_grpc.DataServiceServicer):
    def __init__(self, backend: Backend) -> None:
        self.backend = backend

    @rpc
    async def ListData(
        self, request: backend_pb2.ListDataRequest, context: Ctx
    ) -> backend_pb2.ListDataResponse:
        limit = request.limit or DEFAULT_LIMIT
        require(1 <= limit <= MAX_LIMIT, f"limit: must lie within 1..{MAX_LIMIT}, got {limit}")
        offset = request.offset
        require(offset >= 0, f"offset: must not be negative, got {offset}")
        cache = self.backend.cache
        version: bytes | None = None
        if not request.nocache:
            try:
                version, cached = await cache.get_listing(limit, offset)
            except (CacheUnavailable, InjectedFault) as exc:
                # A broken cache degrades to the database rather than failing the read.
                log.debug("listing cache unavailable: %s", exc)
                cached = None
            if cached is not None:
                # Stored serialised with `source: cache`: a hit is one Valkey round trip and no
                # protobuf work; the common server interceptor sends bytes as they are.
                return cast(backend_pb2.ListDataResponse, cached)

        async def fetch(conn: AsyncConnection) -> backend_pb2.ListDataResponse:
            total = (await conn.execute(_COUNT)).scalar_one()
            rows = await conn.execute(_LIST, {"limit": limit, "offset": offset})
            return backend_pb2.ListDataResponse(
                items=[convert.data_item(r) for r in rows.mappings()],
                total=total,
                limit=limit,
                offset=offset,
            )

        response = await self.backend.db.run("list_data", fetch)
        if version is not None:
            response.source = "cache"
            try:
                await cache.put_listing(version, limit, offset, response.SerializeToString())
            except (CacheUnavailable, InjectedFault) as exc:
                log.debug("listing not cached: %s", exc)
        response.source = "database"
        return response

    @rpc
    async def GetData(
        self, request: backend_pb2.GetDataRequest, context: Ctx
    ) -> backend_pb2.DataItem:
        item_id = _check_id(request.id)

        async def fetch(conn: AsyncConnection) -> backend_pb2.DataItem | None:
            row = (await conn.execute(_GET, {"id": item_id})).mappings().first()
            return None if row is None else convert.data_item(row)

        item = await self.backend.db.run("get_data", fetch)
        if item is None:
            raise NotFound(f"data item {item_id} not found")
        return item

    @rpc
    async def CreateData(
        self, request: backend_pb2.CreateDataRequest, context: Ctx
    ) -> backend_pb2.DataItem:
        params = {
            "name": convert.check_name(request.name),
            "value": convert.check_value(request.value),
            "metadata": convert.struct_json(request.metadata, "metadata"),
        }

        async def insert(conn: AsyncConnection) -> backend_pb2.DataItem:
            row = (await conn.execute(_INSERT, params)).mappings().one()
            return convert.data_item(row)

        item = await self.backend.db.run("insert_data", insert)
        await self._changed("created", item.id)
        try:
            await self.backend.queues.enqueue(LOW, "data.created", {"id": item.id})
        except Exception as exc:  # the write succeeded; a lost follow-up message is logged only
            log.warning("data.created message not enqueued: %s", exc)
        return item

    @rpc
    async def UpdateData(
        self, request: backend_pb2.UpdateDataRequest, context: Ctx
    ) -> backend_pb2.DataItem:
        item_id = _check_id(request.id)
        params = {
            "id": item_id,
            "name": convert.check_name(request.name) if request.HasField("name") else None,
            "value": convert.check_value(request.value) if request.HasField("value") else None,
            "status": convert.check_status(request.status) if request.HasField("status") else None,
            "metadata": (
                convert.struct_json(request.metadata, "metadata")
                if request.HasField("metadata")
                else None
            ),
        }
        if all(params[k] is None for k in ("name", "value", "status", "metadata")):
            raise InvalidArgument("nothing to update: give name, value, status or metadata")

        async def update(conn: AsyncConnection) -> backend_pb2.DataItem | None:
            row = (await conn.execute(_UPDATE, params)).mappings().first()
            return None if row is None else convert.data_item(row)

        item = await self.backend.db.run("update_data", update)
        if item is None:
            raise NotFound(f"data item {item_id} not found")
        await self._changed("updated", item_id)
        return item

    @rpc
    async def DeleteData(
        self, request: backend_pb2.DeleteDataRequest, context: Ctx
    ) -> backend_pb2.DeleteDataResponse:
        item_id = _check_id(request.id)

        async def delete(conn: AsyncConnection) -> int | None:
            deleted: int | None = (await conn.execute(_DELETE, {"id": item_id})).scalar()
            return deleted

        if await self.backend.db.run("delete_data", delete) is None:
            raise NotFound(f"data item {item_id} not found")
        await self._changed("deleted", item_id)
        return backend_pb2.DeleteDataResponse(id=item_id, deleted=True)

    async def _changed(self, event: str, item_id: int) -> None:
        """Invalidate cached listings and publish the event; the write stands either way."""
        try:
            await self.backend.cache.data_changed(event, item_id)
        except (CacheUnavailable, InjectedFault) as exc:
            log.warning("cache not invalidated after %s of %s: %s", event, item_id, exc)
