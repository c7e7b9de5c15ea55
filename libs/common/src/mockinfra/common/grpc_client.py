"""gRPC client side: metrics, trace context and request id on every call, one channel factory."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager
from typing import Any, Final, TypeAlias, TypeVar

import grpc
from opentelemetry import trace

from mockinfra.common.asgi import REQUEST_ID_HEADER
from mockinfra.common.faults import add_downstream, advance_anchor, anchor_metadata
from mockinfra.common.grpc_server import split_method
from mockinfra.common.logging import request_id_var
from mockinfra.common.runtime import Runtime
from mockinfra.common.tracing import inject, spans_recorded

_CLIENT = trace.SpanKind.CLIENT
T = TypeVar("T")

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


_Labels: TypeAlias = tuple[str, str, Any, Any, Any]


class ClientTelemetry:
    """What every client call records and sends, shared by the interceptor and direct callers.

    `grpc_client_*` metrics (children looked up once per method), a client span only when spans
    are recorded, and the W3C context, `x-request-id` and the latency anchor as outgoing
    metadata. `unary()` applies it around one call without grpc.aio's interceptor machinery (a
    task and an intercepted call object per call): the frontend's typed client calls it directly.
    """

    def __init__(self, rt: Runtime) -> None:
        self.metrics = rt.metrics
        self.tracer = rt.tracer
        self._labels: dict[str, _Labels] = {}

    def labels(self, method: str) -> _Labels:
        """(service, method name, started, seconds, handled OK) for '/pkg.Service/Method'."""
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

    def span(self, method: str) -> AbstractContextManager[trace.Span]:
        """A client span only when spans are recorded; otherwise the caller's span context
        (same trace id, valid ids for logs) is what propagates, and no span is built per call."""
        if spans_recorded() or trace.get_current_span().is_recording():
            return self.tracer.start_as_current_span(
                method[1:], kind=_CLIENT, record_exception=False, set_status_on_exception=False
            )
        return contextlib.nullcontext(trace.INVALID_SPAN)

    @staticmethod
    def outgoing(metadata: Iterable[tuple[str, str | bytes]] = ()) -> list[tuple[str, str | bytes]]:
        """The caller's metadata plus trace context and `x-request-id` (unless it has one)."""
        carrier: dict[str, str] = {}
        inject(carrier)
        pairs: list[tuple[str, str | bytes]] = [*metadata, *carrier.items()]
        rid = request_id_var.get()
        if rid and (not metadata or all(key != REQUEST_ID_HEADER for key, _ in pairs)):
            pairs.append((REQUEST_ID_HEADER, rid))
        anchor = anchor_metadata()
        if anchor is not None:
            pairs.append(anchor)
        return pairs

    def finish(self, labels: _Labels, code: str, start: float) -> None:
        """Record one finished call (its code name) and its time as downstream time."""
        if code == "OK":
            labels[4].inc()
        else:
            m = self.metrics
            m.child(m.grpc_client_handled_total, "unary", labels[0], labels[1], code).inc()
        elapsed = time.perf_counter() - start
        labels[3].observe(elapsed)
        add_downstream(elapsed)
        advance_anchor()

    async def unary(
        self,
        method: str,
        multicallable: grpc.aio.UnaryUnaryMultiCallable[Any, T],
        request: Any,
        *,
        deadline: float | None,
    ) -> tuple[T, grpc.aio.Metadata | None]:
        """Call `multicallable` (the stub attribute for `method`) with `deadline` seconds.

        Returns the reply and the trailing metadata (where servers built on mockinfra.common
        put `x-instance`); a failure is recorded, then its `AioRpcError` raised unchanged.
        """
        labels = self.labels(method)
        start = time.perf_counter()
        labels[2].inc()
        code = "UNKNOWN"
        with self.span(method) as span:
            try:
                call = multicallable(request, timeout=deadline, metadata=self.outgoing())
                reply: T = await call
                trailing = await call.trailing_metadata()
                code = "OK"
                return reply, trailing
            except grpc.aio.AioRpcError as exc:
                code = exc.code().name
                if span.is_recording():
                    span.set_status(trace.StatusCode.ERROR, code)
                raise
            except asyncio.CancelledError:
                code = "CANCELLED"
                raise
            finally:
                self.finish(labels, code, start)


class TelemetryClientInterceptor(grpc.aio.UnaryUnaryClientInterceptor):  # type: ignore[type-arg]
    """`ClientTelemetry` as a grpc.aio interceptor, for channels whose callers use bare stubs."""

    def __init__(self, rt: Runtime) -> None:
        self.telemetry = ClientTelemetry(rt)

    async def intercept_unary_unary(
        self,
        continuation: Callable[[grpc.aio.ClientCallDetails, Any], Any],
        client_call_details: grpc.aio.ClientCallDetails,
        request: Any,
    ) -> Any:
        method = client_call_details.method
        method = method.decode() if isinstance(method, bytes) else method
        telemetry = self.telemetry
        labels = telemetry.labels(method)
        start = time.perf_counter()
        labels[2].inc()
        code = "UNKNOWN"
        with telemetry.span(method) as span:
            details = grpc.aio.ClientCallDetails(
                client_call_details.method,
                client_call_details.timeout,
                grpc.aio.Metadata(*telemetry.outgoing(client_call_details.metadata or ())),
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
                telemetry.finish(labels, code, start)


def client_interceptors(rt: Runtime) -> list[grpc.aio.ClientInterceptor]:
    """The interceptors every gRPC client of a mock service installs."""
    return [TelemetryClientInterceptor(rt)]  # type: ignore[list-item]


def insecure_channel(
    rt: Runtime,
    target: str,
    *,
    retries: bool = False,
    options: Sequence[tuple[str, Any]] = (),
    interceptors: bool = True,
) -> grpc.aio.Channel:
    """A grpc.aio channel with the telemetry interceptors and keepalive.

    `retries=True` retries UNAVAILABLE twice (for idempotent calls). Off by default: an
    injected UNAVAILABLE would otherwise be hidden from the caller and its error rate.
    `interceptors=False` for a caller that applies `ClientTelemetry.unary` to every call itself.
    """
    merged: dict[str, Any] = dict(CHANNEL_OPTIONS)
    if retries:
        merged.update(RETRY_OPTIONS)
    merged.update(dict(options))
    chain = client_interceptors(rt) if interceptors else None
    return grpc.aio.insecure_channel(
        target,
        options=list(merged.items()),
        interceptors=chain,  # type: ignore[arg-type]
    )
