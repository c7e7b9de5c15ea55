"""Backend settings: `ServiceSettings` with the backend's defaults and its own knobs.

The instance name picks the port, metrics port and seed error rate from `topology`, so
`MOCKINFRA_INSTANCE=backend-2` is all it takes to run the second instance.
"""

from __future__ import annotations

from typing import Self

from pydantic import Field, model_validator

from mockinfra.common import topology
from mockinfra.common.settings import ServiceSettings


class BackendSettings(ServiceSettings):
    """Settings of one backend instance (env prefix `MOCKINFRA_`)."""

    service: str = "backend"
    instance: str = topology.BACKEND_INSTANCES[0]
    pool_size: int = Field(default=10, ge=1, le=100)
    pool_timeout_seconds: float = Field(default=5.0, gt=0)
    db_retries: int = Field(default=3, ge=1, le=10)
    cache_ttl_seconds: int = Field(default=300, ge=1)
    health_interval_seconds: float = Field(default=2.0, gt=0)
    worker_enabled: bool = True
    queue_processing_timeout_seconds: float = Field(default=30.0, gt=0)
    queue_retry_backoff_seconds: float = Field(default=1.0, ge=0)  # doubles per attempt
    queue_poll_seconds: float = Field(default=0.5, gt=0)
    drain_seconds: float = Field(default=10.0, ge=0)  # the seed's timeout fault lasts 10 s

    @model_validator(mode="after")
    def _apply_topology(self) -> Self:
        """Port, metrics port and seed error rate of a known instance, unless set explicitly."""
        comp = topology.BY_NAME.get(self.instance)
        if comp is None:
            return self
        explicit = self.model_fields_set
        if "port" not in explicit:
            self.port = comp.port
        if "metrics_port" not in explicit:
            self.metrics_port = comp.metrics_port
        if "error_rate" not in explicit and self.profile is None:
            self.error_rate = comp.error_rate
        if "database_url" not in explicit and not self.database_url:
            self.database_url = (
                f"postgresql://mockinfra_app@{topology.HOST}:{topology.component('postgres').port}"
                "/mockinfra"
            )
        if "cache_url" not in explicit and not self.cache_url:
            self.cache_url = f"redis://{topology.HOST}:{topology.component('valkey').port}/0"
        return self
