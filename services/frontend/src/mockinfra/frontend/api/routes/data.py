"""`/api/backend/data`: the mock_data CRUD, translated to DataService calls.

Handlers return the hand-converted dict in a `Response` (skipping FastAPI's response-model
validation on the hot path); `response_model` still documents the shape.
"""

from __future__ import annotations

from typing import Annotated, Final

from fastapi import APIRouter, Path, Query, Request
from starlette.responses import Response

from mockinfra.frontend import convert
from mockinfra.frontend.api.routes.common import GATEWAY_PREFIX, error_responses
from mockinfra.frontend.deps import BackendDep, backend_of
from mockinfra.frontend.responses import gateway_json
from mockinfra.frontend.schemas import DataCreate, DataDeleted, DataItem, DataList, DataUpdate

INT32_MAX: Final = 2**31 - 1
INT64_MAX: Final = 2**63 - 1

router = APIRouter(
    prefix=f"{GATEWAY_PREFIX}/data", tags=["backend"], responses=error_responses(404)
)

Limit = Annotated[int, Query(ge=1, le=1000, description="items per page")]
Offset = Annotated[int, Query(ge=0, le=INT32_MAX)]
NoCache = Annotated[bool, Query(description="bypass the read-through cache")]
ItemId = Annotated[int, Path(alias="id", ge=1, le=INT64_MAX)]


@router.get("", response_model=DataList)
async def list_data(
    request: Request, limit: Limit = 100, offset: Offset = 0, nocache: NoCache = False
) -> Response:
    # The hot path takes the client from the request rather than through `BackendDep`: a
    # sub-dependency is a second dependency solve per request (3% of the frontend's CPU).
    backend = backend_of(request)
    reply = await backend.list_data(limit=limit, offset=offset, nocache=nocache)
    return gateway_json(reply, convert.data_list(reply.message))


@router.post("", response_model=DataItem, status_code=201)
async def create_data(backend: BackendDep, body: DataCreate) -> Response:
    reply = await backend.create_data(name=body.name, value=body.value, metadata=body.metadata)
    return gateway_json(reply, convert.data_item(reply.message), status_code=201)


@router.get("/{id}", response_model=DataItem)
async def get_data(backend: BackendDep, item_id: ItemId) -> Response:
    reply = await backend.get_data(item_id=item_id)
    return gateway_json(reply, convert.data_item(reply.message))


@router.put("/{id}", response_model=DataItem)
async def update_data(backend: BackendDep, item_id: ItemId, body: DataUpdate) -> Response:
    reply = await backend.update_data(
        item_id=item_id,
        name=body.name,
        value=body.value,
        status=body.status,
        metadata=body.metadata,
    )
    return gateway_json(reply, convert.data_item(reply.message))


@router.delete("/{id}", response_model=DataDeleted)
async def delete_data(backend: BackendDep, item_id: ItemId) -> Response:
    reply = await backend.delete_data(item_id=item_id)
    return gateway_json(reply, convert.deleted(reply.message))
