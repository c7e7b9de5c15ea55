"""Protobuf messages to JSON-ready dicts, written by hand for the hot path.

`json_format.MessageToDict` walks descriptors on every call (about 20 us for a small Struct); these
converters read the fields directly. Field names follow the seed's JSON contract.
"""

from __future__ import annotations

import functools
from collections import OrderedDict
from typing import Any, Final

from google.protobuf import struct_pb2, timestamp_pb2

from mockinfra.v1 import backend_pb2, faults_pb2

_MAX_EXACT_INT = 2**53  # integral floats below this print as JSON integers


def _value(value: Any) -> Any:
    if isinstance(value, float):
        return int(value) if value.is_integer() and abs(value) < _MAX_EXACT_INT else value
    if isinstance(value, struct_pb2.Struct):
        return struct(value)
    if isinstance(value, struct_pb2.ListValue):
        return [_value(v) for v in value]
    return value


def struct(value: struct_pb2.Struct) -> dict[str, Any]:
    """A `Struct` as a plain dict (numbers that are whole print as integers)."""
    return {key: _value(v) for key, v in value.items()}


@functools.lru_cache(maxsize=16_384)
def _rfc3339(seconds: int, nanos: int) -> str:
    # `ToJsonString` is pure Python (datetime arithmetic, about 8 us): it was a quarter of the
    # frontend's CPU on a 100-item listing (docs/performance.md). Listings repeat the same rows,
    # so memoising on the two integers keeps the exact output at a dict lookup's cost.
    return timestamp_pb2.Timestamp(seconds=seconds, nanos=nanos).ToJsonString()


def timestamp(value: timestamp_pb2.Timestamp) -> str:
    return _rfc3339(value.seconds, value.nanos)


def data_item(item: backend_pb2.DataItem) -> dict[str, Any]:
    return {
        "id": item.id,
        "name": item.name,
        "value": item.value,
        "status": item.status,
        "metadata": struct(item.metadata) if item.HasField("metadata") else {},
        "created_at": timestamp(item.created_at) if item.HasField("created_at") else None,
        "updated_at": timestamp(item.updated_at) if item.HasField("updated_at") else None,
    }


# Converted listings by their wire bytes. The cached read path returns the same listing request
# after request, and converting 100 items was half of the frontend's CPU (docs/performance.md);
# the client hands over the wire bytes, so a hit needs neither a parse nor a re-serialisation.
_LISTINGS: Final[OrderedDict[bytes, dict[str, Any]]] = OrderedDict()
_LISTINGS_MAX: Final = 32


def _data_list(reply: backend_pb2.ListDataResponse) -> dict[str, Any]:
    return {
        "data": [data_item(item) for item in reply.items],
        "total": reply.total,
        "limit": reply.limit,
        "offset": reply.offset,
        "source": reply.source,
    }


def data_list(raw: bytes) -> dict[str, Any]:
    """A serialised listing as a dict; the items are shared between calls, not to be modified.

    Parsed only when these bytes were not converted recently: the same cached listing comes
    back byte for byte, so most requests are one dictionary lookup.
    """
    converted = _LISTINGS.get(raw)
    if converted is None:
        reply = backend_pb2.ListDataResponse.FromString(raw)
        converted = _LISTINGS[raw] = _data_list(reply)
        if len(_LISTINGS) > _LISTINGS_MAX:
            _LISTINGS.popitem(last=False)
    else:
        _LISTINGS.move_to_end(raw)
    return {**converted}  # a new top level: callers add keys (the views add "backend")


def user(item: backend_pb2.User, *, with_email: bool = True) -> dict[str, Any]:
    out: dict[str, Any] = {"id": item.id, "username": item.username}
    if with_email:
        out["email"] = item.email
    out["created_at"] = timestamp(item.created_at) if item.HasField("created_at") else None
    out["last_login"] = timestamp(item.last_login) if item.HasField("last_login") else None
    return out


def user_list(reply: backend_pb2.ListUsersResponse, *, with_email: bool = True) -> dict[str, Any]:
    return {
        "users": [user(u, with_email=with_email) for u in reply.users],
        "total": reply.total,
        "page": reply.page,
        "limit": reply.limit,
    }


def status(reply: backend_pb2.StatusResponse) -> dict[str, Any]:
    db, cache, metrics = reply.database, reply.cache, reply.metrics
    return {
        "status": reply.status,
        "instance": reply.instance,
        "version": reply.version,
        "uptime": reply.uptime_seconds,
        "connections": {
            "database": {
                "status": db.status,
                "latency": db.latency_ms,
                "pool_size": db.pool_size,
                "active_connections": db.active_connections,
            },
            "cache": {
                "status": cache.status,
                "latency": cache.latency_ms,
                "memory_usage": cache.memory_usage,
            },
        },
        "metrics": {
            "requests_per_minute": metrics.requests_per_minute,
            "error_rate": metrics.error_rate,
            "average_response_time": metrics.average_response_time_ms,
        },
    }


def enqueued(reply: backend_pb2.EnqueueResponse) -> dict[str, Any]:
    return {"id": reply.id, "queue": reply.queue, "queue_size": reply.queue_size}


def queue_stats(reply: backend_pb2.QueueStats) -> dict[str, Any]:
    return {
        "sizes": dict(reply.sizes),
        "processed": reply.processed,
        "retried": reply.retried,
        "dead_lettered": reply.dead_lettered,
    }


def deleted(reply: backend_pb2.DeleteDataResponse) -> dict[str, Any]:
    return {"id": reply.id, "deleted": reply.deleted}


def triggered(reply: faults_pb2.TriggerFaultResponse) -> dict[str, Any]:
    return {"message": reply.message, "instance": reply.instance}
