"""Alerts fire on real faults, reach the webhook receiver, and resolve (issue 4's proof).

The fast rules profile decides the waits: scrapes every 15 s, 1-minute rate windows, `for:` of
15-30 s, rule groups every 10 s, Alertmanager group_wait 5 s and group_interval 10 s. So an alert
reaches the receiver within about a minute of the fault and its resolution within about a
minute of the repair; the deadlines below are several times that for a loaded machine.
Each test puts the stack back as it found it (fault cleared, Valkey running), even on failure.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from typing import Any, Final

import pytest

from mockinfra.chaos.control import FaultControlError
from mockinfra.common.faults import FaultKind
from mockinfra.stack import dashboards

pytestmark = [pytest.mark.stack, pytest.mark.integration, pytest.mark.timeout(600)]

QUIET_WITHIN: Final = 150.0  # an alert left active by an earlier test resolves
FIRE_WITHIN: Final = 180.0
RESOLVE_WITHIN: Final = 180.0
RUNNING_WITHIN: Final = 60.0
FAULTY: Final = "backend-2"
HEALTHY: Final = "backend-1"
ERROR_ALERT: Final = "BackendHighErrorRate"
CACHE_ALERT: Final = "ValkeyDown"
CACHE: Final = "valkey"


async def _quiet(live: Any, alertname: str) -> None:
    """Wait until neither Prometheus nor Alertmanager holds `alertname` (a clean start)."""

    async def probe() -> bool | None:
        pending_or_firing = await live.query(f'ALERTS{{alertname="{alertname}"}}')
        active = await live.alertmanager_alerts(alertname)
        return True if not pending_or_firing and not active else None

    await live.until(probe, within=QUIET_WITHIN, what=f"no {alertname} active before the test")


async def _notification(
    live: Any, alertname: str, since: datetime, *, status: str, **match: str
) -> dict[str, Any]:
    """The first notification the receiver got since `since` with this status and labels."""

    async def probe() -> dict[str, Any] | None:
        alerts: list[dict[str, Any]] = await live.received(alertname, since)
        for alert in alerts:
            if alert["status"] == status and all(
                alert["labels"].get(k) == v for k, v in match.items()
            ):
                return alert
        return None

    within = FIRE_WITHIN if status == "firing" else RESOLVE_WITHIN
    found: dict[str, Any] = await live.until(
        probe, within=within, what=f"a {status} {alertname} {match} at the webhook receiver"
    )
    return found


def _panel_query(board: str, panel: str) -> str:
    matches = [q for b, p, q in dashboards.iter_dashboard_queries() if (b, p) == (board, panel)]
    assert len(matches) == 1, (board, panel, matches)
    return matches[0]


async def test_backend_2_error_rate_fires_for_it_alone_and_resolves(live: Any) -> None:
    await _quiet(live, ERROR_ALERT)
    since = datetime.now(UTC)
    try:
        async with live.traffic():
            await live.faults.set(FAULTY, FaultKind.ERROR_RATE, {"rate": "0.6"}, 600.0)
            firing = await _notification(live, ERROR_ALERT, since, status="firing", instance=FAULTY)
            labels = firing["labels"]
            assert labels["service"] == "backend" and labels["severity"] == "warning", labels
            assert {"summary", "description", "runbook_url"} <= set(firing["annotations"])

            # backend-1 serves the same traffic without the fault: no alert, pending or firing.
            assert (
                await live.query(f'ALERTS{{alertname="{ERROR_ALERT}", instance="{HEALTHY}"}}') == []
            )
            assert [
                a for a in await live.alertmanager_alerts(ERROR_ALERT)
                if a["labels"]["instance"] != FAULTY
            ] == []  # fmt: skip

            # An agent takes the alert's labels and finds the same series in Prometheus.
            selector = f'instance="{labels["instance"]}", service="{labels["service"]}"'
            up = await live.query(f"up{{{selector}}}")
            assert [s["value"][1] for s in up] == ["1"], up
            ratio = await live.query(
                f"service_instance:grpc_server_errors:ratio_rate1m{{{selector}}}"
            )
            assert len(ratio) == 1 and float(ratio[0]["value"][1]) > 0.10, ratio

            # The dashboard's list of firing alerts shows it (see test_queries.py).
            shown = await live.query(_panel_query("mockinfra / Alerts", "Firing alerts"))
            assert any(
                s["metric"].get("alertname") == ERROR_ALERT
                and s["metric"].get("instance") == FAULTY
                for s in shown
            ), shown

            await live.faults.clear(FAULTY, FaultKind.ERROR_RATE)
            resolved = await _notification(
                live, ERROR_ALERT, since, status="resolved", instance=FAULTY
            )
    finally:
        with contextlib.suppress(FaultControlError):
            await live.faults.clear(FAULTY, FaultKind.ERROR_RATE)
    assert resolved["fingerprint"] == firing["fingerprint"]
    assert resolved["ends_at"] is not None
    assert [a for a in await live.received(ERROR_ALERT, since) if a["instance"] != FAULTY] == []


async def _cache_running(live: Any) -> None:
    async def probe() -> bool | None:
        info = await live.supervisor.info(CACHE)
        up = await live.query(f'redis_up{{instance="{CACHE}"}}')
        return True if info.state == "RUNNING" and [s["value"][1] for s in up] == ["1"] else None

    await live.until(probe, within=RUNNING_WITHIN + 30, what="Valkey running and scraped up")


async def test_stopping_the_cache_fires_cache_down_and_starting_it_resolves(live: Any) -> None:
    await _quiet(live, CACHE_ALERT)
    since = datetime.now(UTC)
    try:
        await live.supervisor.stop(CACHE)
        firing = await _notification(live, CACHE_ALERT, since, status="firing", instance=CACHE)
        labels = firing["labels"]
        assert labels["service"] == CACHE and labels["severity"] == "critical", labels

        # The same labels find the series that fired it, and the exporter itself still answers.
        selector = f'instance="{labels["instance"]}", service="{labels["service"]}"'
        assert [s["value"][1] for s in await live.query(f"redis_up{{{selector}}}")] == ["0"]
        assert [s["value"][1] for s in await live.query(f"up{{{selector}}}")] == ["1"]

        await live.supervisor.start(CACHE)
        resolved = await _notification(live, CACHE_ALERT, since, status="resolved", instance=CACHE)
    finally:
        await live.supervisor.start(CACHE)
        await _cache_running(live)
    assert resolved["fingerprint"] == firing["fingerprint"]
    assert resolved["ends_at"] is not None
