"""Loki and Promtail configurations: structure, paths and labels agree with what the stack writes.

The binaries are not packaged in Debian 12, so the `-verify-config`/`-check-syntax` checks run
only where they are on PATH (`nix develop`); everything else is checked from the rendered YAML.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from mockinfra.common import topology
from mockinfra.stack import rules

LEVELS = {"debug", "info", "warning", "error", "critical"}


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    return tmp_path / "state"


@pytest.fixture
def loki(tmp_path: Path, state_dir: Path) -> Path:
    return rules.render_loki(tmp_path / "loki.yml", state_dir=state_dir)


@pytest.fixture
def promtail(tmp_path: Path, state_dir: Path) -> Path:
    return rules.render_promtail(tmp_path / "promtail.yml", state_dir=state_dir)


def _load(path: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(path.read_text())
    return loaded


def test_loki_binds_loopback_with_topology_ports(loki: Path) -> None:
    server = _load(loki)["server"]
    component = topology.component("loki")
    assert server["http_listen_address"] == server["grpc_listen_address"] == topology.HOST
    assert server["http_listen_port"] == component.port
    assert server["grpc_listen_port"] == component.ports["grpc"]


def test_loki_stores_in_the_state_dir_and_keeps_seven_days(loki: Path, state_dir: Path) -> None:
    config = _load(loki)
    storage = config["common"]["storage"]["filesystem"]
    for path in (config["common"]["path_prefix"], *storage.values()):
        assert Path(path).is_relative_to(state_dir), path
    assert config["limits_config"]["retention_period"] == "168h"
    compactor = config["compactor"]
    assert compactor["retention_enabled"] is True
    assert Path(compactor["working_directory"]).is_relative_to(state_dir)
    # Retention in Loki needs the tsdb index with a 24h period.
    (schema,) = config["schema_config"]["configs"]
    assert (schema["store"], schema["index"]["period"]) == ("tsdb", "24h")


def test_promtail_pushes_to_loki_and_keeps_positions_in_state(
    promtail: Path, state_dir: Path
) -> None:
    config = _load(promtail)
    assert config["clients"] == [{"url": f"{topology.url('loki')}/loki/api/v1/push"}]
    assert Path(config["positions"]["filename"]).is_relative_to(state_dir)
    server = config["server"]
    assert server["http_listen_address"] == topology.HOST
    assert server["http_listen_port"] == topology.component("promtail").port


def test_one_job_per_component_log_file_with_its_labels(promtail: Path, state_dir: Path) -> None:
    """Every component's log (the stack's `<state>/logs/<component>.log`) and nginx's error log,
    labelled with the component's topology service and instance."""
    jobs = {job["job_name"]: job for job in _load(promtail)["scrape_configs"]}
    assert set(jobs) == {c.name for c in topology.COMPONENTS} | {"nginx-error"}
    owners = {c.name: c for c in topology.COMPONENTS} | {"nginx-error": topology.component("nginx")}
    for file, component in owners.items():
        (static,) = jobs[file]["static_configs"]
        assert static["labels"] == {
            "job": component.service,
            "service": component.service,
            "instance": component.name,
            "__path__": str(state_dir / "logs" / f"{file}.log"),
        }


def test_every_job_labels_a_normalised_level(promtail: Path) -> None:
    for job in _load(promtail)["scrape_configs"]:
        stages = job["pipeline_stages"]
        assert stages[-1] == {"labels": {"level": None}}, job["job_name"]
        normalise = stages[-2]["template"]
        assert normalise["source"] == "level"
        # The normalising template can only produce the five documented levels.
        produced = set(re.findall(r"}}(\w+){{", normalise["template"]))
        assert produced == LEVELS, job["job_name"]


def test_json_logs_are_parsed_as_json(promtail: Path) -> None:
    """The services built on mockinfra.common and nginx's access log write JSON lines."""
    jobs = {job["job_name"]: job for job in _load(promtail)["scrape_configs"]}
    json_jobs = {name for name, job in jobs.items() if "json" in job["pipeline_stages"][0]}
    apps = {c.name for c in topology.COMPONENTS if c.role is topology.Role.APP}
    assert json_jobs == apps | {"nginx"}
    for name in json_jobs:
        assert jobs[name]["pipeline_stages"][0]["json"]["expressions"]["level"] == "level"


@pytest.mark.parametrize(
    ("component", "line", "level"),
    [
        ("postgres", "2026-11-26 10:00:00.000 UTC [42] ERROR:  relation does not exist", "ERROR"),
        ("nginx-error", "2026/11/26 10:00:00 [warn] 7#7: *1 upstream timed out", "warn"),
        ("node-exporter", 'ts=2026-11-26T10:00:00Z caller=x.go:1 level=info msg="ok"', "info"),
    ],
)
def test_text_level_regexes_match_real_lines(
    promtail: Path, component: str, line: str, level: str
) -> None:
    """Promtail uses RE2; these patterns use only syntax Python's re shares with it."""
    job = next(j for j in _load(promtail)["scrape_configs"] if j["job_name"] == component)
    pattern = job["pipeline_stages"][0]["regex"]["expression"]
    match = re.search(pattern, line)
    assert match is not None
    assert match["level"] == level


def test_valkey_mark_regex_matches_a_real_line(promtail: Path) -> None:
    job = next(j for j in _load(promtail)["scrape_configs"] if j["job_name"] == "valkey")
    pattern = job["pipeline_stages"][0]["regex"]["expression"]
    match = re.search(pattern, "1234:M 26 Nov 2026 10:00:00.123 # WARNING overcommit_memory")
    assert match is not None
    assert match["mark"] == "#"


@pytest.mark.parametrize(
    ("key", "args"),
    [("loki", ("-verify-config", "-config.file")), ("promtail", ("-check-syntax", "-config.file"))],
)
def test_binary_accepts_the_config(
    key: str, args: tuple[str, str], loki: Path, promtail: Path, system_binary: Callable[[str], str]
) -> None:
    binary = system_binary(key)  # skips here: not in Debian 12, `nix develop` provides it
    config = {"loki": loki, "promtail": promtail}[key]
    result = subprocess.run(
        [binary, args[0], f"{args[1]}={config}"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
