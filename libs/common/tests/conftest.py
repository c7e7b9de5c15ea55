"""Fixtures: a runtime per test on its own metrics registry, with captured JSON log lines."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import orjson
import pytest
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from pydantic import SecretStr

from mockinfra.common.logging import JsonFormatter
from mockinfra.common.runtime import Runtime
from mockinfra.common.settings import ServiceSettings

TOKEN = "test-token"
SPANS = InMemorySpanExporter()
_PROCESSOR = SimpleSpanProcessor(SPANS)


class LogLines:
    """JSON lines written through the library's formatter, parsed."""

    def __init__(self) -> None:
        self.stream = io.StringIO()
        self.handler = logging.StreamHandler(self.stream)
        self.handler.setFormatter(JsonFormatter("orders", "orders-1"))

    @property
    def raw(self) -> str:
        return self.stream.getvalue()

    def records(self) -> list[dict[str, object]]:
        return [orjson.loads(line) for line in self.raw.splitlines() if line]


@pytest.fixture
def logs() -> Iterator[LogLines]:
    lines = LogLines()
    root = logging.getLogger()
    root.addHandler(lines.handler)
    old = root.level
    root.setLevel(logging.DEBUG)
    yield lines
    root.removeHandler(lines.handler)
    root.setLevel(old)


def make_runtime(**overrides: object) -> Runtime:
    values: dict[str, object] = {
        "service": "orders",
        "instance": "orders-1",
        "port": 0,
        "fault_seed": 7,
        "fault_token": SecretStr(TOKEN),
    }
    values.update(overrides)
    settings = ServiceSettings(**values)  # type: ignore[arg-type]
    return Runtime.create(settings, span_processors=[_PROCESSOR], configure_log=False)


@pytest.fixture
def rt() -> Iterator[Runtime]:
    runtime = make_runtime()
    yield runtime
    runtime.faults.close()


@pytest.fixture
def spans() -> InMemorySpanExporter:
    SPANS.clear()
    return SPANS
