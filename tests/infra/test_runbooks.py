"""Runbooks: one per alert, the same sections in each, queries that parse, rules quoted exactly."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from pathlib import Path

import yaml

from mockinfra.stack import rules

SECTIONS = [
    "## Rule",
    "## What it means",
    "## Confirm it",
    "## Likely causes in this system",
    "## Remediation",
    "## Related alerts",
]
COMMANDS = ("nox -s", "mockinfra faults")
STREAM_LABELS = {"service", "instance", "level"}


def _alerts(tmp_path: Path) -> dict[str, dict[str, object]]:
    files = rules.render_rules("realistic", tmp_path, runbook_base="x")
    return {
        rule["alert"]: rule
        for path in files
        for group in yaml.safe_load(path.read_text())["groups"]
        for rule in group["rules"]
        if "alert" in rule
    }


def _runbooks() -> dict[str, str]:
    return {p.stem: p.read_text() for p in rules.RUNBOOKS_DIR.glob("*.md") if p.stem != "README"}


def _blocks(text: str, lang: str) -> list[str]:
    return [
        line
        for block in re.findall(rf"```{lang}\n(.*?)```", text, re.S)
        for line in block.splitlines()
        if line.strip()
    ]


def test_one_runbook_per_alert_and_an_index(tmp_path: Path) -> None:
    alerts = _alerts(tmp_path)
    assert set(_runbooks()) == set(alerts)
    index = (rules.RUNBOOKS_DIR / "README.md").read_text()
    for name in alerts:
        assert f"[{name}]({name}.md)" in index


def test_same_sections_in_every_runbook() -> None:
    for name, text in _runbooks().items():
        assert text.startswith(f"# {name}\n"), name
        headings = [line for line in text.splitlines() if line.startswith("## ")]
        assert headings == SECTIONS, name


def _section(text: str, heading: str) -> str:
    return text.split(f"{heading}\n")[1].split("\n## ")[0]


def test_rule_section_quotes_the_rule_and_its_severity(tmp_path: Path) -> None:
    """The runbook shows the exact expression of the realistic profile: update it with the rule."""
    alerts = _alerts(tmp_path)
    for name, text in _runbooks().items():
        (quoted,) = re.findall(r"```promql\n(.*?)```", _section(text, "## Rule"), re.S)
        assert quoted.strip() == str(alerts[name]["expr"]).strip(), name
        labels = alerts[name]["labels"]
        assert isinstance(labels, dict)
        assert f"| Severity | `{labels['severity']}` |" in text, name


def test_remediation_uses_the_project_commands() -> None:
    for name, text in _runbooks().items():
        remediation = _section(text, "## Remediation")
        assert any(c in remediation for c in COMMANDS), name


def test_logql_selects_by_the_shipped_labels_only() -> None:
    for name, text in _runbooks().items():
        queries = _blocks(text, "logql")
        assert queries, f"{name}: no LogQL"
        for query in queries:
            for selector in re.findall(r"\{([^}]*)\}", query):
                labels = set(re.findall(r"(\w+)\s*(?:=~|!~|!=|=)", selector))
                assert labels <= STREAM_LABELS, f"{name}: {query}"


def test_every_promql_query_parses(check_promql: Callable[[Sequence[str]], None]) -> None:
    exprs = [
        q
        for text in _runbooks().values()
        for q in _blocks(_section(text, "## Confirm it"), "promql")
    ]
    assert len(exprs) > 2 * len(_runbooks())
    check_promql(exprs)
