"""configure_logging writes JSON lines to a file through a background thread, idempotently."""

from __future__ import annotations

import logging
from pathlib import Path

import orjson

from mockinfra.common.logging import configure_logging, flush_logs


def test_file_output_and_idempotence(tmp_path: Path) -> None:
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    path = tmp_path / "svc.log"
    try:
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
    finally:
        for handler in list(root.handlers):
            if handler.get_name() == "mockinfra-json":
                root.removeHandler(handler)
        for handler in saved[0]:
            if handler not in root.handlers:
                root.addHandler(handler)
        root.setLevel(saved[1])
        logging.getLogger("uvicorn.access").disabled = False
