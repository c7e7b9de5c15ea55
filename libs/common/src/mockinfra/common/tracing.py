"""Tracing hooks: a tracer provider from the standard `OTEL_*` variables, W3C propagation.

Spans are always created, so logs carry trace and span ids and W3C context propagates; they are
recorded only when something consumes them: an OTLP endpoint, a span processor passed in (tests),
or an explicit `OTEL_TRACES_SAMPLER` (then the SDK's sampler applies as configured). Otherwise
spans are non-recording (valid ids, no attributes, no processors): recording and ending spans
nobody exports cost about 7% of the frontend's CPU. Nothing at all with `OTEL_SDK_DISABLED=true`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping, MutableMapping, Sequence
from contextlib import AbstractContextManager
from types import TracebackType
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


# A version-00 traceparent exactly as W3C writes it; anything else takes the SDK's path.
_TRACEPARENT: Final = re.compile(r"00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})")
_INVALID_TRACE: Final = "0" * 32
_INVALID_SPAN: Final = "0" * 16


class _IdsOnly(AbstractContextManager[trace.Span]):
    """A non-recording span made current for the block (what the SDK's path yields then)."""

    __slots__ = ("span", "token")

    def __init__(self, span: trace.Span) -> None:
        self.span = span
        self.token: object = None

    def __enter__(self) -> trace.Span:
        self.token = otel_context.attach(trace.set_span_in_context(self.span))
        return self.span

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        otel_context.detach(self.token)  # type: ignore[arg-type]


def _ids_only(traceparent: str | None) -> _IdsOnly | None:
    """The span the SDK would make when it records nothing, without its layers; None when the
    SDK must decide (spans recorded, a sampled or unusual parent, a current span already set)."""
    provider = _provider
    if provider is None or _sampler is None or _sampler.recording:
        return None
    ids = provider.id_generator
    if traceparent is None:
        if trace.get_current_span().get_span_context().is_valid:
            return None
        trace_id = ids.generate_trace_id()
        flags = trace.TraceFlags.RANDOM_TRACE_ID if ids.is_trace_id_random() else 0
    else:
        match = _TRACEPARENT.fullmatch(traceparent)
        if match is None:
            return None
        hex_trace, hex_span, hex_flags = match.groups()
        parent_flags = int(hex_flags, 16)
        if hex_trace == _INVALID_TRACE or hex_span == _INVALID_SPAN or parent_flags & 0x01:
            return None
        trace_id = int(hex_trace, 16)
        flags = parent_flags & trace.TraceFlags.RANDOM_TRACE_ID
    context = trace.SpanContext(
        trace_id, ids.generate_span_id(), is_remote=False, trace_flags=trace.TraceFlags(flags)
    )
    return _IdsOnly(trace.NonRecordingSpan(context))


def start_server_span(
    tracer: trace.Tracer,
    name: str,
    carrier: Mapping[str, str] | None,
    *,
    record_exception: bool = True,
    set_status_on_exception: bool = True,
) -> AbstractContextManager[trace.Span]:
    """`tracer.start_as_current_span(name, context=extract(carrier), kind=SERVER)`, cheaper
    when spans are not recorded: the same ids and flags without the SDK's sampler and
    context-manager layers (per request they were 4-7% of a service's CPU)."""
    if carrier is None or "tracestate" not in carrier:
        fast = _ids_only(carrier.get("traceparent") if carrier else None)
        if fast is not None:
            return fast
    return tracer.start_as_current_span(
        name,
        context=extract(carrier) if carrier else None,
        kind=SpanKind.SERVER,
        record_exception=record_exception,
        set_status_on_exception=set_status_on_exception,
    )


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
