"""Tracing hooks: a tracer provider from the standard `OTEL_*` variables, W3C propagation.

Spans are always created (so logs carry trace and span ids); they are exported over OTLP only
when an endpoint is configured, and not at all when `OTEL_SDK_DISABLED=true`.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, MutableMapping, Sequence

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

_PROPAGATOR = TraceContextTextMapPropagator()
_provider: TracerProvider | None = None


def _otlp_exporter() -> SpanExporter | None:
    """The OTLP exporter the environment asks for, or None when no endpoint is set."""
    if not (
        os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
        or os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    ):
        return None
    protocol = os.environ.get(
        "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
    )
    if protocol.startswith("http"):
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
            OTLPSpanExporter as HttpExporter,
        )

        return HttpExporter()
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
        OTLPSpanExporter as GrpcExporter,
    )

    return GrpcExporter()


def configure_tracing(
    service: str, instance: str, *, span_processors: Sequence[SpanProcessor] = ()
) -> trace.Tracer:
    """Install the process's tracer provider (once) and return this service's tracer.

    `span_processors` lets tests add e.g. `SimpleSpanProcessor(InMemorySpanExporter())`;
    processors passed to a later call are added to the existing provider.
    """
    global _provider
    if os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return trace.NoOpTracer()
    if _provider is None:
        resource = Resource.create({"service.name": service, "service.instance.id": instance})
        _provider = TracerProvider(resource=resource)
        exporter = _otlp_exporter()
        if exporter is not None:
            _provider.add_span_processor(BatchSpanProcessor(exporter))
        trace.set_tracer_provider(_provider)
    for processor in span_processors:
        _provider.add_span_processor(processor)
    return _provider.get_tracer(f"mockinfra.{service}", attributes={"instance": instance})


def shutdown_tracing() -> None:
    """Flush pending spans (at process exit)."""
    if _provider is not None:
        _provider.shutdown()


def inject(carrier: MutableMapping[str, str], context: otel_context.Context | None = None) -> None:
    """Write the current trace context into HTTP headers or gRPC metadata (lowercase keys)."""
    _PROPAGATOR.inject(carrier, context=context)


def extract(carrier: Mapping[str, str] | Iterable[tuple[str, str | bytes]]) -> otel_context.Context:
    """The trace context carried by headers or metadata (a mapping or key/value pairs)."""
    if not isinstance(carrier, Mapping):
        carrier = {
            k.lower(): v.decode("latin-1") if isinstance(v, bytes) else v for k, v in carrier
        }
    return _PROPAGATOR.extract(carrier)
