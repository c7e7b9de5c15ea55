"""`start_server_span` without recording makes the span the SDK would make: same trace id,
flags and parentage, a fresh span id, current for the block; otherwise it defers to the SDK."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider

from mockinfra.common import tracing
from mockinfra.common.tracing import RecordWhenConsumed, extract, start_server_span

PARENT_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_SPAN = "00f067aa0ba902b7"


@pytest.fixture
def tracer(monkeypatch: pytest.MonkeyPatch) -> Iterator[trace.Tracer]:
    """A provider of the test's own that records nothing (no exporter, no processor)."""
    sampler = RecordWhenConsumed()
    provider = TracerProvider(sampler=sampler)
    monkeypatch.setattr(tracing, "_provider", provider)
    monkeypatch.setattr(tracing, "_sampler", sampler)
    yield provider.get_tracer("test")


def _sdk(tracer: trace.Tracer, carrier: dict[str, str] | None) -> trace.SpanContext:
    with tracer.start_as_current_span(
        "sdk", context=extract(carrier) if carrier else None, kind=trace.SpanKind.SERVER
    ) as span:
        return span.get_span_context()


@pytest.mark.parametrize("flags", ["00", "02"])
def test_child_of_an_unsampled_parent_matches_the_sdk(tracer: trace.Tracer, flags: str) -> None:
    carrier = {"traceparent": f"00-{PARENT_TRACE}-{PARENT_SPAN}-{flags}"}
    with start_server_span(tracer, "fast", carrier) as span:
        ctx = span.get_span_context()
        assert trace.get_current_span() is span
        assert not span.is_recording()
    assert not trace.get_current_span().get_span_context().is_valid
    sdk = _sdk(tracer, carrier)
    assert ctx.trace_id == sdk.trace_id == int(PARENT_TRACE, 16)
    assert ctx.trace_flags == sdk.trace_flags
    assert ctx.span_id not in (0, int(PARENT_SPAN, 16))
    assert not ctx.is_remote


def test_root_matches_the_sdk(tracer: trace.Tracer) -> None:
    with start_server_span(tracer, "fast", None) as span:
        ctx = span.get_span_context()
    sdk = _sdk(tracer, None)
    assert ctx.is_valid and ctx.trace_id != sdk.trace_id
    assert ctx.trace_flags == sdk.trace_flags
    assert not span.is_recording()


@pytest.mark.parametrize(
    "carrier",
    [
        {"traceparent": f"00-{PARENT_TRACE}-{PARENT_SPAN}-01"},  # sampled: the SDK records it
        {"traceparent": f"00-{PARENT_TRACE}-{PARENT_SPAN}-00", "tracestate": "a=1"},
        {"traceparent": f"00-{'0' * 32}-{PARENT_SPAN}-00"},  # invalid: the SDK starts a root
        {"traceparent": "garbage"},
    ],
)
def test_anything_else_is_the_sdks(tracer: trace.Tracer, carrier: dict[str, str]) -> None:
    with start_server_span(tracer, "slow", carrier) as span:
        ctx = span.get_span_context()
        recording = span.is_recording()
    sdk = _sdk(tracer, carrier)
    assert recording == carrier["traceparent"].endswith("-01")
    assert ctx.trace_flags == sdk.trace_flags
    assert (ctx.trace_id == sdk.trace_id) == carrier["traceparent"].startswith(f"00-{PARENT_TRACE}")
    if "tracestate" in carrier:
        assert ctx.trace_state.get("a") == "1"


def test_recording_defers_to_the_sdk(tracer: trace.Tracer) -> None:
    assert tracing._sampler is not None
    tracing._sampler.consume()
    with start_server_span(tracer, "recorded", None) as span:
        assert span.is_recording()
