"""The FastAPI application: routers, error handlers, telemetry, and the one gRPC channel.

The channel to the backends (nginx's gRPC load balancer) is created once at lifespan start and
closed at shutdown; every request shares it through `deps.BackendDep`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.routing import APIRoute
from starlette.responses import Response

from mockinfra.common.asgi import (
    NO_NATIVE_TELEMETRY,
    TelemetryMiddleware,
    fault_admin_router,
    metrics_response,
)
from mockinfra.common.grpc_client import ClientTelemetry, insecure_channel
from mockinfra.common.runtime import Runtime
from mockinfra.frontend import errors
from mockinfra.frontend.api.main import api_routers
from mockinfra.frontend.api.routes.health import VERSION
from mockinfra.frontend.api.routes.pages import PAGES
from mockinfra.frontend.client import BackendClient
from mockinfra.frontend.config import Settings
from mockinfra.frontend.faultpolicy import inject_faults
from mockinfra.frontend.limits import BodyLimitMiddleware
from mockinfra.frontend.responses import JSONResponse


def operation_id(route: APIRoute) -> str:
    """Operation ids are the handler names (`list_data`), not FastAPI's path-derived ones."""
    return route.name


def create_app(rt: Runtime | None = None) -> FastAPI:
    """The frontend app over a runtime (one is built from `MOCKINFRA_*` settings if not given)."""
    if rt is None:
        rt = Runtime.create(Settings())
    settings = rt.settings
    if not isinstance(settings, Settings):
        raise TypeError("the frontend runtime needs mockinfra.frontend.config.Settings")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # No interceptors: the client applies the same telemetry per call, more cheaply.
        channel = insecure_channel(rt, settings.backend_target, interceptors=False)
        app.state.backend = BackendClient(
            channel,
            telemetry=ClientTelemetry(rt),
            deadline=settings.grpc_deadline_seconds,
            trigger_deadline=settings.trigger_deadline_seconds,
        )
        try:
            yield
        finally:
            await channel.close(grace=None)

    app = FastAPI(
        title="mockinfra frontend",
        version=VERSION,
        summary="Pages, the seed's JSON API and the /api/backend gateway to the gRPC backends.",
        lifespan=lifespan,
        default_response_class=JSONResponse,
        generate_unique_id_function=operation_id,
        telemetry=NO_NATIVE_TELEMETRY,
    )
    app.state.runtime = rt
    for page in PAGES:  # series start at 0 so rate() sees them before the first view
        rt.metrics.child(rt.metrics.page_views_total, page)

    errors.install(app)
    for router in api_routers:
        app.include_router(router)
    app.include_router(fault_admin_router(rt))

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return metrics_response(rt)

    # Added last, runs first: telemetry sees every answer, the body limit's 413 included.
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(TelemetryMiddleware, rt=rt, inject_faults=inject_faults)
    return app
