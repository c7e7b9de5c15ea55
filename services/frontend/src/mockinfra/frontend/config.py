"""Frontend settings: `ServiceSettings` with the frontend's defaults from the topology table."""

from __future__ import annotations

from typing import Final

from pydantic import Field

from mockinfra.common import topology
from mockinfra.common.profiles import ProfileName
from mockinfra.common.settings import ServiceSettings

_FRONTEND: Final = topology.component("frontend")
_NGINX_GRPC: Final = topology.component("nginx").ports["grpc"]

# The backend's timeout fault holds a call for 10 s; the trigger's deadline must outlast it.
TIMEOUT_FAULT_SECONDS: Final = 10.0


class Settings(ServiceSettings):
    """Everything the frontend reads from `MOCKINFRA_*` variables."""

    service: str = _FRONTEND.service
    instance: str = _FRONTEND.name
    port: int = Field(default=_FRONTEND.port, ge=0, le=65535)
    # The seed profile gives the frontend its 10% error rate and 50/200 ms latency.
    profile: ProfileName | None = ProfileName.SEED
    # The backends are reached through nginx's internal gRPC load balancer, never directly.
    backend_target: str = f"{topology.HOST}:{_NGINX_GRPC}"
    grpc_deadline_seconds: float = Field(default=5.0, gt=0.0, le=60.0)
    trigger_deadline_seconds: float = Field(default=15.0, gt=TIMEOUT_FAULT_SECONDS, le=120.0)
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    # How long `/error/timeout` waits before its 504 (the seed's 10 s; tests shorten it).
    error_timeout_seconds: float = Field(default=TIMEOUT_FAULT_SECONDS, ge=0.0, le=60.0)
