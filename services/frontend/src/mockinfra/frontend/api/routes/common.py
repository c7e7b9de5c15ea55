"""What the gateway routers share: their prefix and the error responses they document."""

from __future__ import annotations

from typing import Any, Final

from mockinfra.frontend.schemas import ErrorBody

GATEWAY_PREFIX: Final = "/api/backend"

_ERRORS: Final = {
    400: "The backend refused the request (INVALID_ARGUMENT).",
    422: "The request failed validation.",
    502: "The backend failed (any other gRPC status, e.g. an injected INTERNAL error).",
    503: "No backend available, or an injected error (UNAVAILABLE).",
    504: "The backend did not answer within the deadline (DEADLINE_EXCEEDED).",
}


def error_responses(*extra: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the JSON error body under the common statuses and `extra` ones."""
    codes = sorted({*_ERRORS, *extra})
    return {
        code: {"model": ErrorBody, "description": _ERRORS.get(code, "See the error body.")}
        for code in codes
    }
