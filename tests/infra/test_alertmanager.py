"""Alertmanager configuration: valid for amtool, routes by severity, groups and inhibits."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from mockinfra.common import topology
from mockinfra.stack import rules

WEBHOOK = f"{topology.url('alertsink')}/webhook"


@pytest.fixture(params=tuple(rules.PROFILES))
def config(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    return rules.render_alertmanager(
        tmp_path / "alertmanager.yml", webhook_url=WEBHOOK, profile=request.param
    )


def _load(path: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(path.read_text())
    return loaded


def test_amtool_check_config(config: Path, system_binary: Callable[[str], str]) -> None:
    result = subprocess.run(
        [system_binary("amtool"), "check-config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


@pytest.mark.parametrize(
    ("labels", "receiver"),
    [
        (("alertname=ServiceDown", "severity=critical", "service=backend"), "webhook-critical"),
        (("alertname=BackendHighErrorRate", "severity=warning", "service=backend"), "webhook"),
        (("alertname=Unlabelled",), "webhook"),
    ],
)
def test_routing_by_severity(
    config: Path, labels: tuple[str, ...], receiver: str, system_binary: Callable[[str], str]
) -> None:
    result = subprocess.run(
        [system_binary("amtool"), "config", "routes", "test", f"--config.file={config}", *labels],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.split() == [receiver]


def test_receivers_post_to_the_webhook_and_send_resolved(config: Path) -> None:
    receivers = _load(config)["receivers"]
    hooks = [hook for r in receivers for hook in r["webhook_configs"]]
    assert hooks
    assert all(h["url"] == WEBHOOK and h["send_resolved"] is True for h in hooks)


def test_grouping(config: Path) -> None:
    route = _load(config)["route"]
    assert route["group_by"] == ["alertname", "service"]


def test_fast_profile_notifies_within_seconds(tmp_path: Path) -> None:
    fast = _load(rules.render_alertmanager(tmp_path / "a.yml", webhook_url=WEBHOOK, profile="fast"))
    assert fast["route"]["group_wait"] == "5s"
    assert fast["route"]["group_interval"] == "10s"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((topology.HOST, 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def alertmanager(tmp_path: Path, system_binary: Callable[[str], str]) -> Iterator[str]:
    """A real Alertmanager on a free port with the fast config; its base URL."""
    binary = system_binary("alertmanager")
    config = rules.render_alertmanager(
        tmp_path / "alertmanager.yml", webhook_url=WEBHOOK, profile="fast"
    )
    base = f"http://{topology.HOST}:{_free_port()}"
    proc = subprocess.Popen(
        [
            binary,
            f"--config.file={config}",
            f"--storage.path={tmp_path / 'data'}",
            f"--web.listen-address={base.removeprefix('http://')}",
            "--cluster.listen-address=",  # one node: no gossip port
        ],
        stdout=subprocess.DEVNULL,
        stderr=(tmp_path / "alertmanager.log").open("w"),
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, (tmp_path / "alertmanager.log").read_text()
            try:
                if httpx.get(f"{base}/-/ready", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "Alertmanager not ready within 30 s"
            time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _alert(name: str, severity: str, service: str, instance: str) -> dict[str, Any]:
    labels = {"alertname": name, "severity": severity, "service": service, "instance": instance}
    return {"labels": labels, "annotations": {"summary": name}}


@pytest.mark.integration
def test_inhibition_on_a_real_alertmanager(alertmanager: str) -> None:
    """ServiceDown on backend-2 silences backend-2's error and latency alerts, not backend-1's;
    a critical alert silences the warning of the same name and instance."""
    posted = [
        _alert("ServiceDown", "critical", "backend", "backend-2"),
        _alert("BackendHighErrorRate", "warning", "backend", "backend-2"),
        _alert("BackendHighLatency", "warning", "backend", "backend-2"),
        _alert("BackendHighErrorRate", "warning", "backend", "backend-1"),
        _alert("NodeDiskSpaceLow", "critical", "node", "node"),
        _alert("NodeDiskSpaceLow", "warning", "node", "node"),
    ]
    httpx.post(f"{alertmanager}/api/v2/alerts", json=posted, timeout=5).raise_for_status()

    def states() -> dict[tuple[str, str, str], str]:
        got = httpx.get(f"{alertmanager}/api/v2/alerts", timeout=5).json()
        return {
            (a["labels"]["alertname"], a["labels"]["instance"], a["labels"]["severity"]): a[
                "status"
            ]["state"]
            for a in got
        }

    expected = {
        ("ServiceDown", "backend-2", "critical"): "active",
        ("BackendHighErrorRate", "backend-2", "warning"): "suppressed",
        ("BackendHighLatency", "backend-2", "warning"): "suppressed",
        ("BackendHighErrorRate", "backend-1", "warning"): "active",
        ("NodeDiskSpaceLow", "node", "critical"): "active",
        ("NodeDiskSpaceLow", "node", "warning"): "suppressed",
    }
    # Inhibition is computed when alerts are listed, but ingestion is asynchronous: poll briefly.
    deadline = time.monotonic() + 10
    while (current := states()) != expected and time.monotonic() < deadline:
        time.sleep(0.2)
    assert current == expected
