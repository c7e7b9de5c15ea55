"""Rows to protobuf messages, and the checks shared by the servicers."""

from __future__ import annotations

import math
from datetime import datetime
from decimal import Decimal
from typing import Any, Final

import orjson
from google.protobuf import json_format, struct_pb2
from sqlalchemy.engine import RowMapping

from mockinfra.backend.services._rpc import require
from mockinfra.v1 import backend_pb2

MAX_NAME: Final = 255
MAX_VALUE: Final = Decimal("99999999.99")  # numeric(10,2)
MAX_STRUCT_BYTES: Final = 64 * 1024
STATUSES: Final = frozenset({"active", "inactive", "pending", "archived"})


def _json(value: Any) -> Any:
    return orjson.loads(value) if isinstance(value, str | bytes) else value


def data_item(row: RowMapping) -> backend_pb2.DataItem:
    item = backend_pb2.DataItem(
        id=row["id"], name=row["name"], value=float(row["value"]), status=row["status"]
    )
    metadata = _json(row["metadata"])
    item.metadata.update(metadata if isinstance(metadata, dict) else {"value": metadata})
    _stamp(item.created_at, row["created_at"])
    _stamp(item.updated_at, row["updated_at"])
    return item


def user(row: RowMapping) -> backend_pb2.User:
    message = backend_pb2.User(id=row["id"], username=row["username"], email=row["email"])
    _stamp(message.created_at, row["created_at"])
    _stamp(message.last_login, row["last_login"])
    return message


def _stamp(target: Any, value: datetime | None) -> None:
    if value is not None:
        target.FromDatetime(value)


def check_name(name: str) -> str:
    require(bool(name.strip()), "name: must not be empty")
    require(len(name) <= MAX_NAME, f"name: at most {MAX_NAME} characters, got {len(name)}")
    require("\x00" not in name, "name: must not contain NUL characters")
    return name


def check_value(value: float) -> Decimal:
    require(math.isfinite(value), "value: must be a finite number")
    rounded = Decimal(f"{value:.2f}")
    require(abs(rounded) <= MAX_VALUE, f"value: must lie within ±{MAX_VALUE}")
    return rounded


def check_status(status: str) -> str:
    require(status in STATUSES, f"status: must be one of {', '.join(sorted(STATUSES))}")
    return status


def struct_json(struct: struct_pb2.Struct, field: str) -> str:
    """A Struct as JSON text for a jsonb parameter, size-limited and free of NUL characters."""
    require(struct.ByteSize() <= MAX_STRUCT_BYTES, f"{field}: at most {MAX_STRUCT_BYTES} bytes")
    text = orjson.dumps(json_format.MessageToDict(struct)).decode()
    require("\\u0000" not in text, f"{field}: must not contain NUL characters")
    return text


def struct_dict(struct: struct_pb2.Struct, field: str) -> dict[str, Any]:
    require(struct.ByteSize() <= MAX_STRUCT_BYTES, f"{field}: at most {MAX_STRUCT_BYTES} bytes")
    result: dict[str, Any] = json_format.MessageToDict(struct)
    return result
