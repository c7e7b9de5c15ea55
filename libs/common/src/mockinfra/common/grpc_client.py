"""gRPC client side: metrics, trace context and request id on every call, one channel factory."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Sequence
from typing import Any, Final

import grpc
from opentelemetry import trace

from mockinfra.common.faults import add_downstream
from mockinfra.common.grpc_server import split_method
from mockinfra.common.logging import request_id_var
from mockinfra.common.runtime import Runtime
from mockinfra.common.tracing import inject, spans_recorded

_CLIENT = trace.SpanKind.CLIENT

# Retry UNAVAILABLE (a backend restarting, a connection reset) a couple of times; only for
# idempotent calls (reads, fault control).
RETRY_SERVICE_CONFIG: Final = json.dumps(
    {
        "methodConfig": [
            {
                "name": [{}],
                "retryPolicy": {
                    "maxAttempts": 3,
                    "initialBackoff": "0.05s",
                    "maxBackoff": "0.5s",
                    "backoffMultiplier": 2,
                    "retryableStatusCodes": ["UNAVAILABLE"],
                },
            }
        ]
    }
)
CHANNEL_OPTIONS: Final = (
    ("grpc.keepalive_time_ms", 30_000),
    ("grpc.keepalive_timeout_ms", 10_000),
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.max_receive_message_length", 16 * 1024 * 1024),
    ("grpc.enable_retries", 0),
)
RETRY_OPTIONS: Final = (
    ("grpc.enable_retries", 1),
    ("grpc.service_config", RETRY_SERVICE_CONFIG),
)


class TelemetryClientInterceptor(grpc.aio.UnaryUnaryClientInterceptor):  # type: ignore[type-arg]
    """grpc_client_* metrics, a client span, and W3C context + x-request-id in metadata."""

    def __init__(self, rt: Runtime) -> None:
        self.metrics = rt.metrics
        self.tracer = rt.tracer
        self._labels: dict[str, tuple[str, str, Any, Any, Any]] = {}

    def _for(self, method: str) -> tuple[str, str, Any, Any, Any]:
        found = self._labels.get(method)
        if found is None:
            service, name = split_method(method)
            m = self.metrics
            found = (
                service,
                name,
                m.child(m.grpc_client_started_total, "unary", service, name),
                m.child(m.grpc_client_handling_seconds, "unary", service, name),
                m.child(m.grpc_client_handled_total, "unary", service, name, "OK"),
            )
            self._labels[method] = found
        return found

    async def intercept_unary_unary(
        self,
        continuation: Callable[[grpc.aio.ClientCallDetails, Any], Any],
        client_call_details: grpc.aio.ClientCallDetails,
        request: Any,
    ) -> Any:
        method = client_call_details.method
        method = method.decode() if isinstance(method, bytes) else method
        service, name, started, seconds, handled_ok = self._for(method)
        start = time.perf_counter()
        started.inc()
        code = "UNKNOWN"
        # A client span only when spans are recorded; otherwise the caller's span context (same
        # trace id, valid ids for logs) is what propagates, and no span is built per call.
        recording = spans_recorded() or trace.get_current_span().is_recording()
        span_cm = (
            self.tracer.start_as_current_span(
                method[1:], kind=_CLIENT, record_exception=False, set_status_on_exception=False
            )
            if recording
            else contextlib.nullcontext(trace.INVALID_SPAN)
        )
        with span_cm as span:
            metadata = grpc.aio.Metadata(*(client_call_details.metadata or ()))
            carrier: dict[str, str] = {}
            inject(carrier)
            for key, value in carrier.items():
                metadata.add(key, value)
            rid = request_id_var.get()
            if rid and "x-request-id" not in metadata:
                metadata.add("x-request-id", rid)
            details = grpc.aio.ClientCallDetails(
                client_call_details.method,
                client_call_details.timeout,
                metadata,
                client_call_details.credentials,
                client_call_details.wait_for_ready,
            )
            try:
                call = await continuation(details, request)
                status = await call.code()
                code = status.name
                if status is not grpc.StatusCode.OK and span.is_recording():
                    span.set_status(trace.StatusCode.ERROR, status.name)
                return call
            except grpc.aio.AioRpcError as exc:
                code = exc.code().name
                raise
            finally:
                if code == "OK":
                    handled_ok.inc()
                else:
                    self.metrics.child(
                        self.metrics.grpc_client_handled_total, "unary", service, name, code
                    ).inc()
                elapsed = time.perf_counter() - start
                seconds.observe(elapsed)
                add_downstream(elapsed)


def client_interceptors(rt: Runtime) -> list[grpc.aio.ClientInterceptor]:
    """The interceptors every gRPC client of a mock service installs."""
    return [TelemetryClientInterceptor(rt)]  # type: ignore[list-item]


def insecure_channel(
    rt: Runtime,
    target: str,
    *,
    retries: bool = False,
    options: Sequence[tuple[str, Any]] = (),
) -> grpc.aio.Channel:
    """A grpc.aio channel with the telemetry interceptors and keepalive.

    `retries=True` retries UNAVAILABLE twice (for idempotent calls). Off by default: an
    injected UNAVAILABLE would otherwise be hidden from the caller and its error rate.
    """
    merged: dict[str, Any] = dict(CHANNEL_OPTIONS)
    if retries:
        merged.update(RETRY_OPTIONS)
    merged.update(dict(options))
    return grpc.aio.insecure_channel(
        target,
        options=list(merged.items()),
        interceptors=client_interceptors(rt),  # type: ignore[arg-type,list-item]
    )
