"""Prometheus rules of both profiles: valid, unit-tested, consistent, and each with a runbook."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from mockinfra.stack import rules

PROFILES = tuple(rules.PROFILES)
RUNBOOK_BASE = "https://example.invalid/mockinfra/docs/runbooks"
ALERT_NAME = re.compile(r"^(Service|Node|Frontend|Backend|Postgres|Valkey|Nginx)[A-Z][A-Za-z]+$")
DURATION = re.compile(r"^(\d+)([smh])$")
SECONDS = {"s": 1, "m": 60, "h": 3600}


def _seconds(duration: str) -> int:
    match = DURATION.match(duration)
    assert match, f"unexpected duration {duration!r}"
    return int(match[1]) * SECONDS[match[2]]


def _alerts(files: list[Path]) -> list[dict[str, Any]]:
    return [
        rule
        for path in files
        for group in yaml.safe_load(path.read_text())["groups"]
        for rule in group["rules"]
        if "alert" in rule
    ]


def _labels(series: str) -> dict[str, str]:
    return dict(re.findall(r'(\w+)="([^"]*)"', series))


def _identity(labels: dict[str, str]) -> tuple[str | None, ...]:
    """What tells two alerts of one rule apart: the labels the alert expressions keep."""
    return tuple(labels.get(k) for k in ("instance", "queue", "mountpoint"))


@pytest.fixture(scope="module", params=PROFILES)
def rendered(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    dest = tmp_path_factory.mktemp(f"rules-{request.param}")
    rules.render_rule_tests(request.param, dest, runbook_base=RUNBOOK_BASE)
    return dest


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, f"{' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result


def test_promtool_check_rules(rendered: Path, system_binary: Callable[[str], str]) -> None:
    files = sorted(p.name for p in rendered.glob("*.rules.yml"))
    assert len(files) == len(rules.rule_templates())
    _run(system_binary("promtool"), "check", "rules", *files, cwd=rendered)


def test_promtool_unit_tests(rendered: Path, system_binary: Callable[[str], str]) -> None:
    tests = sorted(p.name for p in rendered.glob("*.tests.yml"))
    assert tests, "no promtool unit tests rendered"
    result = _run(system_binary("promtool"), "test", "rules", *tests, cwd=rendered)
    assert result.stdout.count("SUCCESS") == len(tests)


def test_every_alert_has_a_firing_and_a_silent_case(rendered: Path) -> None:
    """Each alert is asserted firing (with annotations) and asserted silent somewhere."""
    alerts = {a["alert"] for a in _alerts(sorted(rendered.glob("*.rules.yml")))}
    fires: set[str] = set()
    silent: set[str] = set()
    for path in rendered.glob("*.tests.yml"):
        for case in yaml.safe_load(path.read_text())["tests"]:
            # A case that lists some alerts but not every input series' identity asserts the rest
            # silent (promtool compares the whole list); an empty exp_alerts asserts silence.
            inputs = {_identity(_labels(s["series"])) for s in case["input_series"]}
            for check in case["alert_rule_test"]:
                expected = check["exp_alerts"]
                for alert in expected:
                    assert set(alert["exp_annotations"]) == {
                        "summary",
                        "description",
                        "runbook_url",
                    }
                    fires.add(check["alertname"])
                fired = {_identity(a["exp_labels"]) for a in expected}
                if not expected or inputs - fired:
                    silent.add(check["alertname"])
    assert alerts - fires == set(), "alerts without a firing case"
    assert alerts - silent == set(), "alerts without a silent case"


def test_alert_conventions(rendered: Path) -> None:
    for alert in _alerts(sorted(rendered.glob("*.rules.yml"))):
        name = alert["alert"]
        assert ALERT_NAME.match(name), f"{name}: CamelCase, prefixed by its component"
        assert alert["labels"]["severity"] in {"critical", "warning"}, name
        assert "for" in alert, f"{name} has no `for:`"
        assert set(alert["annotations"]) == {"summary", "description", "runbook_url"}, name
        assert "{{" not in alert["annotations"]["summary"], f"{name}: summary must be static"
        assert "$labels.instance" in alert["annotations"]["description"], name
        assert alert["annotations"]["runbook_url"] == f"{RUNBOOK_BASE}/{name}.md"
        assert "by (service, instance" in alert["expr"] or "service_instance:" in alert["expr"], (
            f"{name}: aggregate by (service, instance) so alerts carry both labels"
        )


def test_fast_profile_fires_within_a_minute() -> None:
    fast = rules.PROFILES["fast"]
    assert _seconds(fast.window) <= 60
    assert all(_seconds(d) <= 30 for d in fast.durations.values())
    realistic = rules.PROFILES["realistic"]
    assert all(_seconds(k) == _seconds(v) for k, v in realistic.durations.items())


def test_seed_durations_in_the_realistic_profile(tmp_path: Path) -> None:
    files = rules.render_rules("realistic", tmp_path, runbook_base=RUNBOOK_BASE)
    durations = {a["alert"]: a["for"] for a in _alerts(files)}
    # The seed's documented alerts and their durations (DESIGN.md).
    assert durations["ServiceDown"] == "1m"
    assert durations["FrontendHighErrorRate"] == durations["BackendHighErrorRate"] == "2m"
    assert durations["FrontendHighLatency"] == durations["BackendHighLatency"] == "5m"
    assert durations["BackendDatabaseNoQueries"] == "2m"
    assert durations["BackendHighCacheMissRate"] == "5m"


def test_every_alert_has_a_runbook(tmp_path: Path) -> None:
    files = rules.render_rules("realistic", tmp_path, runbook_base=RUNBOOK_BASE)
    names = sorted(a["alert"] for a in _alerts(files))
    missing = [n for n in names if not (rules.RUNBOOKS_DIR / f"{n}.md").is_file()]
    assert missing == []
    extra = sorted(
        p.stem
        for p in rules.RUNBOOKS_DIR.glob("*.md")
        if p.stem != "README" and p.stem not in names
    )
    assert extra == [], "runbooks for alerts that do not exist"


def test_unknown_seed_duration_is_refused() -> None:
    with pytest.raises(KeyError, match="no fast duration for '7m'"):
        rules.PROFILES["fast"].dur("7m")
