"""What the stack says about a run: alerts firing in Alertmanager, annotations in Grafana.

Alertmanager is the source of truth for "fired" (what an agent is paged with), so the runner
polls its v2 API rather than Prometheus' pending/firing rule state.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

import httpx

from mockinfra.chaos.control import state_dir
from mockinfra.common import topology

# Where the stack runner may keep Grafana's admin password, relative to the state folder.
GRAFANA_PASSWORD_FILES: Final = ("secrets/grafana-admin", "grafana-admin-password")
GRAFANA_USER_ENV: Final = "MOCKINFRA_GRAFANA_USER"
GRAFANA_PASSWORD_ENV: Final = "MOCKINFRA_GRAFANA_PASSWORD"


@dataclass(frozen=True, slots=True)
class Alert:
    """One alert instance as Alertmanager reports it."""

    name: str
    labels: Mapping[str, str]
    fingerprint: str
    starts_at: datetime | None = None
    state: str = "active"

    @classmethod
    def from_api(cls, item: Mapping[str, Any]) -> Alert:
        labels = {str(k): str(v) for k, v in (item.get("labels") or {}).items()}
        starts = item.get("startsAt")
        return cls(
            name=labels.get("alertname", "?"),
            labels=labels,
            fingerprint=str(item.get("fingerprint") or sorted(labels.items())),
            starts_at=datetime.fromisoformat(starts) if starts else None,
            state=str((item.get("status") or {}).get("state", "active")),
        )


@dataclass(slots=True)
class AlertmanagerClient:
    """Reads the alerts Alertmanager currently holds (active, silenced or inhibited)."""

    http: httpx.AsyncClient
    base_url: str = field(default_factory=lambda: topology.url("alertmanager"))
    timeout: float = 5.0

    async def firing(self) -> list[Alert]:
        resp = await self.http.get(
            f"{self.base_url}/api/v2/alerts", params={"active": "true"}, timeout=self.timeout
        )
        resp.raise_for_status()
        return [Alert.from_api(item) for item in resp.json()]


def _grafana_auth() -> tuple[str, str] | None:
    password = os.environ.get(GRAFANA_PASSWORD_ENV)
    for name in GRAFANA_PASSWORD_FILES:
        if password:
            break
        with contextlib.suppress(OSError):
            password = (state_dir() / name).read_text(encoding="utf-8").strip()
    if not password:
        return None
    return (os.environ.get(GRAFANA_USER_ENV, "admin"), password)


@dataclass(slots=True)
class GrafanaAnnotator:
    """Posts run events as Grafana annotations when Grafana answers; silent otherwise."""

    http: httpx.AsyncClient
    base_url: str = field(default_factory=lambda: topology.url("grafana"))
    enabled: bool | None = None  # decided on first use

    async def annotate(self, text: str, tags: list[str], at: datetime) -> bool:
        if self.enabled is False:
            return False
        auth = _grafana_auth()
        if auth is None:
            self.enabled = False
            return False
        body = {"time": int(at.timestamp() * 1000), "tags": tags, "text": text}
        try:
            resp = await self.http.post(f"{self.base_url}/api/annotations", json=body, auth=auth)
        except httpx.HTTPError:
            self.enabled = False  # Grafana is optional: not running means no annotations
            return False
        self.enabled = resp.is_success
        return resp.is_success
