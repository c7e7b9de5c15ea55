"""Structured JSON logs: one object per line, redacted, with request and trace ids.

Records are formatted on the caller's thread (so the request id and the current span are
those of the request), queued as lines and written by a listener thread, so a slow stdout or
disk never blocks the event loop. The listener writes what accumulated every BATCH_SECONDS in
one write per output: under load that is one system call (and one read by supervisord or the
container runtime) for dozens of lines instead of one each, and callers seldom have to wake it.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import logging
import logging.handlers
import queue
import re
import sys
import time
from collections.abc import Iterable, Mapping
from contextvars import ContextVar
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, cast

import orjson
from opentelemetry import trace

request_id_var: ContextVar[str] = ContextVar("request_id", default="")

REDACTED: Final = "[REDACTED]"
SENSITIVE_KEY: Final = re.compile(
    r"pass(word|wd)?|secret|token|authori[sz]ation|api[-_]?key|cookie|credential|private[-_]?key",
    re.IGNORECASE,
)
_BEARER: Final = re.compile(r"\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+", re.IGNORECASE)
_PAIR: Final = re.compile(
    r"\b(password|passwd|pwd|secret|token|api[-_]?key)(\s*[=:]\s*)(\"[^\"]*\"|'[^']*'|[^\s,;&]+)",
    re.IGNORECASE,
)
_EMAIL: Final = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
_CARD: Final = re.compile(r"(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d-])")
_URL_CREDENTIALS: Final = re.compile(r"(://[^:/@\s]+:)([^@/\s]+)(@)")

# Attributes every LogRecord has; anything else came from `extra=`.
_RECORD_ATTRS: Final = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", None, None)).keys() | {"message", "asctime"}
)
_HANDLER_NAME: Final = "mockinfra-json"
_MEMO_MAX_LEN: Final = 512
# `extra=` fields whose values are ours and never carry user data (HTTP method, route template,
# status, duration, fault kind): written as they are when they are plain numbers or strings.
SAFE_FIELDS: Final = frozenset({"method", "route", "status_code", "duration_ms", "fault"})
# How long the listener lets lines accumulate before writing them (the most a line waits).
BATCH_SECONDS: Final = 0.05
# Every log file of the stack is rotated at this size, keeping this many old files: a service's
# own file (`MOCKINFRA_LOG_FILE`, as in compose), and locally what supervisord writes and nginx's.
LOG_MAX_BYTES: Final = 20 * 1024 * 1024
LOG_BACKUPS: Final = 3
_PLAIN: Final = (str, int, float)


def _luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def _mask_card(match: re.Match[str]) -> str:
    digits = re.sub(r"[ -]", "", match.group(0))
    return "[CARD]" if _luhn(digits) else match.group(0)


def redact_text(text: str) -> str:
    """Mask bearer tokens, `password=...` pairs, URL passwords, emails and card numbers.

    Short texts are memoised: the same access-log message and path recur on every request,
    and five regular expressions per string were a visible share of a request's CPU.
    """
    if not text:
        return text
    if len(text) <= _MEMO_MAX_LEN:
        return _redact_memo(text)
    return _redact_uncached(text)


def _redact_uncached(text: str) -> str:
    text = _BEARER.sub(lambda m: f"{m.group(1)} {REDACTED}", text)
    text = _PAIR.sub(lambda m: f"{m.group(1)}{m.group(2)}{REDACTED}", text)
    text = _URL_CREDENTIALS.sub(lambda m: f"{m.group(1)}{REDACTED}{m.group(3)}", text)
    if "@" in text:
        text = _EMAIL.sub("[EMAIL]", text)
    return _CARD.sub(_mask_card, text)


_redact_memo: Final = functools.lru_cache(maxsize=8192)(_redact_uncached)


def redact(value: Any, _depth: int = 0) -> Any:
    """Redact a value recursively: sensitive keys lose their value, strings are masked."""
    if isinstance(value, str):
        return redact_text(value)
    if _depth > 10:
        return REDACTED  # nothing we log is this deep; refuse rather than recurse forever
    if isinstance(value, Mapping):
        return {
            str(k): REDACTED if _sensitive_key(str(k)) else redact(v, _depth + 1)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple | set | frozenset):
        return [redact(v, _depth + 1) for v in value]
    if value is None or isinstance(value, bool | int | float):
        return value
    return redact_text(str(value))


@functools.lru_cache(maxsize=4)
def _second(whole: int) -> str:
    return datetime.fromtimestamp(whole, UTC).strftime("%Y-%m-%dT%H:%M:%S")


def _timestamp(created: float) -> str:
    """RFC 3339 UTC with milliseconds; the date-time part is computed once per second."""
    whole = int(created)
    return f"{_second(whole)}.{int((created - whole) * 1000):03d}Z"


@functools.lru_cache(maxsize=256)
def _sensitive_key(key: str) -> bool:
    return SENSITIVE_KEY.search(key) is not None


class JsonFormatter(logging.Formatter):
    """One redacted JSON object per record, with service, instance, request and trace ids."""

    def __init__(self, service: str, instance: str) -> None:
        super().__init__()
        self.service = service
        self.instance = instance

    def format(self, record: logging.LogRecord) -> str:
        exception = None
        if record.exc_info:
            exception = self.formatException(record.exc_info)
        elif record.exc_text:
            exception = record.exc_text
        return self.render(
            record.created,
            record.levelname,
            record.name,
            record.getMessage(),
            getattr(record, "request_id", None),
            ((k, v) for k, v in record.__dict__.items() if k not in _RECORD_ATTRS),
            exception,
        )

    def render(
        self,
        created: float,
        level_name: str,
        logger_name: str,
        message: str,
        request_id: str | None,
        fields: Iterable[tuple[str, Any]],
        exception: str | None = None,
    ) -> str:
        """The JSON line of one record, given its parts (`format` and `log_fast` share it)."""
        ctx = trace.get_current_span().get_span_context()
        entry: dict[str, Any] = {
            "timestamp": _timestamp(created),
            "level": level_name,
            "service": self.service,
            "instance": self.instance,
            "logger": logger_name,
            "message": redact_text(message),
            "request_id": request_id or request_id_var.get(),
            "trace_id": format(ctx.trace_id, "032x") if ctx.is_valid else "",
            "span_id": format(ctx.span_id, "016x") if ctx.is_valid else "",
        }
        for key, value in fields:
            if key in entry or key.startswith("_"):
                continue
            if key in SAFE_FIELDS and isinstance(value, _PLAIN):
                entry[key] = value
            else:
                entry[key] = REDACTED if _sensitive_key(key) else redact(value)
        if exception:
            entry["exception"] = redact_text(exception)
        return orjson.dumps(entry, default=str).decode()


class _FormattingQueueHandler(logging.Handler):
    """Formats on the caller's thread (context vars and the current span live there) and
    queues the line. The queue carries lines, not records: the writers need nothing else, and
    a record per line is one more object for the collector to track."""

    def __init__(self, lines: queue.SimpleQueue[str | None]) -> None:
        super().__init__()
        self.lines = lines

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.lines.put_nowait(self.format(record))
        except Exception:
            self.handleError(record)


def _write_lines(handler: logging.StreamHandler[Any], text: str) -> None:
    """One write and one flush for a batch of lines (`handler.emit` does both per line);
    a rotating file is rotated first when the batch would take it past its size."""
    with handler.lock or contextlib.nullcontext():
        try:
            stream = handler.stream
            if stream is None:  # a FileHandler opened lazily, or closed
                stream = handler.stream = handler._open()  # type: ignore[attr-defined]
            if isinstance(handler, logging.handlers.RotatingFileHandler) and _full(
                handler, stream, text
            ):
                handler.doRollover()
                stream = handler.stream
            stream.write(text)
            handler.flush()
        except Exception:  # a log sink failing must not kill the listener
            handler.handleError(logging.makeLogRecord({"msg": text[:200]}))


def _full(handler: logging.handlers.RotatingFileHandler, stream: Any, text: str) -> bool:
    """Whether `text` would take the file to its size (never for an empty file: a batch larger
    than the limit is written whole rather than rotated away unwritten)."""
    if handler.maxBytes <= 0 or handler.backupCount <= 0:
        return False
    position: int = stream.seek(0, 2)  # the end, as RotatingFileHandler.shouldRollover does
    return position > 0 and position + len(text.encode("utf-8")) > handler.maxBytes


class _BatchingListener(logging.handlers.QueueListener):
    """A `QueueListener` that writes what accumulated in one go.

    It waits for a first line, lets more arrive for BATCH_SECONDS, then takes every queued line
    and writes them with one write per output. The sentinel of `stop()` ends it after the
    lines queued before it are written.
    """

    def _monitor(self) -> None:
        outputs = [h for h in self.handlers if isinstance(h, logging.StreamHandler)]
        lines_queue: queue.SimpleQueue[str | None] = self.queue  # type: ignore[assignment]
        while True:
            batch = [lines_queue.get()]
            time.sleep(BATCH_SECONDS)
            while True:
                try:
                    batch.append(lines_queue.get_nowait())
                except queue.Empty:
                    break
            # `stop()` enqueues None (QueueListener's sentinel) after the last line.
            lines = [line for line in batch if line is not None]
            if lines:
                text = "\n".join(lines) + "\n"
                for handler in outputs:
                    _write_lines(handler, text)
            if None in batch:
                return


_listener: logging.handlers.QueueListener | None = None
# The handler `configure_logging` installed on the root logger, for `log_fast`.
_json_handler: _FormattingQueueHandler | None = None


def _reaches_only(logger: logging.Logger, handler: logging.Handler) -> bool:
    """Whether a record of `logger` would go to `handler` alone, through no filter."""
    current: logging.Logger | None = logger
    while current is not None:
        if current.filters or current.disabled:
            return False
        handlers = current.handlers
        if handlers:
            return (
                current.parent is None
                and len(handlers) == 1
                and handlers[0] is handler
                and not handler.filters
            )
        if not current.propagate:
            return False
        current = current.parent
    return False


def log_fast(logger: logging.Logger, level: int, message: str, extra: Mapping[str, Any]) -> None:
    """Log an already formatted message cheaply (the per-request access lines).

    When the record would reach only the JSON handler, the line is rendered and queued directly:
    no LogRecord, no handler chain (23 -> about 10 us per line). Otherwise (a test's capturing
    handler, a filter) it is an ordinary record, without `findCaller`'s stack walk. Either way
    the line is the same; the record's source location is not filled in (JSON lines do not
    carry it).
    """
    if not logger.isEnabledFor(level):
        return
    handler = _json_handler
    if handler is not None and level >= handler.level and _reaches_only(logger, handler):
        formatter = cast(JsonFormatter, handler.formatter)
        text = formatter.render(
            time.time(), logging.getLevelName(level), logger.name, message, None, extra.items()
        )
        handler.lines.put_nowait(text)
        return
    record = logger.makeRecord(logger.name, level, "", 0, message, (), None, None, extra)
    logger.handle(record)


def flush_logs() -> None:
    """Write every queued line now (before `os._exit`, at shutdown)."""
    if _listener is not None:
        _listener.stop()  # drains the queue, then joins the thread
        for handler in _listener.handlers:
            handler.flush()
        _listener.start()


def configure_logging(
    *,
    service: str,
    instance: str,
    level: str | int = "INFO",
    file: Path | str | None = None,
    max_bytes: int = LOG_MAX_BYTES,
    backups: int = LOG_BACKUPS,
) -> logging.Logger:
    """Route every logger (uvicorn's included) to JSON lines on stdout and `file`.

    `file` is rotated once it would pass `max_bytes`, keeping `backups` old files (`.1` the
    newest); `max_bytes=0` or `backups=0` lets it grow. Idempotent: a second call replaces the
    previous handler instead of adding one.
    """
    global _listener, _json_handler
    root = logging.getLogger()
    if _listener is not None:
        _listener.stop()
        _listener = None
    for handler in list(root.handlers):
        if handler.get_name() == _HANDLER_NAME:
            root.removeHandler(handler)

    # Plain handlers: the listener writes the queued lines through their streams.
    outputs: list[logging.Handler] = [logging.StreamHandler(sys.stdout)]
    if file is not None:
        path = Path(file)
        path.parent.mkdir(parents=True, exist_ok=True)
        outputs.append(
            logging.handlers.RotatingFileHandler(
                path, maxBytes=max_bytes, backupCount=backups, encoding="utf-8"
            )
        )
    q: queue.SimpleQueue[str | None] = queue.SimpleQueue()
    handler = _FormattingQueueHandler(q)
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(JsonFormatter(service, instance))
    root.addHandler(handler)
    _json_handler = handler
    root.setLevel(level)
    _listener = _BatchingListener(q, *outputs, respect_handler_level=False)
    _listener.start()

    # Uvicorn's loggers: errors go through our JSON format; its access log is replaced by
    # the middleware's richer access line.
    for name in ("uvicorn", "uvicorn.error"):
        lg = logging.getLogger(name)
        lg.handlers.clear()
        lg.propagate = True
    access = logging.getLogger("uvicorn.access")
    access.handlers.clear()
    access.propagate = False
    access.disabled = True
    return logging.getLogger(service)


def _stop_listener() -> None:
    global _listener
    if _listener is not None:
        _listener.stop()
        _listener = None


atexit.register(_stop_listener)
