"""Grafana: the dashboards as data, written to `infra/grafana/dashboards/*.json`, and provisioning.

The dashboards are built here, once, from small helpers (so every panel gets the same datasource
references, grid and legend conventions) and committed as JSON; a test checks the committed
files equal what this module builds. Regenerate with `python -m mockinfra.stack.dashboards`.
`iter_dashboard_queries()` lists every PromQL expression with its variables filled in, ready to
send to Prometheus.
"""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import jinja2

from mockinfra.common import topology
from mockinfra.stack.layout import Layout
from mockinfra.stack.state import State

REPO_ROOT: Final = Path(__file__).resolve().parents[5]
GRAFANA_DIR: Final = REPO_ROOT / "infra" / "grafana"
DASHBOARDS_DIR: Final = GRAFANA_DIR / "dashboards"

# The provisioned datasources; panels reference them by these fixed uids.
PROMETHEUS: Final = {"type": "prometheus", "uid": "prometheus"}
LOKI: Final = {"type": "loki", "uid": "loki"}
DATASOURCE_UIDS: Final = frozenset({"prometheus", "loki", "alertmanager"})

# gRPC traffic that is the application's own (the same selector the recording rules use).
GRPC_APP: Final = r'grpc_service!~"grpc\\..*|mockinfra\\.v1\\.FaultService"'
# Values that make a dashboard's variables select everything, for queries run outside Grafana.
VARIABLE_DEFAULTS: Final = {
    "$__rate_interval": "5m",
    "$__interval": "1m",
    "$service": ".+",
    "$instance": ".+",
    "$level": ".+",
}


@dataclass(frozen=True, slots=True)
class Query:
    expr: str
    legend: str = ""
    instant: bool = False


@dataclass(slots=True)
class Panel:
    """One panel; width and height in Grafana grid units (24 columns)."""

    title: str
    queries: tuple[Query, ...]
    kind: str = "timeseries"  # timeseries, stat, table, logs, text
    unit: str = "short"
    width: int = 12
    height: int = 8
    description: str = ""
    datasource: dict[str, str] = field(default_factory=lambda: dict(PROMETHEUS))
    text: str = ""  # for kind="text" (markdown)


@dataclass(slots=True)
class Dashboard:
    uid: str
    title: str
    description: str
    panels: list[Panel | str]  # a str is a row title
    variables: list[dict[str, Any]] = field(default_factory=list)


def q(expr: str, legend: str = "", *, instant: bool = False) -> Query:
    return Query(" ".join(expr.split()), legend, instant)


def _label_variable(
    name: str, query: str, *, datasource: dict[str, str] = PROMETHEUS
) -> dict[str, Any]:
    """A multi-value variable from label values, defaulting to All (regex `.+`)."""
    return {
        "name": name,
        "label": name,
        "type": "query",
        "datasource": dict(datasource),
        "query": query,
        "definition": query,
        "refresh": 2,
        "multi": True,
        "includeAll": True,
        "allValue": ".+",
        "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
        "sort": 1,
    }


def _panel_json(panel: Panel, panel_id: int, x: int, y: int) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": panel_id,
        "type": panel.kind,
        "title": panel.title,
        "description": panel.description,
        "gridPos": {"x": x, "y": y, "w": panel.width, "h": panel.height},
    }
    if panel.kind == "text":
        body["options"] = {"mode": "markdown", "content": panel.text}
        return body
    body["datasource"] = dict(panel.datasource)
    body["targets"] = [
        {
            "refId": chr(ord("A") + i),
            "datasource": dict(panel.datasource),
            "expr": query.expr,
            "legendFormat": query.legend,
            "instant": query.instant,
            "range": not query.instant,
        }
        for i, query in enumerate(panel.queries)
    ]
    if panel.kind == "logs":
        body["options"] = {"showTime": True, "wrapLogMessage": True, "sortOrder": "Descending"}
        return body
    body["fieldConfig"] = {"defaults": {"unit": panel.unit}, "overrides": []}
    if panel.kind == "timeseries":
        body["options"] = {
            "legend": {
                "displayMode": "table",
                "placement": "bottom",
                "calcs": ["lastNotNull", "max"],
            },
            "tooltip": {"mode": "multi", "sort": "desc"},
        }
    elif panel.kind == "stat":
        body["options"] = {"reduceOptions": {"calcs": ["lastNotNull"]}, "colorMode": "background"}
    return body


def to_json(dashboard: Dashboard) -> dict[str, Any]:
    """The Grafana dashboard model (schema 39), panels laid out left to right, top to bottom."""
    panels: list[dict[str, Any]] = []
    x = y = row_height = 0
    for item in dashboard.panels:
        panel_id = len(panels) + 1
        if isinstance(item, str):
            y += row_height
            x = row_height = 0
            panels.append(
                {
                    "id": panel_id,
                    "type": "row",
                    "title": item,
                    "collapsed": False,
                    "gridPos": {"x": 0, "y": y, "w": 24, "h": 1},
                    "panels": [],
                }
            )
            y += 1
            continue
        if x + item.width > 24:
            y += row_height
            x = row_height = 0
        panels.append(_panel_json(item, panel_id, x, y))
        x += item.width
        row_height = max(row_height, item.height)
    return {
        "uid": dashboard.uid,
        "title": dashboard.title,
        "description": dashboard.description,
        "tags": ["mockinfra"],
        "timezone": "browser",
        "editable": False,
        "graphTooltip": 1,
        "refresh": "30s",
        "schemaVersion": 39,
        "version": 1,
        "time": {"from": "now-1h", "to": "now"},
        "templating": {"list": dashboard.variables},
        "annotations": {"list": []},
        "links": [
            {"type": "dashboards", "tags": ["mockinfra"], "asDropdown": True, "title": "mockinfra"}
        ],
        "panels": panels,
    }


SEL: Final = 'service=~"$service", instance=~"$instance"'


def _overview() -> Dashboard:
    return Dashboard(
        uid="mockinfra-overview",
        title="mockinfra / Overview",
        description="RED (rate, errors, duration) per service and instance, targets, host.",
        variables=[
            _label_variable("service", "label_values(up, service)"),
            _label_variable("instance", 'label_values(up{service=~"$service"}, instance)'),
        ],
        panels=[
            Panel("Targets up", (q("sum(up{" + SEL + "})", "up"),), "stat", width=6, height=4),
            Panel(
                "Targets down",
                (q("count(up{" + SEL + "} == 0) or vector(0)", "down"),),
                "stat",
                width=6,
                height=4,
            ),
            Panel(
                "Firing alerts",
                (q('count(ALERTS{alertstate="firing"}) or vector(0)', "firing"),),
                "stat",
                width=6,
                height=4,
            ),
            Panel(
                "Requests/s through nginx",
                (q("sum(rate(nginx_http_requests_total[$__rate_interval]))", "req/s"),),
                "stat",
                "reqps",
                width=6,
                height=4,
            ),
            "Rate",
            Panel(
                "HTTP requests/s by instance",
                (q("service_instance:http_requests:rate5m{" + SEL + "}", "{{instance}}"),),
                unit="reqps",
            ),
            Panel(
                "gRPC calls/s by instance",
                (q("service_instance:grpc_server_handled:rate5m{" + SEL + "}", "{{instance}}"),),
                unit="reqps",
            ),
            "Errors",
            Panel(
                "HTTP 5xx ratio by instance",
                (
                    q(
                        "service_instance:http_requests_errors:ratio_rate5m{" + SEL + "}",
                        "{{instance}}",
                    ),
                ),
                unit="percentunit",
                description="Alert threshold 10% (FrontendHighErrorRate).",
            ),
            Panel(
                "gRPC error ratio by instance",
                (
                    q(
                        "service_instance:grpc_server_errors:ratio_rate5m{" + SEL + "}",
                        "{{instance}}",
                    ),
                ),
                unit="percentunit",
                description="Alert threshold 10% (BackendHighErrorRate).",
            ),
            "Duration",
            Panel(
                "HTTP latency p50/p95/p99",
                tuple(
                    q(
                        f"service_instance:http_request_duration_seconds:p{p}_rate5m{{{SEL}}}",
                        f"{{{{instance}}}} p{p}",
                    )
                    for p in ("50", "95", "99")
                ),
                unit="s",
            ),
            Panel(
                "gRPC latency p50/p95/p99",
                tuple(
                    q(
                        f"service_instance:grpc_server_handling_seconds:p{p}_rate5m{{{SEL}}}",
                        f"{{{{instance}}}} p{p}",
                    )
                    for p in ("50", "95", "99")
                ),
                unit="s",
            ),
            "Saturation",
            Panel(
                "Host CPU used",
                (q('100 - (avg(rate(node_cpu_seconds_total{mode="idle"}[5m])) * 100)', "cpu %"),),
                unit="percent",
                width=8,
            ),
            Panel(
                "Host memory used",
                (
                    q(
                        "(1 - (node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes)) * 100",
                        "memory %",
                    ),
                ),
                unit="percent",
                width=8,
            ),
            Panel("Host load (1m)", (q("node_load1", "load1"),), width=8),
            Panel(
                "Service resident memory",
                (
                    q(
                        'process_resident_memory_bytes{service=~"frontend|backend|alertsink", '
                        'instance=~"$instance"}',
                        "{{instance}}",
                    ),
                ),
                unit="bytes",
                description="Seed limit: 256 MB per service.",
            ),
            Panel(
                "Service CPU (cores)",
                (
                    q(
                        'rate(process_cpu_seconds_total{service=~"frontend|backend|alertsink", '
                        'instance=~"$instance"}[$__rate_interval])',
                        "{{instance}}",
                    ),
                ),
                unit="short",
                description="Seed limit: 1 core per service.",
            ),
            Panel(
                "Scrape targets",
                (q("up{" + SEL + "}", "{{instance}}", instant=True),),
                "table",
                width=24,
            ),
        ],
    )


def _backends() -> Dashboard:
    sel = 'service="backend", instance=~"$instance"'
    return Dashboard(
        uid="mockinfra-backends",
        title="mockinfra / Backend instances",
        description=(
            "backend-1 and backend-2 side by side: gRPC, the HTTP gateway, faults, pool, cache."
        ),
        variables=[
            _label_variable(
                "instance", 'label_values(grpc_server_handled_total{service="backend"}, instance)'
            ),
        ],
        panels=[
            Panel(
                "gRPC calls/s by instance and code",
                (
                    q(
                        f"sum by (instance, grpc_code) (rate(grpc_server_handled_total{{{sel}, "
                        f"{GRPC_APP}}}[$__rate_interval]))",
                        "{{instance}} {{grpc_code}}",
                    ),
                ),
                unit="reqps",
            ),
            Panel(
                "gRPC calls/s by method",
                (
                    q(
                        f"sum by (instance, grpc_method) (rate(grpc_server_handled_total{{{sel}, "
                        f"{GRPC_APP}}}[$__rate_interval]))",
                        "{{instance}} {{grpc_method}}",
                    ),
                ),
                unit="reqps",
            ),
            Panel(
                "gRPC error ratio",
                (
                    q(
                        'service_instance:grpc_server_errors:ratio_rate1m{service="backend", '
                        'instance=~"$instance"}',
                        "{{instance}}",
                    ),
                ),
                unit="percentunit",
            ),
            Panel(
                "gRPC p95 by method",
                (
                    q(
                        f"histogram_quantile(0.95, sum by (instance, grpc_method, le) "
                        f"(rate(grpc_server_handling_seconds_bucket{{{sel}, "
                        f"{GRPC_APP}}}[$__rate_interval])))",
                        "{{instance}} {{grpc_method}}",
                    ),
                ),
                unit="s",
            ),
            Panel(
                "Gateway: /api/backend/... through the frontend",
                (
                    q(
                        "sum by (route, status_code) "
                        '(rate(http_requests_total{service="frontend", '
                        'route=~"/api/backend.*"}[$__rate_interval]))',
                        "{{route}} {{status_code}}",
                    ),
                ),
                unit="reqps",
                width=24,
            ),
            "Faults",
            Panel(
                "Faults injected/s",
                (
                    q(
                        f"sum by (instance, fault) "
                        f"(rate(faults_injected_total{{{sel}}}[$__rate_interval]))",
                        "{{instance}} {{fault}}",
                    ),
                ),
                unit="ops",
            ),
            Panel("Run-time faults set", (q(f"fault_active{{{sel}}}", "{{instance}} {{fault}}"),)),
            "Dependencies",
            Panel(
                "Database pool in use",
                (
                    q(f'active_connections{{{sel}, pool="database"}}', "{{instance}} active"),
                    q(f'pool_size{{{sel}, pool="database"}}', "{{instance}} size"),
                ),
                width=8,
            ),
            Panel(
                "Cache miss ratio",
                (
                    q(
                        'service_instance:cache_misses:ratio_rate1m{service="backend", '
                        'instance=~"$instance"}',
                        "{{instance}}",
                    ),
                ),
                unit="percentunit",
                width=8,
            ),
            Panel(
                "Database query p95",
                (
                    q(
                        'service_instance:db_query_duration_seconds:p95_rate1m{service="backend", '
                        'instance=~"$instance"}',
                        "{{instance}}",
                    ),
                ),
                unit="s",
                width=8,
            ),
            "Process",
            Panel(
                "Resident memory",
                (q(f"process_resident_memory_bytes{{{sel}}}", "{{instance}}"),),
                unit="bytes",
            ),
            Panel(
                "CPU (cores)",
                (q(f"rate(process_cpu_seconds_total{{{sel}}}[$__rate_interval])", "{{instance}}"),),
            ),
        ],
    )


def _data_layer() -> Dashboard:
    return Dashboard(
        uid="mockinfra-data",
        title="mockinfra / Data layer",
        description="PostgreSQL, Valkey and the work queues.",
        panels=[
            "PostgreSQL",
            Panel(
                "PostgreSQL up", (q('pg_up{instance="postgres"}', "up"),), "stat", width=6, height=4
            ),
            Panel(
                "Connections in use",
                (
                    q(
                        'sum(pg_stat_activity_count{instance="postgres"}) / '
                        'max(pg_settings_max_connections{instance="postgres"})',
                        "used",
                    ),
                ),
                "stat",
                "percentunit",
                width=6,
                height=4,
            ),
            Panel(
                "Valkey up", (q('redis_up{instance="valkey"}', "up"),), "stat", width=6, height=4
            ),
            Panel(
                "Valkey memory of maxmemory",
                (
                    q(
                        'redis_memory_used_bytes{instance="valkey"} / '
                        '(redis_memory_max_bytes{instance="valkey"} > 0)',
                        "used",
                    ),
                ),
                "stat",
                "percentunit",
                width=6,
                height=4,
            ),
            Panel(
                "Transactions/s by database",
                (
                    q(
                        "sum by (datname) "
                        '(rate(pg_stat_database_xact_commit{datname!~"template.*|postgres"}[$__rate_interval]))',
                        "{{datname}} commits",
                    ),
                    q(
                        "sum by (datname) "
                        '(rate(pg_stat_database_xact_rollback{datname!~"template.*|postgres"}[$__rate_interval]))',
                        "{{datname}} rollbacks",
                    ),
                ),
                unit="ops",
            ),
            Panel(
                "Connections by state", (q("sum by (state) (pg_stat_activity_count)", "{{state}}"),)
            ),
            Panel(
                "Buffer cache hit ratio",
                (
                    q(
                        "sum(rate(pg_stat_database_blks_hit[$__rate_interval])) / "
                        "(sum(rate(pg_stat_database_blks_hit[$__rate_interval])) + "
                        "sum(rate(pg_stat_database_blks_read[$__rate_interval])))",
                        "hit ratio",
                    ),
                ),
                unit="percentunit",
            ),
            Panel(
                "Query p95 by operation (backends)",
                (
                    q(
                        "histogram_quantile(0.95, sum by (operation, le) "
                        "(rate(db_query_duration_seconds_bucket[$__rate_interval])))",
                        "{{operation}}",
                    ),
                ),
                unit="s",
            ),
            "Valkey",
            Panel(
                "Memory",
                (
                    q('redis_memory_used_bytes{instance="valkey"}', "used"),
                    q('redis_memory_max_bytes{instance="valkey"}', "maxmemory"),
                ),
                unit="bytes",
            ),
            Panel(
                "Commands/s",
                (
                    q(
                        'rate(redis_commands_processed_total{instance="valkey"}[$__rate_interval])',
                        "commands",
                    ),
                ),
                unit="ops",
            ),
            Panel(
                "Keyspace hit ratio",
                (
                    q(
                        'rate(redis_keyspace_hits_total{instance="valkey"}[$__rate_interval]) / '
                        '(rate(redis_keyspace_hits_total{instance="valkey"}[$__rate_interval]) + '
                        'rate(redis_keyspace_misses_total{instance="valkey"}[$__rate_interval]))',
                        "hit ratio",
                    ),
                ),
                unit="percentunit",
            ),
            Panel(
                "Clients and evictions",
                (
                    q('redis_connected_clients{instance="valkey"}', "clients"),
                    q(
                        'rate(redis_evicted_keys_total{instance="valkey"}[$__rate_interval])',
                        "evictions/s",
                    ),
                ),
            ),
            "Queues",
            Panel(
                "Queue size",
                (q("max by (queue) (queue_size)", "{{queue}}"),),
                description="BackendQueueBacklogHigh at 1000 messages.",
            ),
            Panel(
                "Dead-letter queue",
                (q('max(queue_size{queue="dead-letter"})', "dead-letter"),),
                description="Any growth fires BackendDeadLetterQueueGrowing.",
            ),
        ],
    )


def _nginx() -> Dashboard:
    return Dashboard(
        uid="mockinfra-nginx",
        title="mockinfra / nginx",
        description=(
            "The public entry point: connections and requests (stub_status), and the 2xx/5xx it "
            "relays."
        ),
        panels=[
            Panel("nginx up", (q('nginx_up{instance="nginx"}', "up"),), "stat", width=6, height=4),
            Panel(
                "Active connections",
                (q('nginx_connections_active{instance="nginx"}', "active"),),
                "stat",
                width=6,
                height=4,
            ),
            Panel(
                "Requests/s",
                (
                    q(
                        'rate(nginx_http_requests_total{instance="nginx"}[$__rate_interval])',
                        "req/s",
                    ),
                ),
                "stat",
                "reqps",
                width=6,
                height=4,
            ),
            Panel(
                "Dropped connections/s",
                (
                    q(
                        'rate(nginx_connections_accepted{instance="nginx"}[$__rate_interval]) - '
                        'rate(nginx_connections_handled{instance="nginx"}[$__rate_interval])',
                        "dropped",
                    ),
                ),
                "stat",
                "ops",
                width=6,
                height=4,
            ),
            Panel(
                "Connections by state",
                (
                    q('nginx_connections_reading{instance="nginx"}', "reading"),
                    q('nginx_connections_writing{instance="nginx"}', "writing"),
                    q('nginx_connections_waiting{instance="nginx"}', "waiting"),
                ),
            ),
            Panel(
                "Requests/s",
                (
                    q(
                        'rate(nginx_http_requests_total{instance="nginx"}[$__rate_interval])',
                        "requests",
                    ),
                ),
                unit="reqps",
            ),
            Panel(
                "Responses relayed from the frontend by status",
                (
                    q(
                        "sum by (status_code) "
                        '(rate(http_requests_total{service="frontend"}[$__rate_interval]))',
                        "{{status_code}}",
                    ),
                ),
                unit="reqps",
                width=24,
            ),
        ],
    )


def _logs() -> Dashboard:
    sel = 'service=~"$service", instance=~"$instance", level=~"$level"'
    return Dashboard(
        uid="mockinfra-logs",
        title="mockinfra / Logs",
        description="Every component's log through Loki, by service, instance and level.",
        variables=[
            _label_variable("service", "label_values(service)", datasource=LOKI),
            _label_variable(
                "instance", 'label_values({service=~"$service"}, instance)', datasource=LOKI
            ),
            _label_variable("level", "label_values(level)", datasource=LOKI),
        ],
        panels=[
            Panel(
                "Log lines/s by instance and level",
                (
                    q(
                        f"sum by (instance, level) (rate({{{sel}}} [$__interval]))",
                        "{{instance}} {{level}}",
                    ),
                ),
                unit="short",
                width=24,
                datasource=dict(LOKI),
            ),
            Panel(
                "Errors by instance",
                (
                    q(
                        'sum by (instance) (count_over_time({service=~"$service", '
                        'instance=~"$instance", level=~"error|critical"} [$__interval]))',
                        "{{instance}}",
                    ),
                ),
                unit="short",
                width=24,
                datasource=dict(LOKI),
            ),
            Panel("Logs", (q(f"{{{sel}}}"),), "logs", width=24, height=16, datasource=dict(LOKI)),
            Panel(
                "Injected faults",
                (q('{service=~"$service", instance=~"$instance"} | json | fault != ""'),),
                "logs",
                width=24,
                height=10,
                datasource=dict(LOKI),
                description="Lines the fault injector wrote (the JSON `fault` field).",
            ),
        ],
    )


def _alerts() -> Dashboard:
    return Dashboard(
        uid="mockinfra-alerts",
        title="mockinfra / Alerts",
        description="Alerts Prometheus evaluates and what Alertmanager did with them.",
        panels=[
            Panel(
                "Firing",
                (q('count(ALERTS{alertstate="firing"}) or vector(0)', "firing"),),
                "stat",
                width=6,
                height=4,
            ),
            Panel(
                "Pending",
                (q('count(ALERTS{alertstate="pending"}) or vector(0)', "pending"),),
                "stat",
                width=6,
                height=4,
            ),
            Panel(
                "Alertmanager active alerts",
                (q('sum(alertmanager_alerts{state="active", instance="alertmanager"})', "active"),),
                "stat",
                width=6,
                height=4,
            ),
            Panel(
                "Notifications failed/s",
                (
                    q(
                        'sum(rate(alertmanager_notifications_failed_total{instance="alertmanager"}[$__rate_interval]))',
                        "failed",
                    ),
                ),
                "stat",
                "ops",
                width=6,
                height=4,
            ),
            Panel(
                "Firing alerts",
                (q('ALERTS{alertstate="firing"}', "{{alertname}} {{instance}}", instant=True),),
                "table",
                width=24,
            ),
            Panel(
                "Alerts over time by name and instance",
                (
                    q(
                        'sum by (alertname, instance) (ALERTS{alertstate="firing"}) or vector(0)',
                        "{{alertname}} {{instance}}",
                    ),
                ),
                width=24,
            ),
            Panel(
                "Notifications sent/s by integration",
                (
                    q(
                        "sum by (integration) "
                        '(rate(alertmanager_notifications_total{instance="alertmanager"}[$__rate_interval]))',
                        "{{integration}}",
                    ),
                ),
                unit="ops",
            ),
            Panel(
                "Rule evaluation failures/s",
                (
                    q(
                        'sum(rate(prometheus_rule_evaluation_failures_total{instance="prometheus"}[$__rate_interval]))',
                        "failures",
                    ),
                ),
                unit="ops",
            ),
            Panel(
                "Where to look",
                (),
                "text",
                width=24,
                height=4,
                text="Alert groups and silences: Grafana *Alerting > Alert groups* (Alertmanager "
                "datasource) or the Alertmanager UI. Each alert's `runbook_url` points to "
                "`docs/runbooks/<AlertName>.md`.",
            ),
        ],
    )


def dashboards() -> list[Dashboard]:
    return [_overview(), _backends(), _data_layer(), _nginx(), _logs(), _alerts()]


def file_name(dashboard: Dashboard) -> str:
    return f"{dashboard.uid.removeprefix('mockinfra-')}.json"


def render(dashboard: Dashboard) -> str:
    return json.dumps(to_json(dashboard), indent=2) + "\n"


def write_dashboards(dest: Path = DASHBOARDS_DIR) -> list[Path]:
    """Write every dashboard's JSON into `dest` (the committed copies by default)."""
    dest.mkdir(parents=True, exist_ok=True)
    written = []
    for dashboard in dashboards():
        path = dest / file_name(dashboard)
        path.write_text(render(dashboard), encoding="utf-8")
        written.append(path)
    return written


def fill_variables(expr: str) -> str:
    """An expression with the dashboard variables replaced by their select-all values."""
    return re.sub(
        "|".join(re.escape(k) for k in sorted(VARIABLE_DEFAULTS, key=len, reverse=True)),
        lambda m: VARIABLE_DEFAULTS[m[0]],
        expr,
    )


def _targets(datasource_type: str, folder: Path) -> Iterable[tuple[str, str, str]]:
    for path in sorted(folder.glob("*.json")):
        model = json.loads(path.read_text())
        for panel in model["panels"]:
            for target in panel.get("targets", []):
                if target["datasource"]["type"] == datasource_type:
                    yield model["title"], panel["title"], fill_variables(target["expr"])


def iter_dashboard_queries(folder: Path = DASHBOARDS_DIR) -> list[tuple[str, str, str]]:
    """(dashboard title, panel title, PromQL) for every Prometheus query of every committed
    dashboard, variables filled with their select-all values, ready for /api/v1/query."""
    return list(_targets("prometheus", folder))


def iter_dashboard_log_queries(folder: Path = DASHBOARDS_DIR) -> list[tuple[str, str, str]]:
    """The same for the LogQL queries (Loki datasource)."""
    return list(_targets("loki", folder))


_ENV: Final = jinja2.Environment(
    loader=jinja2.FileSystemLoader(GRAFANA_DIR),
    undefined=jinja2.StrictUndefined,
    keep_trailing_newline=True,
    autoescape=False,  # configuration files, not HTML
)


def _render(template: str, dest: Path, context: dict[str, object]) -> Path:
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(_ENV.get_template(template).render(**context), encoding="utf-8")
    return dest


def render_provisioning(layout: Layout) -> Path:
    """Render Grafana's provisioning into `layout.config/grafana/provisioning`; returns it.

    Locally the provider reads the committed dashboards in place; in compose they are copied
    beside the provisioning, into the folder the Grafana container mounts.
    """
    grafana = layout.config / "grafana"
    provisioning = grafana / "provisioning"
    dashboards_dir = DASHBOARDS_DIR
    if layout.mode == "compose":
        dashboards_dir = grafana / "dashboards"
        dashboards_dir.mkdir(parents=True, exist_ok=True)
        for old in dashboards_dir.glob("*.json"):
            old.unlink()
        for source in DASHBOARDS_DIR.glob("*.json"):
            shutil.copyfile(source, dashboards_dir / source.name)
    context: dict[str, object] = {
        "mode": layout.mode,
        "dashboards_dir": dashboards_dir,
        "prometheus_url": layout.url("prometheus"),
        "loki_url": layout.url("loki"),
        "alertmanager_url": layout.url("alertmanager"),
    }
    _render(
        "provisioning/datasources/datasources.yml.j2",
        provisioning / "datasources" / "datasources.yml",
        context,
    )
    _render(
        "provisioning/dashboards/dashboards.yml.j2",
        provisioning / "dashboards" / "dashboards.yml",
        context,
    )
    return provisioning


def render_grafana(dest_dir: Path, *, state_dir: Path, admin_password_file: Path) -> Path:
    """Render `grafana.ini` into `dest_dir` and its provisioning into `dest_dir/grafana/`.

    The admin password is read by Grafana from `admin_password_file` (`$__file{}`), so it never
    appears in the repository or in a rendered file. Returns the path of grafana.ini. (Compose
    sets Grafana's options in its environment and needs only `render_provisioning`.)
    """
    layout = dataclasses.replace(Layout.local(State(state_dir)), config=dest_dir)
    provisioning = render_provisioning(layout)
    context: dict[str, object] = {
        "state_dir": state_dir,
        "host": topology.HOST,
        "port": topology.component("grafana").port,
        "provisioning": provisioning,
        "admin_password_file": admin_password_file,
    }
    return _render("grafana.ini.j2", dest_dir / "grafana.ini", context)


if __name__ == "__main__":
    for written in write_dashboards():
        print(written)
