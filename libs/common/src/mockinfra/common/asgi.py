"""ASGI telemetry for HTTP services: metrics, access log, span, request id, fault injection.

`TelemetryMiddleware` is pure ASGI (no BaseHTTPMiddleware, whose per-request task and stream
objects cost too much at 1000 req/s). It resolves the route template itself, before the app
runs, from `scope["app"].router`, so that both the metrics label and the fault decision use the
template (`/api/backend/data/{id}`), never the raw path; unknown paths are `unmatched`.
"""

from __future__ import annotations

import hmac
import logging
import re
import time
import uuid
from collections.abc import Callable, Iterable
from typing import Any, Final

import orjson
from fastapi import APIRouter, Request
from fastapi.routing import iter_route_contexts
from fastapi.telemetry import TelemetryConfig
from opentelemetry import trace
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.responses import Response
from starlette.routing import Match, Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mockinfra.common.errors import error_body, error_response
from mockinfra.common.faults import (
    MAX_TTL_SECONDS,
    FaultKind,
    InjectedFault,
    close_budget,
    open_budget,
    reset_anchor,
    set_anchor,
)
from mockinfra.common.logging import log_fast, request_id_var
from mockinfra.common.runtime import Runtime
from mockinfra.common.tracing import start_server_span

UNMATCHED: Final = "unmatched"
REQUEST_ID_HEADER: Final = "x-request-id"  # also the gRPC metadata key
_REQUEST_ID_KEY: Final = REQUEST_ID_HEADER.encode()
FAULT_HEADER: Final = "x-fault-injected"
ERROR_CODES: Final = {
    500: "INTERNAL_ERROR",
    502: "BAD_GATEWAY",
    503: "SERVICE_UNAVAILABLE",
    504: "GATEWAY_TIMEOUT",
}
_VALID_REQUEST_ID: Final = re.compile(r"[A-Za-z0-9._:-]{1,128}")
_ROUTE_CACHE_MAX: Final = 4096

access_log = logging.getLogger("mockinfra.access")


def _template(route: Any) -> str:
    path = str(getattr(route, "path_format", None) or getattr(route, "path", UNMATCHED))
    if isinstance(getattr(route, "original_route", route), Mount):
        return path + "/{path}"  # one label per mounted app, whatever is below it
    return path


# FastAPI's own OpenTelemetry instrumentation, off: `TelemetryMiddleware` makes the server span,
# metrics and access line, and FastAPI's would add a second server span, operation spans and
# metrics per request. `FastAPI(telemetry=NO_NATIVE_TELEMETRY)` in every app.
NO_NATIVE_TELEMETRY: Final[TelemetryConfig] = {
    "tracing": False,
    "metrics": False,
    "logs": False,
    "operation_spans": False,
}


def request_id_from(value: str | None) -> str:
    """The caller's request id when it is sane, else a fresh one."""
    if value and _VALID_REQUEST_ID.fullmatch(value):
        return value
    return uuid.uuid4().hex


class TelemetryMiddleware:
    """RED metrics by route template, one access-log line, a server span, injected faults."""

    def __init__(
        self,
        app: ASGIApp,
        rt: Runtime,
        *,
        inject_faults: Callable[[str], bool] | bool = True,
        skip_paths: Iterable[str] = ("/metrics", "/health"),
    ) -> None:
        self.app = app
        self.rt = rt
        self.metrics = rt.metrics
        self.faults = rt.faults
        self.tracer = rt.tracer
        self.instance = rt.settings.instance
        self.inject_faults = inject_faults
        self.skip_paths = frozenset(skip_paths)
        self.in_flight = rt.metrics.labels_for(rt.metrics.http_requests_in_flight)
        # (method, path) -> (route template, inject faults?); bounded, cleared when full.
        self._routes: dict[tuple[str, str], tuple[str, bool]] = {}

    def _route(self, scope: Scope) -> tuple[str, bool]:
        key = (scope["method"], scope["path"])
        found = self._routes.get(key)
        if found is not None:
            return found
        template = UNMATCHED
        router = getattr(scope.get("app"), "router", None)
        partial: str | None = None
        # FastAPI keeps included routers nested (`_IncludedRouter`, no path of their own);
        # `iter_route_contexts` flattens them into routes carrying their full templates.
        for route in iter_route_contexts(getattr(router, "routes", ())):
            match, _ = route.matches(scope)
            if match is Match.FULL:
                template = _template(route)
                break
            if match is Match.PARTIAL and partial is None:
                partial = _template(route)  # path matches, method does not (405)
        else:
            if partial is not None:
                template = partial
        inject = self.inject_faults
        decision = inject(template) if callable(inject) else bool(inject)
        decision = decision and template != UNMATCHED
        if len(self._routes) >= _ROUTE_CACHE_MAX:
            self._routes.clear()  # raw paths with ids are unbounded; templates are not
        self._routes[key] = (template, decision)
        return template, decision

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self.skip_paths:
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        method: str = scope["method"]
        incoming_id: str | None = None
        carrier: dict[str, str] | None = None
        for name, value in scope["headers"]:
            if name == _REQUEST_ID_KEY:
                incoming_id = value.decode("latin-1")
            elif name == b"traceparent" or name == b"tracestate":
                if carrier is None:
                    carrier = {}
                carrier[name.decode()] = value.decode("latin-1")
        request_id = request_id_from(incoming_id)
        id_token = request_id_var.set(request_id)
        anchor_token = set_anchor(time.time())  # downstream latency counts from the arrival
        route, inject = self._route(scope)
        status = 500
        fault_kind = ""
        delay = 0.0
        id_header = (_REQUEST_ID_KEY, request_id.encode())
        faults = self.faults

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), id_header]
                if delay:
                    await faults.pad(start, delay)  # the injected latency covers the handler
            await send(message)

        self.in_flight.inc()
        span_cm = start_server_span(self.tracer, f"{method} {route}", carrier)
        budget = None
        try:
            with span_cm as span:
                try:
                    fault = None
                    if inject:
                        fault, delay = await faults.admit()
                        if delay:
                            budget = open_budget()
                    if fault is not None:
                        fault_kind = fault.kind.value
                        await self._send_fault(fault, request_id, send_with_id)
                    else:
                        await self.app(scope, receive, send_with_id)
                finally:
                    # Inside the span, so the access-log line carries its trace and span ids.
                    elapsed = time.perf_counter() - start
                    if span.is_recording():
                        span.set_attribute("http.request.method", method)
                        span.set_attribute("http.route", route)
                        span.set_attribute("http.response.status_code", status)
                        if fault_kind:
                            span.set_attribute("fault", fault_kind)
                        if status >= 500:
                            span.set_status(trace.StatusCode.ERROR)
                    self.metrics.observe_http(method, route, status, elapsed)
                    path: str = scope["path"]
                    extra: dict[str, Any] = {
                        "method": method,
                        "path": path,
                        "route": route,
                        "status_code": status,
                        "duration_ms": round(elapsed * 1000.0, 3),
                    }
                    if fault_kind:
                        extra["fault"] = fault_kind
                    log_fast(access_log, logging.INFO, f"{method} {path} {status}", extra)
        finally:
            if budget is not None:
                close_budget(budget)
            self.in_flight.dec()
            reset_anchor(anchor_token)
            request_id_var.reset(id_token)

    async def _send_fault(self, fault: InjectedFault, request_id: str, send: Send) -> None:
        body = orjson.dumps(
            error_body(
                ERROR_CODES.get(fault.http_status, "INJECTED_FAULT"),
                fault.message,
                {"injected": True, "fault": fault.kind.value, "instance": self.instance},
                request_id=request_id,
            )
        )
        await send(
            {
                "type": "http.response.start",
                "status": fault.http_status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (FAULT_HEADER.encode(), fault.kind.value.encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


# --- fault control over HTTP --------------------------------------------------------------


class FaultRequest(BaseModel):
    """Body of `PUT /admin/faults`."""

    model_config = ConfigDict(extra="forbid")

    kind: FaultKind
    params: dict[str, float | int | str] = Field(default_factory=dict)
    ttl_seconds: float = Field(gt=0, le=MAX_TTL_SECONDS)


def authorized(rt: Runtime, header: str | None) -> bool:
    """Bearer token check; with no token configured, fault control is always refused."""
    token = rt.settings.fault_token
    if token is None or not token.get_secret_value() or not header:
        return False
    scheme, _, value = header.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        value.strip().encode(), token.get_secret_value().encode()
    )


def _unauthorized() -> Response:
    return error_response(
        401,
        "UNAUTHORIZED",
        "fault control needs 'Authorization: Bearer <token>' (MOCKINFRA_FAULT_TOKEN)",
        headers={"www-authenticate": "Bearer"},
    )


def fault_admin_router(rt: Runtime, *, prefix: str = "/admin/faults") -> APIRouter:
    """`GET/PUT/DELETE /admin/faults`: list, set and clear run-time faults (bearer token)."""
    router = APIRouter(prefix=prefix, tags=["faults"])
    faults = rt.faults

    def listing() -> dict[str, Any]:
        return {
            "instance": rt.settings.instance,
            "error_rate": faults.error_rate,
            "latency": {"mean_ms": faults.latency.mean_ms, "p95_ms": faults.latency.p95_ms},
            "faults": [f.to_dict() for f in faults.active()],
        }

    @router.get("", operation_id="list_faults")
    async def list_faults(request: Request) -> Response:
        if not authorized(rt, request.headers.get("authorization")):
            return _unauthorized()
        return Response(orjson.dumps(listing()), media_type="application/json")

    @router.put("", operation_id="set_fault")
    async def set_fault(request: Request) -> Response:
        if not authorized(rt, request.headers.get("authorization")):
            return _unauthorized()
        raw = await request.body()
        if len(raw) > 65536:
            return error_response(413, "PAYLOAD_TOO_LARGE", "fault body over 64 KiB")
        try:
            body = FaultRequest.model_validate_json(raw)
            fault = faults.set(body.kind, body.params, body.ttl_seconds)
        except ValidationError as exc:
            details = [
                {"field": ".".join(map(str, e["loc"])), "message": e["msg"]} for e in exc.errors()
            ]
            return error_response(400, "VALIDATION_ERROR", "invalid fault", details)
        except ValueError as exc:
            return error_response(400, "VALIDATION_ERROR", str(exc))
        return Response(orjson.dumps(fault.to_dict()), media_type="application/json")

    @router.delete("", operation_id="clear_faults")
    async def clear_faults(request: Request, kind: str = "") -> Response:
        if not authorized(rt, request.headers.get("authorization")):
            return _unauthorized()
        try:
            cleared = faults.clear(kind or None)
        except ValueError:
            return error_response(400, "VALIDATION_ERROR", f"unknown fault kind {kind!r}")
        return Response(orjson.dumps({"cleared": cleared}), media_type="application/json")

    return router


def metrics_app(rt: Runtime) -> ASGIApp:
    """A tiny ASGI app serving the Prometheus exposition (mount it at /metrics)."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        body, content_type = rt.metrics.expose()
        await Response(body, media_type=content_type)(scope, receive, send)

    return app


def metrics_response(rt: Runtime) -> Response:
    """The Prometheus exposition as a response, for a `GET /metrics` route."""
    body, content_type = rt.metrics.expose()
    return Response(body, headers={"content-type": content_type})
