"""Alert receiver settings: `ServiceSettings` with its defaults from the topology table."""

from __future__ import annotations

from pathlib import Path
from typing import Final

from pydantic import AliasChoices, Field

from mockinfra.common import topology
from mockinfra.common.settings import ServiceSettings

_SINK: Final = topology.component("alertsink")


class Settings(ServiceSettings):
    """Everything the receiver reads from `MOCKINFRA_*` variables."""

    service: str = _SINK.service
    instance: str = _SINK.name
    port: int = Field(default=_SINK.port, ge=0, le=65535)
    # Where each notification is re-posted (none by default); named for the service because
    # the stack passes it through from the caller's environment.
    forward_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("MOCKINFRA_ALERTSINK_FORWARD_URL", "forward_url"),
    )
    forward_attempts: int = Field(default=5, ge=1, le=20)
    forward_timeout_seconds: float = Field(default=5.0, gt=0.0, le=60.0)
    forward_backoff_max_seconds: float = Field(default=10.0, gt=0.0, le=300.0)
    database_path: Path | None = None  # default: <state_dir>/alertsink/alerts.db

    @property
    def alerts_db(self) -> Path:
        return self.database_path or self.state_dir / "alertsink" / "alerts.db"
