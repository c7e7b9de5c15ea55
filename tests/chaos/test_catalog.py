"""The scenario catalog: valid against its schema, and consistent with the faults and rules."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from mockinfra.chaos import scenario
from mockinfra.common import topology
from mockinfra.common.faults import FaultKind
from mockinfra.stack.rules import render_rules

REQUIRED = {
    "backend-error-surge", "backend-latency", "backend-timeouts", "backend-crash", "backend-hang",
    "backends-degraded", "database-down", "connection-pool-exhaustion", "slow-queries",
    "cache-down", "cache-flush", "cache-memory-pressure", "queue-backlog", "dead-letter-growth",
    "cpu-saturation", "memory-leak", "disk-filling", "nginx-upstream-misconfig", "no-fault-control",
}  # fmt: skip


@pytest.fixture(scope="module")
def catalog() -> dict[str, scenario.Scenario]:
    return scenario.load_catalog()


def test_catalog_has_every_required_scenario(catalog: dict[str, scenario.Scenario]) -> None:
    assert set(catalog) >= REQUIRED, REQUIRED - set(catalog)


def test_every_file_validates_against_the_schema() -> None:
    files = sorted(scenario.catalog_dir().glob("*.yaml"))
    assert len(files) >= len(REQUIRED)
    for path in files:
        scenario.validate(yaml.safe_load(path.read_text()))


def test_schema_rejects_a_bad_scenario(catalog: dict[str, scenario.Scenario]) -> None:
    bad = dict(catalog["backend-error-surge"].raw)
    bad["root_cause"] = {"level": "cosmic", "type": "error_rate"}
    with pytest.raises(scenario.ScenarioError, match="root_cause"):
        scenario.validate(bad)
    bad = dict(catalog["backend-error-surge"].raw, inject=[{"action": "fault", "kind": "x"}])
    with pytest.raises(scenario.ScenarioError, match="instances"):
        scenario.validate(bad)


def test_fault_kinds_exist(catalog: dict[str, scenario.Scenario]) -> None:
    known = {k.value for k in FaultKind}
    for s in catalog.values():
        assert s.fault_kinds() <= known, (s.name, s.fault_kinds() - known)


def test_targets_and_components_are_in_the_topology(catalog: dict[str, scenario.Scenario]) -> None:
    services = {c.service for c in topology.COMPONENTS}
    for s in catalog.values():
        for action in s.inject:
            for name in (*action.spec.get("instances", ()), action.spec.get("component")):
                if name is not None:
                    topology.component(name)
        assert set(s.affected_services) <= services, s.name
        if s.target["kind"] in ("instance", "component") and s.target["name"] in topology.BY_NAME:
            topology.component(s.target["name"])


def test_expected_alerts_exist_in_the_rendered_rules(
    catalog: dict[str, scenario.Scenario], tmp_path: Path
) -> None:
    names: set[str] = set()
    for path in render_rules("fast", tmp_path, runbook_base="http://example.invalid"):
        for group in yaml.safe_load(path.read_text())["groups"]:
            names |= {r["alert"] for r in group["rules"] if "alert" in r}
    assert names, "no alert rules rendered"
    for s in catalog.values():
        assert set(s.expected_alerts) <= names, (s.name, set(s.expected_alerts) - names)


def test_only_the_control_expects_nothing_and_targets_nothing(
    catalog: dict[str, scenario.Scenario],
) -> None:
    control = catalog["no-fault-control"]
    assert not control.inject and not control.expected_alerts
    assert control.target["kind"] == "none"
    for s in catalog.values():
        if s.name != "no-fault-control":
            assert s.inject, s.name
