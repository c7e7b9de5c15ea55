"""configure_logging writes JSON lines to a file through a background thread, idempotently."""

from __future__ import annotations

import io
import logging
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from mockinfra.common.logging import configure_logging, flush_logs, log_fast, request_id_var


@pytest.fixture
def restore_root_logging() -> Iterator[None]:
    """Leave the root logger as the test found it (configure_logging replaces its handler)."""
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    try:
        yield
    finally:
        flush_logs()
        for handler in list(root.handlers):
            if handler.get_name() == "mockinfra-json":
                root.removeHandler(handler)
        for handler in saved[0]:
            if handler not in root.handlers:
                root.addHandler(handler)
        root.setLevel(saved[1])
        logging.getLogger("uvicorn.access").disabled = False


@pytest.mark.usefixtures("restore_root_logging")
def test_file_output_and_idempotence(tmp_path: Path) -> None:
    path = tmp_path / "svc.log"
    configure_logging(service="svc", instance="svc-1", level="INFO", file=path)
    configure_logging(service="svc", instance="svc-1", level="INFO", file=path)
    logging.getLogger("svc").info("once token=abc123")
    logging.getLogger("svc").debug("below the level")
    flush_logs()
    lines = path.read_text().splitlines()
    assert len(lines) == 1, lines
    record = orjson.loads(lines[0])
    assert record["message"] == "once token=[REDACTED]"
    assert record["service"] == "svc" and record["instance"] == "svc-1"
    assert logging.getLogger("uvicorn.access").disabled


@pytest.mark.usefixtures("restore_root_logging")
def test_the_file_is_rotated_at_its_size_and_no_line_is_cut(tmp_path: Path) -> None:
    """As under compose, where each service writes its own file: rotated before a batch would
    take it past `max_bytes`, `backups` old files kept, every line whole and in order."""
    path = tmp_path / "svc.log"
    configure_logging(
        service="svc", instance="svc-1", level="INFO", file=path, max_bytes=8192, backups=3
    )
    log = logging.getLogger("svc")
    for batch in range(6):  # each flush writes one batch of 5-6 KB: one rotation per batch
        for i in range(10):
            log.info("batch %d line %d %s", batch, i, "x" * 300)
        flush_logs()
    files = [path.with_name(f"svc.log.{n}") for n in (3, 2, 1)] + [path]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(f.name for f in files)
    assert all(4096 < f.stat().st_size <= 8192 for f in files)
    messages = [orjson.loads(line)["message"] for f in files for line in f.read_text().splitlines()]
    # the two oldest batches went with the files beyond `backups`
    assert messages == [f"batch {b} line {i} {'x' * 300}" for b in range(2, 6) for i in range(10)]


@pytest.mark.usefixtures("restore_root_logging")
def test_a_file_with_no_size_limit_is_never_rotated(tmp_path: Path) -> None:
    path = tmp_path / "svc.log"
    configure_logging(service="svc", instance="svc-1", level="INFO", file=path, max_bytes=0)
    for batch in range(5):  # several batches: a file that is not empty meets each one
        for i in range(10):
            logging.getLogger("svc").info("batch %d line %d %s", batch, i, "x" * 200)
        flush_logs()
    assert [p.name for p in tmp_path.iterdir()] == ["svc.log"]
    assert len(path.read_text().splitlines()) == 50


class _CountingStream(io.StringIO):
    def __init__(self) -> None:
        super().__init__()
        self.writes = 0

    def write(self, text: str) -> int:
        self.writes += 1
        return super().write(text)


@pytest.mark.usefixtures("restore_root_logging")
def test_lines_are_written_in_batches_in_order(monkeypatch: pytest.MonkeyPatch) -> None:
    stream = _CountingStream()
    monkeypatch.setattr(sys, "stdout", stream)
    configure_logging(service="svc", instance="svc-1", level="INFO")
    log = logging.getLogger("svc")
    for i in range(200):
        log.info("line %d", i)
    deadline = time.monotonic() + 5
    while stream.getvalue().count("\n") < 200 and time.monotonic() < deadline:
        time.sleep(0.01)  # written by the listener without an explicit flush
    messages = [orjson.loads(line)["message"] for line in stream.getvalue().splitlines()]
    assert messages == [f"line {i}" for i in range(200)]
    assert stream.writes < 50  # one write per batch, not one per line (200)


@pytest.mark.usefixtures("restore_root_logging")
def test_log_fast_writes_the_line_a_record_would(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The direct path (no LogRecord, only the JSON handler listening) and the ordinary one
    (here forced by a filter) write the same line."""
    path = tmp_path / "svc.log"
    configure_logging(service="svc", instance="svc-1", level="INFO", file=path)
    root = logging.getLogger()
    for handler in list(root.handlers):  # pytest's capturing handlers (the fixture restores them)
        if handler.get_name() != "mockinfra-json":
            root.removeHandler(handler)
    log = logging.getLogger("svc.access")
    fields = {"method": "GET", "path": "/x?token=abc123", "route": "/x", "status_code": 200}
    token = request_id_var.set("req-7")
    try:
        with monkeypatch.context() as patched:

            def no_record(*args: object, **kwargs: object) -> logging.LogRecord:
                raise AssertionError("the direct path makes no LogRecord")

            patched.setattr(log, "makeRecord", no_record)
            log_fast(log, logging.INFO, "GET /x?token=abc123 200", fields)
        log.addFilter(lambda record: True)
        try:
            log_fast(log, logging.INFO, "GET /x?token=abc123 200", fields)
        finally:
            log.filters.clear()
        log_fast(log, logging.DEBUG, "below the level", fields)
    finally:
        request_id_var.reset(token)
    flush_logs()
    direct, ordinary = (orjson.loads(line) for line in path.read_text().splitlines())
    assert direct.pop("timestamp") and ordinary.pop("timestamp")
    assert direct == ordinary
    assert direct["message"] == "GET /x?token=[REDACTED] 200"
    assert direct["path"] == "/x?token=[REDACTED]" and direct["request_id"] == "req-7"
    assert direct["logger"] == "svc.access" and direct["status_code"] == 200
