"""The alert webhook receiver: stores Alertmanager notifications, lists and forwards them.

A mock service like any other: built on `mockinfra.common` (runtime, telemetry middleware,
metrics, JSON logs, fault control), with only the business logic here.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Annotated, Any

import httpx
from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from prometheus_client import Counter
from starlette.exceptions import HTTPException
from starlette.responses import Response

from mockinfra.alertsink.config import Settings
from mockinfra.alertsink.forward import Forwarder
from mockinfra.alertsink.schemas import AlertList, AlertStatus, WebhookAck, WebhookPayload
from mockinfra.alertsink.store import AlertStore
from mockinfra.common.asgi import (
    NO_NATIVE_TELEMETRY,
    TelemetryMiddleware,
    fault_admin_router,
    metrics_response,
)
from mockinfra.common.errors import error_response
from mockinfra.common.runtime import Runtime

DRAIN_SECONDS = 5.0
LIST_LIMIT_MAX = 1000


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    # The offending input is not echoed back: it may be large.
    errors = [
        {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
        for e in exc.errors()
    ]
    malformed = any(e["type"] == "json_invalid" for e in errors)
    code = "INVALID_JSON" if malformed else "VALIDATION_ERROR"
    message = "request body is not valid JSON" if malformed else "request failed validation"
    return error_response(422, code, message, {"errors": errors})


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return error_response(exc.status_code, "HTTP_ERROR", str(exc.detail))


def create_app(rt: Runtime) -> FastAPI:
    settings = rt.settings
    assert isinstance(settings, Settings)
    metrics = rt.metrics
    received = Counter(
        "alertsink_alerts_received_total",
        "Alerts received from Alertmanager, by status.",
        ("service", "instance", "status"),
        registry=metrics.registry,
    )
    forwards = Counter(
        "alertsink_forwards_total",
        "Notification forwards, by outcome (forwarded, retried, rejected, failed).",
        ("service", "instance", "outcome"),
        registry=metrics.registry,
    )
    base = (settings.service, settings.instance)
    for status in ("firing", "resolved"):
        received.labels(*base, status)
    for outcome in ("forwarded", "retried", "rejected", "failed"):
        forwards.labels(*base, outcome)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store = await AlertStore.open(settings.alerts_db)
        async with httpx.AsyncClient(timeout=settings.forward_timeout_seconds) as client:
            forwarder = None
            if settings.forward_url:
                forwarder = Forwarder(
                    settings.forward_url,
                    client,
                    attempts=settings.forward_attempts,
                    backoff_max=settings.forward_backoff_max_seconds,
                    logger=rt.logger,
                    on_outcome=lambda outcome: forwards.labels(*base, outcome).inc(),
                )
            app.state.store = store
            app.state.forwarder = forwarder
            rt.logger.info("alertsink ready", extra={"db": str(settings.alerts_db)})
            try:
                yield
            finally:
                if forwarder is not None:
                    await forwarder.drain(DRAIN_SECONDS)
                await store.close()

    app = FastAPI(
        title="mockinfra alert receiver", lifespan=lifespan, telemetry=NO_NATIVE_TELEMETRY
    )
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.state.runtime = rt
    app.include_router(fault_admin_router(rt))

    @app.post("/webhook", response_model=WebhookAck, operation_id="receive_webhook")
    async def webhook(payload: WebhookPayload, request: Request) -> WebhookAck:
        store: AlertStore = request.app.state.store
        stored = await store.add(payload)
        for alert in payload.alerts:
            received.labels(*base, alert.status).inc()
        rt.logger.info(
            "alert notification received",
            extra={
                "status": payload.status,
                "alerts": stored,
                "alertnames": sorted({a.labels.get("alertname", "") for a in payload.alerts}),
            },
        )
        forwarder: Forwarder | None = request.app.state.forwarder
        if forwarder is not None:
            forwarder.submit(payload.model_dump(mode="json", by_alias=True))
        return WebhookAck(stored=stored, forwarded=forwarder is not None)

    @app.get("/alerts", response_model=AlertList, operation_id="list_alerts")
    async def list_alerts(
        request: Request,
        status: AlertStatus | None = None,
        alertname: Annotated[str | None, Query(max_length=256)] = None,
        instance: Annotated[str | None, Query(max_length=256)] = None,
        since: datetime | None = None,
        limit: Annotated[int, Query(ge=1, le=LIST_LIMIT_MAX)] = 100,
    ) -> AlertList:
        store: AlertStore = request.app.state.store
        alerts = await store.list(
            status=status, alertname=alertname, instance=instance, since=since, limit=limit
        )
        return AlertList(alerts=alerts, count=len(alerts))

    @app.get("/health", operation_id="health")
    async def health() -> dict[str, Any]:
        return {"status": "healthy", "service": settings.service, "instance": settings.instance}

    @app.get("/metrics", include_in_schema=False)
    async def metrics_page() -> Response:
        return metrics_response(rt)

    # Random faults only when set at run time (the receiver's own error rate is 0).
    app.add_middleware(TelemetryMiddleware, rt=rt)
    return app
