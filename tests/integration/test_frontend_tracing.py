"""One trace crosses frontend -> backend: in the spans and in both services' log lines."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client import CollectorRegistry

from mockinfra.common.profiles import ProfileName
from mockinfra.common.runtime import Runtime
from mockinfra.frontend.app import create_app
from mockinfra.frontend.config import Settings

pytestmark = pytest.mark.integration


class TraceIdCapture(logging.Handler):
    """Records (logger name, trace id of the span current when the line was written)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[tuple[str, str, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        ctx = trace.get_current_span().get_span_context()
        trace_id = format(ctx.trace_id, "032x") if ctx.is_valid else ""
        self.lines.append((record.name, trace_id, record.getMessage()))


@pytest.fixture
def captured_logs() -> Iterator[TraceIdCapture]:
    handler = TraceIdCapture()
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield handler
    finally:
        root.removeHandler(handler)


async def test_one_trace_id_from_frontend_to_backend(
    backend_server: Any, captured_logs: TraceIdCapture
) -> None:
    # Every call fails at the backend, so both services write a line while the request runs:
    # the backend its injected-fault line, the frontend its failed-backend-call line.
    backend = await backend_server(error_rate=1.0, instance="backend-traced")
    exporter = InMemorySpanExporter()
    settings = Settings(profile=ProfileName.OFF, backend_target=backend.target, error_rate=0.0)
    rt = Runtime.create(
        settings,
        configure_log=False,
        registry=CollectorRegistry(),
        span_processors=[SimpleSpanProcessor(exporter)],
    )
    app = create_app(rt)
    try:
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://frontend.test"
            ) as client,
        ):
            response = await client.get("/api/backend/status")
        assert response.status_code in {502, 503, 504}
        assert response.headers["x-backend-instance"] == "backend-traced"

        spans = exporter.get_finished_spans()
        server = [s for s in spans if s.name == "GET /api/backend/status"]
        assert len(server) == 1
        trace_id = server[0].context.trace_id
        names = {s.name for s in spans if s.context.trace_id == trace_id}
        # frontend server span, frontend client span, backend server span
        assert "mockinfra.v1.StatusService/GetStatus" in names
        kinds = {s.kind for s in spans if s.context.trace_id == trace_id}
        assert {trace.SpanKind.SERVER, trace.SpanKind.CLIENT} <= kinds
        backend_server_spans = [
            s
            for s in spans
            if s.context.trace_id == trace_id
            and s.kind is trace.SpanKind.SERVER
            and s.name.endswith("GetStatus")
        ]
        assert len(backend_server_spans) == 1

        hex_id = format(trace_id, "032x")
        frontend_lines = [n for n, t, _ in captured_logs.lines if t == hex_id and "frontend" in n]
        backend_lines = [n for n, t, _ in captured_logs.lines if t == hex_id and "backend" in n]
        assert frontend_lines, captured_logs.lines
        assert backend_lines, captured_logs.lines
    finally:
        exporter.shutdown()
