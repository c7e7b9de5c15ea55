"""Every metric a mock service exports, created once per process.

Each metric's first two labels are `service` and `instance`, so backend-1 and backend-2 are told
apart. Call sites use the helpers, which pre-bind those two labels and cache label children in a
dict, so the per-request cost is one dict lookup and one increment.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final, TypeVar

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.gc_collector import GCCollector
from prometheus_client.metrics import MetricWrapperBase
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector

from mockinfra.common.faults import FaultKind

# 1 ms .. 30 s: covers the cache (1 ms), the database (10 ms), the seed's p95s (0.2 s, 0.5 s),
# the 2 s latency alert and the 10 s timeout fault.
LATENCY_BUCKETS: Final = (
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75,
    1.0, 1.5, 2.0, 2.5, 3.0, 5.0, 7.5, 10.0, 15.0, 30.0,
)  # fmt: skip

QUEUES: Final = ("high-priority", "medium-priority", "low-priority", "dead-letter")
QUEUE_OUTCOMES: Final = ("enqueued", "processed", "retried", "dead_lettered")
BASE_LABELS: Final = ("service", "instance")
GRPC_LABELS: Final = ("grpc_type", "grpc_service", "grpc_method")

M = TypeVar("M", bound=MetricWrapperBase)


class Metrics:
    """The service's metric objects on one registry (a fresh one unless injected)."""

    def __init__(
        self, service: str, instance: str, registry: CollectorRegistry | None = None
    ) -> None:
        self.service = service
        self.instance = instance
        if registry is None:
            registry = CollectorRegistry()
            ProcessCollector(registry=registry)
            PlatformCollector(registry=registry)
            GCCollector(registry=registry)  # python_gc_*: see common/gc_tuning.py
        self.registry = registry
        self._children: dict[tuple[object, ...], MetricWrapperBase] = {}

        def counter(name: str, doc: str, *labels: str) -> Counter:
            return Counter(name, doc, (*BASE_LABELS, *labels), registry=registry)

        def gauge(name: str, doc: str, *labels: str) -> Gauge:
            return Gauge(name, doc, (*BASE_LABELS, *labels), registry=registry)

        def histogram(name: str, doc: str, *labels: str) -> Histogram:
            return Histogram(
                name, doc, (*BASE_LABELS, *labels), registry=registry, buckets=LATENCY_BUCKETS
            )

        self.http_requests_total = counter(
            "http_requests_total", "HTTP requests handled.", "method", "route", "status_code"
        )
        self.http_request_duration_seconds = histogram(
            "http_request_duration_seconds", "HTTP request latency.", "method", "route"
        )
        self.http_requests_in_flight = gauge(
            "http_requests_in_flight", "HTTP requests being handled."
        )
        self.page_views_total = counter("page_views_total", "HTML page views.", "page")
        self.active_users = gauge("active_users", "Users with a live session.")
        self.frontend_errors_total = counter(
            "frontend_errors_total", "Errors answered by the frontend.", "error_type"
        )
        self.grpc_server_started_total = counter(
            "grpc_server_started_total", "RPCs started on the server.", *GRPC_LABELS
        )
        self.grpc_server_handled_total = counter(
            "grpc_server_handled_total", "RPCs completed on the server.", *GRPC_LABELS, "grpc_code"
        )
        self.grpc_server_handling_seconds = histogram(
            "grpc_server_handling_seconds", "Server RPC latency.", *GRPC_LABELS
        )
        self.grpc_client_started_total = counter(
            "grpc_client_started_total", "RPCs started by the client.", *GRPC_LABELS
        )
        self.grpc_client_handled_total = counter(
            "grpc_client_handled_total", "RPCs completed by the client.", *GRPC_LABELS, "grpc_code"
        )
        self.grpc_client_handling_seconds = histogram(
            "grpc_client_handling_seconds", "Client RPC latency.", *GRPC_LABELS
        )
        self.db_query_duration_seconds = histogram(
            "db_query_duration_seconds", "Database query latency.", "operation"
        )
        self.db_errors_total = counter("db_errors_total", "Failed database queries.", "operation")
        self.cache_hits_total = counter("cache_hits_total", "Cache hits.", "cache")
        self.cache_misses_total = counter("cache_misses_total", "Cache misses.", "cache")
        self.cache_errors_total = counter(
            "cache_errors_total", "Failed cache operations.", "operation"
        )
        self.queue_size = gauge("queue_size", "Messages waiting per queue.", "queue")
        self.queue_messages_total = counter(
            "queue_messages_total", "Queue messages by outcome.", "queue", "outcome"
        )
        self.active_connections = gauge(
            "active_connections", "Connections checked out of a pool.", "pool"
        )
        self.pool_size = gauge("pool_size", "Configured size of a connection pool.", "pool")
        self.faults_injected_total = counter(
            "faults_injected_total", "Faults injected, by kind.", "fault"
        )
        self.fault_active = gauge(
            "fault_active", "1 while a run-time fault of that kind is set.", "fault"
        )

        # Series known in advance start at 0, so rate() and alerts see them before first use.
        for kind in FaultKind:
            self.labels_for(self.faults_injected_total, fault=kind.value)
            self.labels_for(self.fault_active, fault=kind.value).set(0)
        for queue in QUEUES:
            self.labels_for(self.queue_size, queue=queue).set(0)
        self.labels_for(self.http_requests_in_flight)
        self.labels_for(self.active_users)

    def labels_for(self, metric: M, **labels: str) -> M:
        """The child of `metric` for this service/instance and the given labels (cached)."""
        names: tuple[str, ...] = metric._labelnames[len(BASE_LABELS) :]
        if set(labels) != set(names):
            raise ValueError(f"{metric._name} needs labels {names}, got {tuple(labels)}")
        return self.child(metric, *(labels[name] for name in names))

    def child(self, metric: M, *values: str) -> M:
        """Positional fast path of `labels_for`, in the metric's label order."""
        key = (id(metric), *values)
        child = self._children.get(key)
        if child is None:
            child = metric.labels(self.service, self.instance, *values)
            self._children[key] = child
        return child  # type: ignore[return-value]

    def observe_http(self, method: str, route: str, status_code: int | str, seconds: float) -> None:
        self.child(self.http_requests_total, method, route, str(status_code)).inc()
        self.child(self.http_request_duration_seconds, method, route).observe(seconds)

    def observe_db(self, operation: str, seconds: float) -> None:
        self.child(self.db_query_duration_seconds, operation).observe(seconds)

    def cache_hit(self, cache: str) -> None:
        self.child(self.cache_hits_total, cache).inc()

    def cache_miss(self, cache: str) -> None:
        self.child(self.cache_misses_total, cache).inc()

    def fault_injected(self, kind: str) -> None:
        self.child(self.faults_injected_total, str(kind)).inc()

    def precreate_caches(self, caches: Iterable[str]) -> None:
        """Start hit/miss series of the given caches at 0 (hit ratio alerts need both)."""
        for cache in caches:
            self.child(self.cache_hits_total, cache)
            self.child(self.cache_misses_total, cache)

    def precreate_grpc(self, side: str, grpc_service: str, methods: Iterable[str]) -> None:
        """Start the started/handled(OK) series of known unary methods at 0."""
        server = side == "server"
        started = self.grpc_server_started_total if server else self.grpc_client_started_total
        handled = self.grpc_server_handled_total if server else self.grpc_client_handled_total
        for method in methods:
            self.child(started, "unary", grpc_service, method)
            self.child(handled, "unary", grpc_service, method, "OK")

    def expose(self) -> tuple[bytes, str]:
        """The registry in the Prometheus text format, and its content type."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
