"""A new mock service on `mockinfra.common` in a few lines: an HTTP inventory API.

Run it: `MOCKINFRA_FAULT_TOKEN=dev .venv/bin/python examples/inventory_service.py`
(settings come from `MOCKINFRA_*`; see docs/new-service.md).
"""

from __future__ import annotations

from fastapi import FastAPI
from starlette.responses import Response

from mockinfra.common.asgi import TelemetryMiddleware, fault_admin_router, metrics_response
from mockinfra.common.errors import error_response
from mockinfra.common.faults import DependencyFault
from mockinfra.common.runtime import Runtime, serve_http
from mockinfra.common.settings import ServiceSettings

STOCK = {"apple": 12, "pear": 0}


class InventorySettings(ServiceSettings):
    service: str = "inventory"
    instance: str = "inventory-1"
    port: int = 5050


def create_app(rt: Runtime) -> FastAPI:
    """The business logic only; metrics, logs, traces and faults come from the library."""
    app = FastAPI(title="inventory")

    @app.get("/api/stock/{item}", response_model=None)
    async def stock(item: str) -> Response | dict[str, object]:
        try:
            rt.faults.check_dependency("database")  # a db_failure fault makes this fail
        except DependencyFault as fault:
            return error_response(503, "DATABASE_UNAVAILABLE", fault.message)
        if item not in STOCK:
            return error_response(404, "NOT_FOUND", f"no item {item!r}")
        rt.logger.info("stock lookup", extra={"item": item})
        return {"item": item, "quantity": STOCK[item]}

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "healthy"}

    @app.get("/metrics")
    async def metrics() -> Response:
        return metrics_response(rt)

    app.include_router(fault_admin_router(rt))
    app.add_middleware(TelemetryMiddleware, rt=rt, inject_faults=lambda r: r.startswith("/api/"))
    return app


def main() -> None:
    settings = InventorySettings()  # MOCKINFRA_* variables override the defaults
    # uvicorn as the stack's HTTP services run, the garbage collector tuned once the app is built
    serve_http(create_app(Runtime.create(settings)), settings)


if __name__ == "__main__":
    main()
