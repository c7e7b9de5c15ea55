"""Request and response schemas of the HTTP API (request bodies are validated strictly).

Response models document the contract in the OpenAPI document; the gateway's hot path returns
the hand-converted dicts from `convert` directly, which have exactly these shapes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

# numeric(10,2): eight digits before the point.
_VALUE_BOUND = 1e8


class _Request(BaseModel):
    # Wrong types are refused rather than coerced ("12" is not a number), unknown fields too.
    model_config = ConfigDict(strict=True, extra="forbid")


class DataCreate(_Request):
    name: str = Field(min_length=1, max_length=255)
    value: float = Field(gt=-_VALUE_BOUND, lt=_VALUE_BOUND, allow_inf_nan=False)
    metadata: dict[str, Any] = Field(default_factory=dict)


class DataUpdate(_Request):
    name: str | None = Field(default=None, min_length=1, max_length=255)
    value: float | None = Field(
        default=None, gt=-_VALUE_BOUND, lt=_VALUE_BOUND, allow_inf_nan=False
    )
    status: str | None = Field(default=None, min_length=1, max_length=32)
    metadata: dict[str, Any] | None = None


class QueueMessageCreate(_Request):
    type: str = Field(min_length=1, max_length=64)
    payload: dict[str, Any] = Field(default_factory=dict)
    priority: Literal["high", "medium", "low"] = "medium"


class DataItem(BaseModel):
    id: int
    name: str
    value: float
    status: str
    metadata: dict[str, Any]
    created_at: datetime | None
    updated_at: datetime | None


class DataList(BaseModel):
    data: list[DataItem]
    total: int
    limit: int
    offset: int
    source: str = Field(description='"cache" or "database"')


class DataDeleted(BaseModel):
    id: int
    deleted: bool


class User(BaseModel):
    id: int
    username: str
    email: str | None = None
    created_at: datetime | None
    last_login: datetime | None


class UserList(BaseModel):
    users: list[User]
    total: int
    page: int
    limit: int


class DatabaseStatus(BaseModel):
    status: str
    latency: float = Field(description="milliseconds")
    pool_size: int
    active_connections: int


class CacheStatus(BaseModel):
    status: str
    latency: float = Field(description="milliseconds")
    memory_usage: int = Field(description="bytes")


class Connections(BaseModel):
    database: DatabaseStatus
    cache: CacheStatus


class InstanceMetrics(BaseModel):
    requests_per_minute: float
    error_rate: float
    average_response_time: float = Field(description="milliseconds")


class BackendStatus(BaseModel):
    status: str
    instance: str
    version: str
    uptime: float = Field(description="seconds")
    connections: Connections
    metrics: InstanceMetrics


class QueueMessageAccepted(BaseModel):
    id: str
    queue: str
    queue_size: int


class QueueStats(BaseModel):
    sizes: dict[str, int]
    processed: int
    retried: int
    dead_lettered: int


class FaultTriggered(BaseModel):
    message: str
    instance: str


class DataView(DataList):
    backend: str | None = Field(description="the backend instance that answered")


class UsersView(UserList):
    backend: str | None = Field(description="the backend instance that answered")


class BackendChannel(BaseModel):
    target: str
    state: str
    ready: bool


class Health(BaseModel):
    status: Literal["healthy", "degraded"]
    service: str
    instance: str
    version: str
    uptime: float = Field(description="seconds")
    backend: BackendChannel


class ErrorDetail(BaseModel):
    code: str
    message: str
    details: Any = None
    timestamp: datetime
    request_id: str | None


class ErrorBody(BaseModel):
    error: ErrorDetail
