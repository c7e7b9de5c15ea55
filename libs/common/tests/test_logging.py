"""Structured logs: fields, trace ids, redaction."""

from __future__ import annotations

import logging

from opentelemetry import trace

from mockinfra.common.logging import log_fast, redact_text, request_id_var
from mockinfra.common.runtime import Runtime

from .conftest import LogLines

SECRETS = ("hunter2", "eyJhbGciOi.abc.def", "jane.doe@example.com", "4111111111111111")


def test_redaction_of_message_and_extra_fields(logs: LogLines) -> None:
    log = logging.getLogger("test.redaction")
    log.warning(
        "login password=hunter2 auth=Bearer eyJhbGciOi.abc.def for jane.doe@example.com "
        "card 4111 1111 1111 1111",
        extra={
            "user": {"email": "jane.doe@example.com", "password": "hunter2"},
            "headers": [{"authorization": "Bearer eyJhbGciOi.abc.def"}],
            "api_key": "hunter2",
            "card": "4111-1111-1111-1111",
        },
    )
    raw = logs.raw
    assert raw, "nothing was logged"
    for secret in SECRETS:
        assert secret not in raw
    assert "4111 1111 1111 1111" not in raw and "4111-1111-1111-1111" not in raw
    (record,) = logs.records()
    assert record["user"] == {"email": "[EMAIL]", "password": "[REDACTED]"}
    assert record["api_key"] == "[REDACTED]"


def test_redaction_keeps_ordinary_numbers() -> None:
    # 16 digits that fail the Luhn check are ids, not cards, and stay readable.
    assert redact_text("order 1234567890123456 took 12 ms") == "order 1234567890123456 took 12 ms"
    assert redact_text("card 4111111111111111") == "card [CARD]"


def test_json_fields_with_trace_and_request_ids(logs: LogLines, rt: Runtime) -> None:
    token = request_id_var.set("req-42")
    try:
        with rt.tracer.start_as_current_span("work") as span:
            logging.getLogger("test.fields").info("hello", extra={"fault": "latency", "n": 3})
            ctx = span.get_span_context()
    finally:
        request_id_var.reset(token)
    logging.getLogger("test.fields").error("no span")
    inside, outside = logs.records()
    assert inside["trace_id"] == format(ctx.trace_id, "032x")
    assert inside["span_id"] == format(ctx.span_id, "016x")
    assert inside["request_id"] == "req-42"
    assert inside["fault"] == "latency" and inside["n"] == 3
    assert inside["level"] == "INFO" and inside["logger"] == "test.fields"
    assert inside["service"] == "orders" and inside["instance"] == "orders-1"
    assert str(inside["timestamp"]).endswith("Z")
    assert outside["trace_id"] == "" and outside["span_id"] == "" and outside["request_id"] == ""
    assert trace.get_current_span().get_span_context().is_valid is False


def test_exception_is_a_field(logs: LogLines) -> None:
    try:
        raise RuntimeError("boom with password=hunter2")
    except RuntimeError:
        logging.getLogger("test.exc").exception("failed")
    (record,) = logs.records()
    assert "RuntimeError" in str(record["exception"])
    assert "hunter2" not in logs.raw


def test_log_fast_reaches_other_handlers(logs: LogLines) -> None:
    # A handler besides the JSON one (a test's, a filter's) gets log_fast's lines as records.
    log_fast(logging.getLogger("test.access"), logging.INFO, "GET / 200", {"status_code": 200})
    (record,) = logs.records()
    assert record["message"] == "GET / 200" and record["status_code"] == 200
