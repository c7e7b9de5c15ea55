"""Every error leaves the frontend as the seed's JSON error body (or the error page for pages).

Bad input is a 4xx, never a 500: request validation (malformed JSON, wrong types, values out of
range) is 422, other HTTP errors keep their status (404, 405, 413), and a failed backend call maps
its gRPC status to HTTP. A backend error the backend marked as injected keeps that mark.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any, Final

import grpc
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import Response

from mockinfra.common.errors import error_response
from mockinfra.frontend.client import BackendError
from mockinfra.frontend.rendering import templates
from mockinfra.frontend.responses import INJECTED_HEADER, INSTANCE_HEADER

HTTP_FOR_GRPC: Final[Mapping[grpc.StatusCode, int]] = {
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.OUT_OF_RANGE: 400,
    grpc.StatusCode.FAILED_PRECONDITION: 400,
    grpc.StatusCode.UNAUTHENTICATED: 401,
    grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.ALREADY_EXISTS: 409,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
    grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.DEADLINE_EXCEEDED: 504,
}
UPSTREAM_ERROR: Final = 502  # every other gRPC status: the backend failed

log = logging.getLogger("mockinfra.frontend.gateway")

# Routes answered with HTML: their errors render the error page instead of JSON.
PAGE_ROUTES: Final = frozenset({"/", "/data", "/users"})
# Error codes are HTTPStatus names, except where the shared library already chose one.
_CODE_FOR_STATUS: Final = {413: "PAYLOAD_TOO_LARGE", 500: "INTERNAL_ERROR"}


def http_status_for(code: grpc.StatusCode) -> int:
    return HTTP_FOR_GRPC.get(code, UPSTREAM_ERROR)


def _route(request: Request) -> str | None:
    route = request.scope.get("route")
    return getattr(route, "path", None)


def _count(request: Request, error_type: str) -> None:
    metrics = request.app.state.runtime.metrics
    metrics.child(metrics.frontend_errors_total, error_type).inc()


def _respond(
    request: Request,
    status: int,
    code: str,
    message: str,
    details: Any = None,
    headers: dict[str, str] | None = None,
) -> Response:
    if _route(request) in PAGE_ROUTES:
        context = {"status": status, "code": code, "message": message}
        return templates.TemplateResponse(
            request, "error.html", context, status_code=status, headers=headers
        )
    return error_response(status, code, message, details, headers=headers)


async def backend_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, BackendError)
    status = http_status_for(exc.code)
    headers: dict[str, str] = {}
    if exc.instance:
        headers[INSTANCE_HEADER] = exc.instance
    if exc.injected:
        headers[INJECTED_HEADER] = exc.injected
    _count(request, f"backend_{exc.code.name.lower()}")
    # Logged inside the request's span: the line carries the trace id the backend logged under.
    log.warning(
        "backend call failed: %s: %s",
        exc.code.name,
        exc.message,
        extra={"grpc_code": exc.code.name, "backend": exc.instance, "backend_fault": exc.injected},
    )
    details = {"grpc_code": exc.code.name, "backend": exc.instance, "injected": exc.injected}
    return _respond(request, status, exc.code.name, exc.message, details, headers)


async def validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    # The offending input is not echoed back: it may be huge or hold secrets.
    errors = [
        {"loc": list(err.get("loc", ())), "msg": err.get("msg", ""), "type": err.get("type", "")}
        for err in exc.errors()
    ]
    malformed = any(err["type"] == "json_invalid" for err in errors)
    code, message = (
        ("INVALID_JSON", "request body is not valid JSON")
        if malformed
        else ("VALIDATION_ERROR", "request failed validation")
    )
    _count(request, "validation")
    return _respond(request, 422, code, message, {"errors": errors})


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    status = exc.status_code
    code = _CODE_FOR_STATUS.get(status) or (
        HTTPStatus(status).name if status in HTTPStatus._value2member_map_ else "HTTP_ERROR"
    )
    _count(request, f"http_{status}")
    message = exc.detail if isinstance(exc.detail, str) else "HTTP error"
    return _respond(request, status, code, message, headers=dict(exc.headers or {}))


async def unexpected_error(request: Request, exc: Exception) -> Response:
    """A bug: still the JSON body, with a 500 that is not marked as injected."""
    request.app.state.runtime.logger.exception("unhandled error", exc_info=exc)
    _count(request, "unhandled")
    return error_response(500, _CODE_FOR_STATUS[500], "internal error")


def install(app: FastAPI) -> None:
    """Register the handlers on the app."""
    app.add_exception_handler(BackendError, backend_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(Exception, unexpected_error)
