"""compose.yaml and the Dockerfile, checked without a Docker engine.

The file must be valid Compose (the same builtin schema users can run), agree with the topology
table on names and ports, and keep the production habits the design asks for: a healthcheck and
resource limits on every service, start order by health, loopback-only publishing, a non-root
image with a healthcheck.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from mockinfra.common import topology

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "compose.yaml"
# Host paths outside the repository that a service may mount (node-exporter reads the host).
HOST_MOUNTS = {"/proc", "/sys"}
# The seed's limits (DESIGN.md), by service: (cpus, memory).
SEED_LIMITS = {
    "frontend": ("1", "256M"),
    "backend-1": ("1", "256M"),
    "backend-2": ("1", "256M"),
    "postgres": ("2", "1G"),
    "valkey": ("1", "256M"),
    "nginx": ("1", "128M"),
}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE_FILE.read_text())
    return loaded


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = compose["services"]
    return found


def _one_shots(services: dict[str, dict[str, Any]]) -> set[str]:
    return {name for name, svc in services.items() if svc.get("restart") == "no"}


def _published(svc: dict[str, Any]) -> list[tuple[str, int, int]]:
    """(host ip, host port, container port) of each short-syntax port mapping."""
    out = []
    for spec in svc.get("ports", []):
        ip, host, container = str(spec).split(":")
        out.append((ip, int(host), int(container)))
    return out


def _bind_sources(svc: dict[str, Any]) -> list[str]:
    sources = []
    for volume in svc.get("volumes", []):
        source = volume["source"] if isinstance(volume, dict) else volume.split(":")[0]
        if source.startswith((".", "/")):
            sources.append(source)
    return sources


def test_validates_against_the_compose_specification() -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "check_jsonschema",
            "--builtin-schema",
            "vendor.compose-spec",
            str(COMPOSE_FILE),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_component_is_a_service(services: dict[str, dict[str, Any]]) -> None:
    missing = {c.name for c in topology.COMPONENTS} - set(services)
    assert missing == set()


def test_published_ports_agree_with_the_topology(services: dict[str, dict[str, Any]]) -> None:
    for comp in topology.COMPONENTS:
        published = _published(services[comp.name])
        assert {host for _, host, _ in published} == set(comp.ports.values()), comp.name
        for ip, host, container in published:
            # Same port inside and out (rendered configs use topology ports with service names),
            # and loopback only, as in local mode.
            assert (ip, host) == (topology.HOST, container), comp.name


def test_extra_services_publish_on_loopback_only(services: dict[str, dict[str, Any]]) -> None:
    taken = {port for comp in topology.COMPONENTS for port in comp.ports.values()}
    for name, svc in services.items():
        if name in topology.BY_NAME:
            continue
        for ip, host, _ in _published(svc):
            assert ip == topology.HOST, name
            assert host not in taken, f"{name} publishes {host}, a topology port"


def test_python_services_listen_on_their_topology_ports(
    services: dict[str, dict[str, Any]],
) -> None:
    for comp in topology.COMPONENTS:
        if comp.role is not topology.Role.APP:
            continue
        env = services[comp.name]["environment"]
        assert env["MOCKINFRA_INSTANCE"] == comp.name
        assert env["MOCKINFRA_SERVICE"] == comp.service
        assert int(env["MOCKINFRA_PORT"]) == comp.port
        if comp.metrics_port is not None:
            assert int(env["MOCKINFRA_METRICS_PORT"]) == comp.metrics_port
        assert env["MOCKINFRA_HOST"] == "0.0.0.0"
        assert env["OTEL_EXPORTER_OTLP_ENDPOINT"].startswith("${OTEL_EXPORTER_OTLP_ENDPOINT")


def test_every_mounted_path_exists(services: dict[str, dict[str, Any]]) -> None:
    for name, svc in services.items():
        for source in _bind_sources(svc):
            if source.startswith("/"):
                assert source in HOST_MOUNTS, f"{name} mounts host path {source}"
            else:
                assert (ROOT / source).exists(), f"{name} mounts {source}, which is missing"
        if build := svc.get("build"):
            context = ROOT / build["context"]
            assert (context / build.get("dockerfile", "Dockerfile")).is_file(), name


def test_named_volumes_and_network_are_declared(
    compose: dict[str, Any], services: dict[str, dict[str, Any]]
) -> None:
    declared = set(compose["volumes"])
    assert list(compose["networks"]) == ["mockinfra"]
    for name, svc in services.items():
        assert svc["networks"] == ["mockinfra"], name
        for volume in svc.get("volumes", []):
            source = volume.split(":")[0]
            if not source.startswith((".", "/")):
                assert source in declared, f"{name} uses undeclared volume {source}"
    assert {"postgres-data", "prometheus-data", "config", "logs"} <= declared


def test_every_service_has_a_healthcheck_and_limits(
    services: dict[str, dict[str, Any]],
) -> None:
    one_shots = _one_shots(services)
    assert one_shots == {"config"}
    for name, svc in services.items():
        if name not in one_shots:
            check = svc.get("healthcheck", {})
            assert check.get("test") and not check.get("disable"), f"{name} has no healthcheck"
        limits = svc.get("deploy", {}).get("resources", {}).get("limits", {})
        assert limits.get("cpus") and limits.get("memory"), f"{name} has no limits"
        if name in SEED_LIMITS:
            assert (str(limits["cpus"]), limits["memory"]) == SEED_LIMITS[name], name


def test_start_order_waits_for_health(services: dict[str, dict[str, Any]]) -> None:
    one_shots = _one_shots(services)
    for name, svc in services.items():
        for dep, spec in svc.get("depends_on", {}).items():
            assert dep in services, f"{name} depends on unknown {dep}"
            expected = "service_completed_successfully" if dep in one_shots else "service_healthy"
            assert spec["condition"] == expected, f"{name} -> {dep}"
            # An optional (profiled) service must never be a hard dependency of a default one.
            assert not services[dep].get("profiles") or svc.get("profiles"), f"{name} -> {dep}"
    for name in ("nginx", "prometheus", "alertmanager", "loki", "promtail", "grafana"):
        assert "config" in services[name]["depends_on"], name


def test_data_layer_publishes_only_what_the_seed_does(
    services: dict[str, dict[str, Any]],
) -> None:
    assert _published(services["postgres"]) == [(topology.HOST, 5433, 5433)]
    assert _published(services["valkey"]) == [(topology.HOST, 6380, 6380)]
    command = services["valkey"]["command"]
    assert command[command.index("--maxmemory") + 1] == "256mb"
    assert command[command.index("--maxmemory-policy") + 1] == "allkeys-lru"


def test_tracing_profile_lights_up_with_one_env_file(
    services: dict[str, dict[str, Any]],
) -> None:
    env_file = ROOT / "infra" / "compose" / "tracing.env"
    settings = dict(
        line.split("=", 1)
        for line in env_file.read_text().splitlines()
        if line and not line.startswith("#")
    )
    assert settings["COMPOSE_PROFILES"] == "tracing"
    match = re.fullmatch(r"http://([a-z-]+):(\d+)", settings["OTEL_EXPORTER_OTLP_ENDPOINT"])
    assert match, settings["OTEL_EXPORTER_OTLP_ENDPOINT"]
    backend = services[match.group(1)]
    assert backend["profiles"] == ["tracing"]
    assert int(match.group(2)) in {container for _, _, container in _published(backend)}


def test_dockerfile_stages_user_and_healthcheck() -> None:
    text = (ROOT / "Dockerfile").read_text()
    stages = re.findall(r"^FROM\s+\S+\s+AS\s+(\S+)", text, flags=re.MULTILINE | re.IGNORECASE)
    assert stages == ["builder", "runtime"]
    final = text[text.rindex("\nFROM ") :]
    users = re.findall(r"^USER\s+(\S+)", final, flags=re.MULTILINE)
    assert users and users[-1] not in {"root", "0", "0:0"}
    assert re.search(r"^HEALTHCHECK\s", final, flags=re.MULTILINE)
    assert "uv sync --frozen --no-dev" in text
    assert re.search(r"^FROM\s+python:3\.11|ARG PYTHON_IMAGE=python:3\.11", text, re.MULTILINE)
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".git", ".venv", ".state"} <= set(ignored)
