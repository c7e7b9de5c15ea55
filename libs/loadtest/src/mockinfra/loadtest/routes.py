"""The seed's routes as the load test names them, and which service a response came from.

Request names are route templates (`/api/backend/data/{id}`), never raw paths, so statistics
group by endpoint with low cardinality, exactly like the services' own `route` metric label.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from mockinfra.common import topology

SYNTHETIC_HEADER: Final = "X-Synthetic"
SYNTHETIC_VALUE: Final = "locust"
BACKEND_HEADER: Final = "X-Backend-Instance"
FAULT_HEADER: Final = "X-Fault-Injected"

GATEWAY_PREFIX: Final = "/api/backend/"
FRONTEND: Final = topology.component("frontend").name
# A gateway answer that names no backend: nginx's rate limit or the frontend's own error.
GATEWAY: Final = "gateway"

HOME: Final = "/"
FRONT_DATA: Final = "/api/data"
FRONT_USERS: Final = "/api/users"
FRONT_ERROR: Final = "/error/{code}"
STATUS: Final = "/api/backend/status"
DATA: Final = "/api/backend/data"
DATA_NOCACHE: Final = "/api/backend/data?nocache=true"  # same template, cache bypassed
DATA_ITEM: Final = "/api/backend/data/{id}"
USERS: Final = "/api/backend/users"
QUEUE: Final = "/api/backend/queue"
HEALTH: Final = "/health"

# Routes whose errors are the point of the request: excluded from the fidelity check.
ERROR_ROUTES: Final = frozenset({FRONT_ERROR})


def service_for(route: str, headers: Mapping[str, str]) -> str:
    """The instance a request measures: on the gateway the backend that answered, else frontend.

    Frontend pages may call a backend too (and say which), but what they measure is the
    frontend's own behaviour; only `/api/backend/...` answers are the backends'.
    """
    if not route.startswith(GATEWAY_PREFIX):
        return FRONTEND
    return headers.get(BACKEND_HEADER) or GATEWAY


def counts_for_fidelity(route: str) -> bool:
    """Whether a request measures a service's configured error rate and latency."""
    return route not in ERROR_ROUTES and route != HEALTH


def failure_message(status: int, fault: str | None) -> str:
    """How a failed request appears in Locust's failure table (grouped by this text)."""
    if status == 0:
        return "connection error"
    return f"HTTP {status} injected {fault}" if fault else f"HTTP {status}"
