"""gRPC server side: per-call telemetry for every unary method, and `serve()`.

The telemetry, per unary call: trace context from metadata and a server span, the request id
(`x-request-id` or a new one), `x-instance` and `x-request-id` in the trailing metadata of every
answer (errors included: who answered), go-grpc-prometheus metrics, and fault injection
(`FaultInjector.admit`; an injected fault aborts with its code and trailing metadata
`x-fault-injected: <kind>`; injected latency is a budget for the whole call, padded after the
handler). Health and reflection calls pass straight through.

The call's metadata rides in the trailers, which leave with the reply, rather than in initial
metadata sent ahead of it: a separate initial metadata is one more batch through grpc's C core,
one more write through nginx and one more wake-up at the caller, 0.1-0.3 ms of CPU per request
across the chain (docs/performance.md, seventh round). Only an injected fault sends it first:
that commits the call, so a client whose retry policy covers the code (UNAVAILABLE) reports
the injected error instead of retrying it away.

It is applied by wrapping each method handler once, as the service registers it
(`TelemetryHandlers.registrar`, which `start_server` uses), not by a grpc.aio server interceptor:
an interceptor costs an extra coroutine chain per call (about 50 us of CPU per call here, 9% of
a minimal server's). A server built elsewhere gets the same with
`register(TelemetryHandlers(rt).registrar(server))`.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Final, TypeAlias, cast, overload

import grpc
from grpc_health.v1 import _async as health_aio  # the asyncio HealthServicer
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from opentelemetry import trace
from prometheus_client import start_http_server

from mockinfra.common.asgi import FAULT_HEADER, REQUEST_ID_HEADER, request_id_from
from mockinfra.common.fault_service import FaultServicer
from mockinfra.common.faults import (
    LATENCY_ANCHOR_METADATA,
    InjectedFault,
    anchor_age,
    reset_anchor,
    set_anchor,
)
from mockinfra.common.gc_tuning import tune_gc
from mockinfra.common.logging import flush_logs, request_id_var
from mockinfra.common.runtime import Runtime
from mockinfra.common.tracing import start_server_span
from mockinfra.v1 import faults_pb2, faults_pb2_grpc

FAULT_METADATA: Final = FAULT_HEADER  # the same key in HTTP headers and gRPC metadata
INSTANCE_METADATA: Final = "x-instance"
_SKIPPED_PREFIXES: Final = ("/grpc.health.", "/grpc.reflection.")
FAULT_SERVICE_NAME: Final = faults_pb2.DESCRIPTOR.services_by_name["FaultService"].full_name
SERVER_OPTIONS: Final = (
    ("grpc.keepalive_time_ms", 30_000),
    ("grpc.keepalive_timeout_ms", 10_000),
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.http2.min_ping_interval_without_data_ms", 10_000),
    ("grpc.max_receive_message_length", 4 * 1024 * 1024),
    ("grpc.max_send_message_length", 16 * 1024 * 1024),
)

log = logging.getLogger("mockinfra.grpc")
_Handler: TypeAlias = "grpc.RpcMethodHandler[Any, Any]"
_Generic: TypeAlias = "grpc.GenericRpcHandler[Any, Any]"
Metadata: TypeAlias = tuple[tuple[str, str], ...]


def split_method(full_method: str) -> tuple[str, str]:
    """'/pkg.Service/Method' -> ('pkg.Service', 'Method')."""
    _, service, method = full_method.split("/", 2) if full_method.count("/") == 2 else ("", "", "")
    return service or "unknown", method or full_method


def _bytes_or(serializer: Callable[[Any], bytes] | None) -> Callable[[Any], bytes] | None:
    """The method's serializer, letting a handler return already serialised bytes (a cache)."""
    if serializer is None:
        return None

    def serialize(response: Any) -> bytes:
        return response if isinstance(response, bytes) else serializer(response)

    return serialize


class TelemetryHandlers:
    """The telemetry wrapper of unary-unary method handlers, built once per method."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.metrics = rt.metrics
        self.faults = rt.faults
        self.tracer = rt.tracer
        self.instance_md: Metadata = ((INSTANCE_METADATA, rt.settings.instance),)

    @overload
    def wrap_handler(self, method: str, handler: _Handler) -> _Handler: ...
    @overload
    def wrap_handler(self, method: str, handler: None) -> None: ...
    def wrap_handler(self, method: str, handler: _Handler | None) -> _Handler | None:
        """`handler` with telemetry, or unchanged: streaming, health and reflection methods."""
        if handler is None or handler.unary_unary is None or method.startswith(_SKIPPED_PREFIXES):
            return handler  # streaming calls pass through untouched: our API has none
        return grpc.unary_unary_rpc_method_handler(
            self._wrap(method, handler.unary_unary),
            request_deserializer=handler.request_deserializer,
            response_serializer=_bytes_or(handler.response_serializer),
        )

    def registrar(self, server: grpc.aio.Server) -> grpc.aio.Server:
        """`server` as `register()` sees it: every handler added through it is wrapped once."""
        return cast(grpc.aio.Server, _Registrar(server, self))

    def _wrap(self, full_method: str, behaviour: Any) -> Callable[..., Awaitable[Any]]:
        service, method = split_method(full_method)
        # Fault control must keep working while faults are injected: it is never faulted.
        inject = service != FAULT_SERVICE_NAME
        m = self.metrics
        started = m.child(m.grpc_server_started_total, "unary", service, method)
        seconds = m.child(m.grpc_server_handling_seconds, "unary", service, method)
        handled = m.grpc_server_handled_total
        faults, tracer, instance_md = self.faults, self.tracer, self.instance_md
        handled_ok = m.child(handled, "unary", service, method, "OK")
        span_name = full_method[1:]

        async def unary(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
            start = time.perf_counter()
            incoming: str | None = None
            anchor: str | bytes | None = None
            carrier: dict[str, str] | None = None
            for key, value in context.invocation_metadata() or ():
                if key == REQUEST_ID_HEADER:
                    incoming = str(value)
                elif key == LATENCY_ANCHOR_METADATA:
                    anchor = value
                elif key == "traceparent" or key == "tracestate":
                    if carrier is None:
                        carrier = {}
                    carrier[key] = str(value)
            rid = request_id_from(incoming)
            token = request_id_var.set(rid)
            anchor_token = set_anchor(time.time())  # for this call's own downstream calls
            started.inc()
            code = "OK"
            delay = 0.0
            start_of_budget = start
            call_md = (*instance_md, (REQUEST_ID_HEADER, rid))
            try:
                # Leaves with the reply or the status (a handler setting trailers of its own
                # extends `context.trailing_metadata()`).
                context.set_trailing_metadata(call_md)
                with start_server_span(
                    tracer,
                    span_name,
                    carrier,
                    record_exception=False,
                    set_status_on_exception=False,
                ) as span:
                    try:
                        if inject:
                            # The delay counts from the caller's anchor when it sent one.
                            already = anchor_age(anchor) if anchor is not None else 0.0
                            fault, delay = await faults.admit(already)
                            if fault is not None:
                                raise fault
                            start_of_budget = start - already
                        response = await behaviour(request, context)
                        status = context.code()
                        if status is not None and status is not grpc.StatusCode.OK:
                            code = status.name if isinstance(status, grpc.StatusCode) else "UNKNOWN"
                        if delay:
                            await faults.pad(start_of_budget, delay)
                        return response
                    except InjectedFault as exc:
                        code = exc.grpc_code.name
                        if span.is_recording():
                            span.set_attribute("fault", exc.kind.value)
                            span.set_status(trace.StatusCode.ERROR, exc.message)
                        await context.send_initial_metadata(call_md)  # commits the call
                        context.set_trailing_metadata((*call_md, (FAULT_METADATA, exc.kind.value)))
                        await context.abort(exc.grpc_code, exc.message)
                    except grpc.aio.AbortError:
                        status = context.code()
                        code = status.name if isinstance(status, grpc.StatusCode) else "UNKNOWN"
                        if delay:
                            await faults.pad(start_of_budget, delay)
                        raise
                    except asyncio.CancelledError:
                        code = "CANCELLED"
                        raise
                    except Exception as exc:
                        code = "UNKNOWN"
                        if span.is_recording():
                            span.record_exception(exc)
                            span.set_status(trace.StatusCode.ERROR, type(exc).__name__)
                        log.exception("unhandled error in %s", full_method)
                        raise
            finally:
                elapsed = time.perf_counter() - start
                if code == "OK":
                    handled_ok.inc()
                else:
                    m.child(handled, "unary", service, method, code).inc()
                seconds.observe(elapsed)
                reset_anchor(anchor_token)
                request_id_var.reset(token)

        return unary


class _WrappedGenericHandler(grpc.GenericRpcHandler):  # type: ignore[type-arg]
    """A generic handler whose method handlers come out wrapped (each wrapped once)."""

    def __init__(self, inner: _Generic, telemetry: TelemetryHandlers) -> None:
        self.inner = inner
        self.telemetry = telemetry
        # method -> (handler from the inner generic handler, wrapped handler)
        self._wrapped: dict[str, tuple[_Handler, _Handler | None]] = {}

    def service(self, handler_call_details: grpc.HandlerCallDetails) -> _Handler | None:
        handler = self.inner.service(handler_call_details)
        if handler is None:
            return None
        method: str = handler_call_details.method  # type: ignore[attr-defined]
        cached = self._wrapped.get(method)
        if cached is not None and cached[0] is handler:
            return cached[1]
        wrapped = self.telemetry.wrap_handler(method, handler)
        self._wrapped[method] = (handler, wrapped)
        return wrapped


class _Registrar:
    """Stands in for the server while a service registers: wraps, then passes on."""

    def __init__(self, server: grpc.aio.Server, telemetry: TelemetryHandlers) -> None:
        self._server = server
        self._telemetry = telemetry

    def add_registered_method_handlers(
        self, service_name: str, method_handlers: dict[str, _Handler]
    ) -> None:
        wrap = self._telemetry.wrap_handler
        self._server.add_registered_method_handlers(  # type: ignore[attr-defined]
            service_name,
            {name: wrap(f"/{service_name}/{name}", h) for name, h in method_handlers.items()},
        )

    def add_generic_rpc_handlers(self, handlers: Iterable[_Generic]) -> None:
        self._server.add_generic_rpc_handlers(
            tuple(_WrappedGenericHandler(h, self._telemetry) for h in handlers)
        )

    def __getattr__(self, name: str) -> Any:
        return getattr(self._server, name)  # ports, options: the server's own


Register = Callable[[grpc.aio.Server], Iterable[str] | None]


@dataclass(slots=True)
class RunningServer:
    """A started server: what tests and `serve()` need to reach and stop it."""

    server: grpc.aio.Server
    port: int
    health: health_aio.HealthServicer
    service_names: tuple[str, ...]
    metrics_port: int | None = None
    _metrics_httpd: Any = field(default=None, repr=False)

    async def stop(self, grace: float = 5.0) -> None:
        """Health NOT_SERVING, drain in-flight calls for up to `grace` seconds, stop."""
        await self.health.enter_graceful_shutdown()
        await self.server.stop(grace)
        if self._metrics_httpd is not None:
            self._metrics_httpd.shutdown()
            self._metrics_httpd.server_close()


async def start_server(
    rt: Runtime,
    register: Register,
    *,
    port: int | None = None,
    metrics: bool = True,
) -> RunningServer:
    """Build and start the server; `port=0` picks a free port (tests)."""
    s = rt.settings
    server = grpc.aio.server(options=SERVER_OPTIONS)
    registrar = TelemetryHandlers(rt).registrar(server)
    names = tuple(register(registrar) or ())
    faults_pb2_grpc.add_FaultServiceServicer_to_server(FaultServicer(rt), registrar)
    health = health_aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health, server)
    all_names = (*names, FAULT_SERVICE_NAME)
    reflection.enable_server_reflection(
        (*all_names, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
         reflection.SERVICE_NAME),
        server,
    )  # fmt: skip
    bound = server.add_insecure_port(f"{s.host}:{s.port if port is None else port}")
    await server.start()
    for name in ("", *all_names):
        await health.set(name, health_pb2.HealthCheckResponse.SERVING)
    running = RunningServer(server, bound, health, all_names)
    if metrics and s.metrics_port is not None:
        httpd, _ = start_http_server(s.metrics_port, addr=s.host, registry=rt.metrics.registry)
        running.metrics_port = httpd.server_address[1]
        running._metrics_httpd = httpd
    rt.logger.info(
        "gRPC server listening on %s:%d (metrics on %s)",
        s.host,
        bound,
        running.metrics_port,
        extra={"port": bound, "services": list(all_names)},
    )
    return running


async def serve(
    rt: Runtime,
    register: Register,
    *,
    port: int | None = None,
    extra_shutdown: Callable[[], Awaitable[None]] | None = None,
) -> None:
    """Run the service's gRPC server until SIGTERM/SIGINT, then drain and return (exit 0).

    `register(server)` adds the service's servicers and returns their full service names
    (for health and reflection), e.g. `backend_pb2.DESCRIPTOR.services_by_name[...].full_name`.
    Once the server is up, the garbage collector is set for serving (`gc_tuning.tune_gc`).
    """
    running = await start_server(rt, register, port=port)
    tune_gc()

    async def drain() -> None:
        await running.stop(grace=5.0)
        if extra_shutdown is not None:
            await extra_shutdown()

    await run_until_signal(rt, drain)


async def run_until_signal(rt: Runtime, drain: Callable[[], Awaitable[None]]) -> None:
    """Wait for SIGTERM or SIGINT, then run `drain` (stop taking calls, finish in-flight ones)
    and release the runtime: the one shutdown sequence of every gRPC service."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
        rt.logger.info("shutting down: draining in-flight calls")
        await drain()
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
        rt.faults.close()
        rt.logger.info("stopped")
        flush_logs()
