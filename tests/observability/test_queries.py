"""What an agent queries on the running stack returns data, under one name per component.

Issue 4's live checks: the PromQL agents send in the wild, every Prometheus query of every
dashboard panel after light traffic through nginx, and the logical `service`/`instance` labels
on every scrape target (and the same names on the log streams Promtail ships).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

import pytest
import yaml

from mockinfra.common import topology
from mockinfra.stack import dashboards, rules

pytestmark = [pytest.mark.stack, pytest.mark.integration]

# Rates need two scrapes (15 s apart) after the traffic starts; 1m recording windows need
# traffic inside the last minute. Generous for a loaded 2-core machine.
DATA_WITHIN: Final = 180.0

AGENT_QUERIES: Final = (
    "up",
    'up{instance="backend-1"}',
    "rate(http_requests_total[5m])",
    "histogram_quantile(0.95, rate(http_request_duration_seconds_bucket[5m]))",
    '100 - (avg(rate(node_cpu_seconds_total{mode="idle"}[5m])) * 100)',
    "(1 - (node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes)) * 100",
    "node_filesystem_avail_bytes",
    "node_load1",
    # The backends' behaviour is visible in the HTTP metrics through the gateway routes too.
    'rate(http_requests_total{service="frontend", route=~"/api/backend/.+"}[5m])',
)

# Panels that have data only while an alert fires; test_alerts.py runs each of them while
# BackendHighErrorRate fires for backend-2 and expects that alert in the result.
# - "Firing alerts" lists the ALERTS series of firing alerts; a row of zeros (`or vector(0)`)
#   would show a bogus alert in the table. The panels that count alerts already add vector(0).
NEED_A_FIRING_ALERT: Final = frozenset({("mockinfra / Alerts", "Firing alerts")})

# The host (node-exporter's instance="node") writes no log of its own: node-exporter's log
# stream is about the exporter process, labelled instance="node-exporter".
NO_LOG_STREAM: Final = frozenset({("node", "node")})


async def _wait_for_data(live: Any, queries: dict[str, str]) -> None:
    """Poll until every query (by name) returns at least one finite sample."""
    missing = dict(queries)

    async def probe() -> bool | None:
        for name, promql in list(missing.items()):
            if live.finite(await live.query(promql)):
                del missing[name]
        return True if not missing else None

    try:
        await live.until(probe, within=DATA_WITHIN, what="data from every query")
    except AssertionError as exc:
        lines = "\n".join(f"  {name}: {promql}" for name, promql in missing.items())
        sent = dict(live.traffic_sent)
        raise AssertionError(f"{exc}; no data from:\n{lines}\ntraffic sent: {sent}") from None


async def test_queries_agents_send_return_data(live: Any) -> None:
    async with live.traffic():
        await _wait_for_data(live, {q: q for q in AGENT_QUERIES})
    gateway = await live.query('http_requests_total{route=~"/api/backend/.+"}')
    routes = {series["metric"]["route"] for series in gateway}
    assert {"/api/backend/data", "/api/backend/status", "/api/backend/users"} <= routes, routes
    assert {series["metric"]["instance"] for series in gateway} == {"frontend"}


async def test_every_dashboard_query_returns_data(live: Any) -> None:
    queries = {
        f"{board} / {panel} / {promql}": promql
        for board, panel, promql in dashboards.iter_dashboard_queries()
        if (board, panel) not in NEED_A_FIRING_ALERT
    }
    assert len(queries) > 40, "the dashboards lost their queries"
    async with live.traffic():
        await _wait_for_data(live, queries)


def _expected_labels() -> tuple[set[tuple[str, str]], set[tuple[str, str]]]:
    """(instance, service) of every scrape target: (required, allowed). An exporter carries the
    instance it watches; optional components are scraped only when their binary is present."""
    allowed = {
        (topology.EXPORTS.get(c.name, c.name), c.service) for c in topology.COMPONENTS if c.scraped
    }
    required = {
        (topology.EXPORTS.get(c.name, c.name), c.service)
        for c in topology.COMPONENTS
        if c.scraped and not c.optional
    }
    return required, allowed


async def test_up_series_carry_one_logical_name_per_component(live: Any) -> None:
    required, allowed = _expected_labels()
    up = await live.query("up")
    seen = {(s["metric"]["instance"], s["metric"]["service"]) for s in up}
    assert required <= seen <= allowed, (sorted(seen), sorted(required))
    assert len(up) == len(seen), "two targets share one instance name"
    assert all(s["value"][1] == "1" for s in up), [s for s in up if s["value"][1] != "1"]
    for instance, service in sorted(seen):
        one = await live.query(f'up{{instance="{instance}", service="{service}"}}')
        assert len(one) == 1, (instance, service, one)


async def test_every_target_is_named_after_the_component_it_watches(live: Any) -> None:
    by_port = {c.scrape_port: c for c in topology.COMPONENTS if c.scraped}
    targets = await live.targets()
    assert targets
    for target in targets:
        port = int(target["discoveredLabels"]["__address__"].rsplit(":", 1)[1])
        comp = by_port[port]
        labels = target["labels"]
        assert labels["instance"] == topology.EXPORTS.get(comp.name, comp.name), target
        assert labels["service"] == comp.service, target
        assert ":" not in labels["instance"], target


async def test_log_streams_carry_the_scrape_target_names(live: Any, tmp_path: Path) -> None:
    """Promtail is not installed here, so its rendered configuration stands in for Loki: every
    (instance, service) that Prometheus scrapes is also a log stream's labels."""
    config = rules.render_promtail(tmp_path / "promtail.yml", state_dir=live.state.root)
    streams = {
        (static["labels"]["instance"], static["labels"]["service"])
        for job in yaml.safe_load(config.read_text())["scrape_configs"]
        for static in job["static_configs"]
    }
    scraped = {(s["metric"]["instance"], s["metric"]["service"]) for s in await live.query("up")}
    assert scraped - NO_LOG_STREAM <= streams, sorted(scraped - NO_LOG_STREAM - streams)
