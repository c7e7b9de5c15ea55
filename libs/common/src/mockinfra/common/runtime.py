"""The per-process wiring: settings, metrics, logger, fault injector and tracer, built once;
and how a service process runs (`run_service` for gRPC services, `serve_http` for HTTP ones)."""

from __future__ import annotations

import logging
from collections.abc import Coroutine, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, TypeVar

import uvicorn
import uvloop
from opentelemetry import trace
from opentelemetry.sdk.trace import SpanProcessor
from prometheus_client import CollectorRegistry
from starlette.types import ASGIApp

from mockinfra.common.faults import FaultInjector, LatencyProfile
from mockinfra.common.gc_tuning import tune_gc
from mockinfra.common.logging import configure_logging
from mockinfra.common.metrics import Metrics
from mockinfra.common.settings import ServiceSettings
from mockinfra.common.tracing import configure_tracing

T = TypeVar("T")


def run_service(main: Coroutine[Any, Any, T]) -> T:
    """Run a service process's main coroutine to the end on uvloop, the event loop uvicorn gives
    the HTTP services: a backend spends 6-11% less CPU per call on it than on asyncio's own
    loop (docs/performance.md, ninth round). For entry points, like `asyncio.run`."""
    return uvloop.run(main)


# How uvicorn serves every HTTP service (and the bench's bare gateway, so that it is served
# alike): uvloop and httptools, no access log of its own (`TelemetryMiddleware` writes one line
# per request), no `server` header.
UVICORN_OPTIONS: Final[Mapping[str, Any]] = {
    "loop": "uvloop",
    "http": "httptools",
    "access_log": False,
    "server_header": False,
}


def serve_http(app: ASGIApp, settings: ServiceSettings) -> None:
    """Serve an HTTP service's ASGI app on the settings' host and port until SIGTERM or SIGINT
    (in-flight requests get 10 s), with the JSON logging `Runtime.create` configured. The app
    is built by then, so the garbage collector is set for serving first (`tune_gc`)."""
    tune_gc()
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_config=None,
        timeout_graceful_shutdown=10,
        **UVICORN_OPTIONS,
    )


@dataclass(slots=True)
class Runtime:
    """Everything the interceptors, middleware and business code share in one process."""

    settings: ServiceSettings
    metrics: Metrics
    faults: FaultInjector
    logger: logging.Logger
    tracer: trace.Tracer

    @classmethod
    def create(
        cls,
        settings: ServiceSettings,
        *,
        span_processors: Sequence[SpanProcessor] = (),
        registry: CollectorRegistry | None = None,
        configure_log: bool = True,
    ) -> Runtime:
        """Configure logging, metrics, tracing and the injector from the settings.

        `configure_log=False` keeps the existing logging setup (tests that capture logs).
        """
        s = settings
        if configure_log:
            logger = configure_logging(
                service=s.service,
                instance=s.instance,
                level=s.log_level,
                file=s.log_file,
                max_bytes=s.log_max_bytes,
                backups=s.log_backups,
            )
        else:
            logger = logging.getLogger(s.service)
        metrics = Metrics(s.service, s.instance, registry)
        tracer = configure_tracing(s.service, s.instance, span_processors=span_processors)
        faults = FaultInjector(
            s.service,
            s.instance,
            metrics,
            logging.getLogger(f"{s.service}.faults"),
            error_rate=s.error_rate,
            latency=LatencyProfile.fit(s.latency_mean_ms, s.latency_p95_ms),
            seed=s.fault_seed,
        )
        return cls(settings=s, metrics=metrics, faults=faults, logger=logger, tracer=tracer)
