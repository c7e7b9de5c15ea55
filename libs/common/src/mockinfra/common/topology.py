"""The one table of components, ports and seed defaults.

Every other place that needs a port, a component name or a seed default (settings, the stack
runner, generated nginx/Prometheus/Alertmanager configuration, compose.yaml tests, docs) reads it
from here. A component's `name` is also its `instance` label everywhere: on its scrape target,
on its log streams and on its alerts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Final


class Role(StrEnum):
    """What a component is, which decides its start order."""

    DATA = "data"
    APP = "app"
    PROXY = "proxy"
    OBSERVABILITY = "observability"
    EXPORTER = "exporter"


@dataclass(frozen=True, slots=True)
class Component:
    """One process of the stack, with the labels it is known by."""

    name: str  # the `instance` label, e.g. "backend-2"
    service: str  # the `service` label, e.g. "backend"
    role: Role
    port: int  # main listening port on 127.0.0.1
    metrics_port: int | None = None  # when metrics are served apart from `port`
    metrics_path: str = "/metrics"
    scraped: bool = True
    optional: bool = False  # started only when its binary is on PATH (Loki, Grafana, the shipper)
    extra_ports: MappingProxyType[str, int] = field(default_factory=lambda: MappingProxyType({}))
    error_rate: float = 0.0  # the seed's configured random error rate

    @property
    def scrape_port(self) -> int:
        return self.metrics_port if self.metrics_port is not None else self.port

    @property
    def ports(self) -> dict[str, int]:
        """Every port the component listens on, by purpose."""
        ports = {"main": self.port, **self.extra_ports}
        if self.metrics_port is not None:
            ports["metrics"] = self.metrics_port
        return ports


HOST: Final = "127.0.0.1"

# Seed latency baselines (DESIGN.md), in milliseconds: (mean, p95).
FRONTEND_LATENCY_MS: Final = (50.0, 200.0)
BACKEND_LATENCY_MS: Final = (100.0, 500.0)

COMPONENTS: Final[tuple[Component, ...]] = (
    Component("postgres", "postgres", Role.DATA, 5433, scraped=False),
    Component("valkey", "valkey", Role.DATA, 6380, scraped=False),
    Component("backend-1", "backend", Role.APP, 4001, metrics_port=9401, error_rate=0.15),
    Component("backend-2", "backend", Role.APP, 4002, metrics_port=9402, error_rate=0.20),
    Component("frontend", "frontend", Role.APP, 3001, error_rate=0.10),
    Component("alertsink", "alertsink", Role.APP, 9095),
    Component(
        "nginx",
        "nginx",
        Role.PROXY,
        8080,
        scraped=False,  # scraped through nginx-exporter, which carries instance="nginx"
        extra_ports=MappingProxyType({"https": 8443, "grpc": 4000}),
    ),
    Component("prometheus", "prometheus", Role.OBSERVABILITY, 9090),
    Component("alertmanager", "alertmanager", Role.OBSERVABILITY, 9093),
    Component(
        "loki",
        "loki",
        Role.OBSERVABILITY,
        3100,
        optional=True,
        extra_ports=MappingProxyType({"grpc": 9096}),  # Loki's internal gRPC (ring, querier)
    ),
    Component("promtail", "promtail", Role.OBSERVABILITY, 9080, optional=True),
    Component("grafana", "grafana", Role.OBSERVABILITY, 3000, optional=True, scraped=False),
    Component("node-exporter", "node", Role.EXPORTER, 9100),
    Component("postgres-exporter", "postgres", Role.EXPORTER, 9187),
    Component("redis-exporter", "valkey", Role.EXPORTER, 9121),
    Component("nginx-exporter", "nginx", Role.EXPORTER, 9113),
)

BY_NAME: Final = MappingProxyType({c.name: c for c in COMPONENTS})

# Which logical instance an exporter's series describe: the exporter is scraped, but its
# series carry the instance label of what it watches, so `up{instance="postgres"}` works.
EXPORTS: Final = MappingProxyType(
    {
        "node-exporter": "node",
        "postgres-exporter": "postgres",
        "redis-exporter": "valkey",
        "nginx-exporter": "nginx",
    }
)

BACKEND_INSTANCES: Final = tuple(c.name for c in COMPONENTS if c.service == "backend")


def component(name: str) -> Component:
    """Look a component up by name, with a clear error for a typo."""
    try:
        return BY_NAME[name]
    except KeyError:
        known = ", ".join(BY_NAME)
        raise KeyError(f"unknown component {name!r}; known: {known}") from None


def url(name: str, port: str = "main", scheme: str = "http") -> str:
    """Base URL of a component's port on the loopback interface."""
    return f"{scheme}://{HOST}:{component(name).ports[port]}"
