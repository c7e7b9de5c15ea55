"""The ASGI middleware and fault admin router, through httpx's ASGI transport."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from mockinfra.common.asgi import (
    NO_NATIVE_TELEMETRY,
    TelemetryMiddleware,
    fault_admin_router,
    metrics_response,
)
from mockinfra.common.errors import error_response
from mockinfra.common.runtime import Runtime
from mockinfra.common.tracing import inject

from .conftest import TOKEN, LogLines, make_runtime

AUTH = {"authorization": f"Bearer {TOKEN}"}


def build_app(rt: Runtime) -> FastAPI:
    app = FastAPI(telemetry=NO_NATIVE_TELEMETRY)

    @app.get("/api/items/{item_id}")
    async def get_item(item_id: int) -> dict[str, int]:
        return {"id": item_id}

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "healthy"}

    @app.get("/metrics")
    async def metrics() -> object:
        return metrics_response(rt)

    @app.get("/teapot")
    async def teapot() -> object:
        return error_response(418, "TEAPOT", "short and stout")

    app.include_router(fault_admin_router(rt))
    app.add_middleware(
        TelemetryMiddleware, rt=rt, inject_faults=lambda route: not route.startswith("/admin")
    )
    return app


@pytest.fixture
async def client() -> AsyncIterator[tuple[Runtime, httpx.AsyncClient]]:
    rt = make_runtime()
    transport = httpx.ASGITransport(app=build_app(rt))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        yield rt, c
    rt.faults.close()


def _metric(rt: Runtime, prefix: str) -> float:
    for line in rt.metrics.expose()[0].decode().splitlines():
        if line.startswith(prefix):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


async def test_route_template_request_id_and_access_log(
    client: tuple[Runtime, httpx.AsyncClient], logs: LogLines
) -> None:
    rt, c = client
    with rt.tracer.start_as_current_span("caller") as caller:
        headers = {"x-request-id": "abc-123"}
        inject(headers)
    r = await c.get("/api/items/41", headers=headers)
    assert r.status_code == 200 and r.json() == {"id": 41}
    assert r.headers["x-request-id"] == "abc-123"
    fresh = await c.get("/api/items/42", headers={"x-request-id": "bad id with spaces"})
    assert len(fresh.headers["x-request-id"]) == 32
    assert (await c.get("/nowhere/7")).status_code == 404
    assert (await c.post("/api/items/1")).status_code == 405
    assert (await c.get("/health")).status_code == 200
    route = 'method="GET",route="/api/items/{item_id}",service="orders",status_code="200"'
    assert _metric(rt, f'http_requests_total{{instance="orders-1",{route}}}') == 2
    assert (
        _metric(rt, 'http_requests_total{instance="orders-1",method="GET",route="unmatched"') == 1
    )
    assert _metric(rt, 'http_requests_total{instance="orders-1",method="POST"') == 1
    assert "/api/items/41" not in rt.metrics.expose()[0].decode()
    assert 'route="/health"' not in rt.metrics.expose()[0].decode()  # skipped path
    access = [r for r in logs.records() if r["logger"] == "mockinfra.access"]
    assert len(access) == 4  # /health is skipped
    first = access[0]
    assert first["request_id"] == "abc-123" and first["route"] == "/api/items/{item_id}"
    assert first["status_code"] == 200 and first["method"] == "GET"
    assert first["trace_id"] == format(caller.get_span_context().trace_id, "032x")
    # Written inside the server span: its own span id, and a trace id even without traceparent.
    assert first["span_id"] not in ("", format(caller.get_span_context().span_id, "016x"))
    assert all(len(str(line["trace_id"])) == 32 and line["span_id"] for line in access)


async def test_one_server_span_per_request(
    client: tuple[Runtime, httpx.AsyncClient], spans: InMemorySpanExporter
) -> None:
    """The middleware's span is the only one: FastAPI's native spans are off."""
    _, c = client
    assert (await c.get("/api/items/5")).status_code == 200
    # By span id: every runtime made in this process adds the test exporter's processor to the
    # one global provider, so a span can be exported more than once.
    finished = {s.context.span_id: (s.name, s.kind.name) for s in spans.get_finished_spans()}
    assert list(finished.values()) == [("GET /api/items/{item_id}", "SERVER")]


async def test_injected_error_json_body_and_admin(
    client: tuple[Runtime, httpx.AsyncClient],
) -> None:
    rt, c = client
    assert (await c.get("/admin/faults")).status_code == 401
    bad = await c.get("/admin/faults", headers={"authorization": "Bearer nope"})
    assert bad.status_code == 401 and set(bad.json()["error"]) == {
        "code", "message", "details", "timestamp", "request_id",
    }  # fmt: skip
    body = {"kind": "error_rate", "params": {"rate": 1}, "ttl_seconds": 60}
    r = await c.put("/admin/faults", json=body, headers=AUTH)
    assert r.status_code == 200, r.text
    assert r.json()["kind"] == "error_rate"
    r = await c.get("/api/items/1", headers={"x-request-id": "req-9"})
    assert r.status_code in (500, 502, 503)
    assert r.headers["x-fault-injected"] == "error_rate"
    error = r.json()["error"]
    assert error["request_id"] == "req-9" and error["details"]["injected"] is True
    assert (await c.get("/health")).status_code == 200  # never faulted
    listing = await c.get("/admin/faults", headers=AUTH)  # admin routes are not faulted
    assert [f["kind"] for f in listing.json()["faults"]] == ["error_rate"]
    assert (await c.delete("/admin/faults", headers=AUTH)).json() == {"cleared": 1}
    assert (await c.get("/api/items/1")).status_code == 200
    # Routes of an included router are labelled with their full template too.
    admin = 'method="GET",route="/admin/faults",service="orders",status_code="200"'
    assert f'http_requests_total{{instance="orders-1",{admin}}} 1.0' in (
        rt.metrics.expose()[0].decode()
    )
    for payload in (
        b"{",
        b'{"kind": "nope", "ttl_seconds": 5}',
        b'{"kind": "error_rate", "params": {"rate": 3}, "ttl_seconds": 5}',
        b'{"kind": "hang", "ttl_seconds": -1}',
    ):
        r = await c.put("/admin/faults", content=payload, headers=AUTH)
        assert r.status_code == 400, payload
        assert r.json()["error"]["code"] == "VALIDATION_ERROR"
    assert (await c.delete("/admin/faults?kind=nope", headers=AUTH)).status_code == 400
    teapot = await c.get("/teapot")
    assert teapot.status_code == 418 and teapot.json()["error"]["request_id"]


async def test_fault_control_refused_without_configured_token() -> None:
    rt = make_runtime(fault_token=None)
    transport = httpx.ASGITransport(app=build_app(rt))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        r = await c.get("/admin/faults", headers={"authorization": "Bearer "})
        assert r.status_code == 401
