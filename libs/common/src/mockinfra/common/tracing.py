"""Tracing hooks: a tracer provider from the standard `OTEL_*` variables, W3C propagation.

Spans are always created, so logs carry trace and span ids and W3C context propagates; they are
recorded only when something consumes them: an OTLP endpoint, a span processor passed in (tests),
or an explicit `OTEL_TRACES_SAMPLER` (then the SDK's sampler applies as configured). Otherwise
spans are non-recording (valid ids, no attributes, no processors): recording and ending spans
nobody exports cost about 7% of the frontend's CPU. Nothing at all with `OTEL_SDK_DISABLED=true`.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, MutableMapping, Sequence
from typing import Final

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.sdk.trace.sampling import (
    ALWAYS_OFF,
    ALWAYS_ON,
    ParentBased,
    Sampler,
    SamplingResult,
)
from opentelemetry.trace import Link, SpanKind
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from opentelemetry.util.types import Attributes

_PROPAGATOR = TraceContextTextMapPropagator()
_provider: TracerProvider | None = None
_RECORD: Final = ParentBased(ALWAYS_ON)
_IDS_ONLY: Final = ParentBased(ALWAYS_OFF)


class RecordWhenConsumed(Sampler):
    """Parent-based; roots are recorded only once something consumes spans (`consume()`).

    Switchable because tracers keep the sampler they were created with, and a test may add
    its in-memory exporter after the service's tracer exists.
    """

    def __init__(self) -> None:
        self._delegate: Sampler = _IDS_ONLY

    def consume(self) -> None:
        self._delegate = _RECORD

    @property
    def recording(self) -> bool:
        return self._delegate is _RECORD

    def should_sample(
        self,
        parent_context: otel_context.Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        trace_state: trace.TraceState | None = None,
    ) -> SamplingResult:
        return self._delegate.should_sample(
            parent_context, trace_id, name, kind, attributes, links, trace_state
        )

    def get_description(self) -> str:
        return f"RecordWhenConsumed{{{self._delegate.get_description()}}}"


_sampler: RecordWhenConsumed | None = None


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
    global _provider, _sampler
    if os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return trace.NoOpTracer()
    if _provider is None:
        resource = Resource.create({"service.name": service, "service.instance.id": instance})
        explicit = bool(os.environ.get("OTEL_TRACES_SAMPLER", "").strip())
        _sampler = None if explicit else RecordWhenConsumed()
        _provider = TracerProvider(resource=resource, sampler=_sampler)  # None: from env
        exporter = _otlp_exporter()
        if exporter is not None:
            _provider.add_span_processor(BatchSpanProcessor(exporter))
            if _sampler is not None:
                _sampler.consume()
        trace.set_tracer_provider(_provider)
    for processor in span_processors:
        _provider.add_span_processor(processor)
        if _sampler is not None:
            _sampler.consume()
    return _provider.get_tracer(f"mockinfra.{service}", attributes={"instance": instance})


def spans_recorded() -> bool:
    """Whether new root spans are recorded (an exporter, a test processor, or an env sampler)."""
    return _provider is not None and (_sampler is None or _sampler.recording)


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
