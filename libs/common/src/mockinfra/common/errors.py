"""The seed's JSON error body, shared by every HTTP service.

`{"error": {"code", "message", "details", "timestamp", "request_id"}}`; the request id is that of
the current request (set by the middleware) unless given.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
from starlette.responses import Response

from mockinfra.common.logging import request_id_var


def error_body(
    code: str,
    message: str,
    details: Any = None,
    *,
    request_id: str | None = None,
) -> dict[str, Any]:
    """The error object as a dict (for tests and non-HTTP uses)."""
    return {
        "error": {
            "code": code,
            "message": message,
            "details": details if details is not None else {},
            "timestamp": datetime.now(UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "request_id": request_id if request_id is not None else request_id_var.get(),
        }
    }


def error_response(
    status: int,
    code: str,
    message: str,
    details: Any = None,
    *,
    headers: dict[str, str] | None = None,
    request_id: str | None = None,
) -> Response:
    """A JSON error response in the seed's shape."""
    return Response(
        orjson.dumps(error_body(code, message, details, request_id=request_id), default=str),
        status_code=status,
        media_type="application/json",
        headers=headers,
    )
