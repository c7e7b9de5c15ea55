"""Service settings from `MOCKINFRA_*` environment variables.

One `ServiceSettings` per process; services subclass it to change defaults. When a named fault
`profile` is given and the error rate or latency were not set explicitly, they come from
`profiles.profile_for(profile, instance)`, so the stack can switch every instance with one variable.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from mockinfra.common import topology
from mockinfra.common.logging import LOG_BACKUPS, LOG_MAX_BYTES
from mockinfra.common.profiles import ProfileName, profile_for

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]


class ServiceSettings(BaseSettings):
    """What every mock service needs to know about itself and its dependencies."""

    model_config = SettingsConfigDict(env_prefix="MOCKINFRA_", extra="ignore")

    service: str = "service"
    instance: str = "service-1"
    host: str = topology.HOST
    port: int = Field(default=0, ge=0, le=65535)
    metrics_port: int | None = Field(default=None, ge=0, le=65535)
    profile: ProfileName | None = None
    error_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    latency_mean_ms: float = Field(default=0.0, ge=0.0)  # 0 = no injected latency
    latency_p95_ms: float = Field(default=0.0, ge=0.0)
    fault_seed: int | None = None
    fault_token: SecretStr | None = None  # None: fault control is refused
    database_url: str = ""
    cache_url: str = ""
    log_level: LogLevel = "INFO"
    log_file: Path | None = None
    log_max_bytes: int = Field(default=LOG_MAX_BYTES, ge=0)  # rotate log_file at this size
    log_backups: int = Field(default=LOG_BACKUPS, ge=0)  # old files kept; 0: never rotate
    state_dir: Path = Path(".state")

    @model_validator(mode="after")
    def _apply_profile(self) -> Self:
        """Fill error rate and latency from the named profile unless given explicitly."""
        if self.profile is None or self.instance not in topology.BY_NAME:
            return self
        prof = profile_for(self.profile, self.instance)
        explicit = self.model_fields_set
        if "error_rate" not in explicit:
            self.error_rate = prof.error_rate
        if "latency_mean_ms" not in explicit and "latency_p95_ms" not in explicit:
            self.latency_mean_ms = prof.latency_mean_ms
            self.latency_p95_ms = prof.latency_p95_ms
        return self
