"""Where the frontend injects its own random errors and latency (the fault composition rule).

The frontend's own faults (10% errors, 50/200 ms latency under the seed profile) apply to the
routes the frontend owns: the pages `/`, `/data`, `/users` and the JSON views `/api/data`,
`/api/users`. They do NOT apply to the `/api/backend/...` gateway: there the frontend is a
transparent translator, so what nginx sees for `/api/backend/` is exactly the backends'
configured rates (15% on backend-1, 20% on backend-2: about 17.5% when balanced). Frontend-owned
routes that call a backend see both: 1 - (1 - 0.10) * (1 - backend rate) of their calls fail.
Health, metrics, the fault admin API, the docs and `/error/{code}` are never faulted at random.
"""

from __future__ import annotations

from typing import Final

FAULTED_ROUTES: Final = frozenset({"/", "/data", "/users", "/api/data", "/api/users"})


def inject_faults(route: str) -> bool:
    """Whether the frontend's own faults apply to a route template."""
    return route in FAULTED_ROUTES
