"""Durable alert storage in SQLite (stdlib), one row per alert per notification.

sqlite3 blocks, so every call runs in a worker thread; one connection, serialised by a lock,
is enough for a webhook receiver (Alertmanager posts a handful of notifications a minute).
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from mockinfra.alertsink.schemas import AlertStatus, StoredAlert, WebhookPayload

_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS alerts (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    status      TEXT NOT NULL,
    alertname   TEXT NOT NULL,
    instance    TEXT NOT NULL,
    service     TEXT NOT NULL,
    severity    TEXT NOT NULL,
    labels      TEXT NOT NULL,
    annotations TEXT NOT NULL,
    starts_at   TEXT NOT NULL,
    ends_at     TEXT,
    fingerprint TEXT NOT NULL,
    receiver    TEXT NOT NULL,
    group_key   TEXT NOT NULL,
    received_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS alerts_received ON alerts (received_at);
CREATE INDEX IF NOT EXISTS alerts_name ON alerts (alertname, status);
"""
_COLUMNS: Final = (
    "id, status, alertname, instance, service, severity, labels, annotations, starts_at, "
    "ends_at, fingerprint, receiver, group_key, received_at"
)


def _iso(value: datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat(timespec="microseconds")


class AlertStore:
    """Append and query alerts; open with `await AlertStore.open(path)`."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self._lock = threading.Lock()

    @classmethod
    async def open(cls, path: Path) -> AlertStore:
        def connect() -> sqlite3.Connection:
            path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.executescript(_SCHEMA)
            return conn

        return cls(await asyncio.to_thread(connect))

    async def close(self) -> None:
        await asyncio.to_thread(self._conn.close)

    async def add(self, payload: WebhookPayload, *, received_at: datetime | None = None) -> int:
        """Store every alert of a notification in one transaction; returns how many."""
        now = _iso(received_at or datetime.now(UTC))
        rows = [
            (
                alert.status,
                alert.labels.get("alertname", ""),
                alert.labels.get("instance", ""),
                alert.labels.get("service", ""),
                alert.labels.get("severity", ""),
                json.dumps(alert.labels, sort_keys=True),
                json.dumps(alert.annotations, sort_keys=True),
                _iso(alert.starts_at),
                _iso(alert.ends_at) if alert.ends_at is not None else None,
                alert.fingerprint,
                payload.receiver,
                payload.group_key,
                now,
            )
            for alert in payload.alerts
        ]

        def write() -> None:
            with self._lock:
                self._conn.execute("BEGIN")
                try:
                    self._conn.executemany(
                        f"INSERT INTO alerts ({_COLUMNS.removeprefix('id, ')}) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        rows,
                    )
                except BaseException:
                    self._conn.execute("ROLLBACK")
                    raise
                self._conn.execute("COMMIT")

        await asyncio.to_thread(write)
        return len(rows)

    async def list(
        self,
        *,
        status: AlertStatus | None = None,
        alertname: str | None = None,
        instance: str | None = None,
        since: datetime | None = None,
        limit: int = 100,
    ) -> list[StoredAlert]:
        """Newest first, filtered by every given criterion."""
        where: list[str] = []
        params: list[Any] = []
        for column, value in (("status", status), ("alertname", alertname), ("instance", instance)):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        if since is not None:
            where.append("received_at >= ?")
            params.append(_iso(since))
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        sql = f"SELECT {_COLUMNS} FROM alerts {clause} ORDER BY id DESC LIMIT ?"
        params.append(limit)

        def read() -> list[tuple[Any, ...]]:
            with self._lock:
                return self._conn.execute(sql, params).fetchall()

        return [_row(r) for r in await asyncio.to_thread(read)]


def _row(r: tuple[Any, ...]) -> StoredAlert:
    return StoredAlert(
        id=r[0],
        status=r[1],
        alertname=r[2],
        instance=r[3],
        service=r[4],
        severity=r[5],
        labels=json.loads(r[6]),
        annotations=json.loads(r[7]),
        starts_at=datetime.fromisoformat(r[8]),
        ends_at=datetime.fromisoformat(r[9]) if r[9] is not None else None,
        fingerprint=r[10],
        receiver=r[11],
        group_key=r[12],
        received_at=datetime.fromisoformat(r[13]),
    )
