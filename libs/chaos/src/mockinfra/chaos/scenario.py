"""The scenario catalog: one YAML data file per scenario, validated by a JSON Schema.

Scenarios are data, not code, so adding one is a review of a small file, and the ground truth a
run records is exactly what the file declared.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Final

import jsonschema
import yaml

CATALOG_ENV: Final = "MOCKINFRA_CHAOS_SCENARIOS"
CATALOG_RELPATH: Final = Path("infra/chaos/scenarios")
DEFAULT_DETECT_TIMEOUT: Final = 180.0
DEFAULT_RESOLVE_TIMEOUT: Final = 240.0


class ScenarioError(ValueError):
    """A scenario file is missing or does not match the schema."""


@dataclass(frozen=True, slots=True)
class Action:
    """One injection step; `spec` keeps the step's own fields (instances, kind, params, ...)."""

    action: str
    spec: Mapping[str, Any]
    every_seconds: float | None = None

    @property
    def params(self) -> dict[str, Any]:
        return dict(self.spec.get("params") or {})


@dataclass(frozen=True, slots=True)
class Scenario:
    """A parsed, validated scenario file."""

    name: str
    title: str
    description: str
    target: Mapping[str, str]
    inject: tuple[Action, ...]
    hold_seconds: float
    expected_alerts: tuple[str, ...]
    affected_services: tuple[str, ...]
    root_cause: Mapping[str, str]
    remediation: Mapping[str, str]
    detect_timeout_seconds: float = DEFAULT_DETECT_TIMEOUT
    resolve_timeout_seconds: float = DEFAULT_RESOLVE_TIMEOUT
    raw: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Scenario:
        validate(data)
        return cls(
            name=data["name"],
            title=data["title"],
            description=data["description"],
            target=dict(data["target"]),
            inject=tuple(
                Action(step["action"], dict(step), step.get("every_seconds"))
                for step in data["inject"]
            ),
            hold_seconds=float(data["hold_seconds"]),
            expected_alerts=tuple(data["expected_alerts"]),
            affected_services=tuple(data["affected_services"]),
            root_cause=dict(data["root_cause"]),
            remediation=dict(data["remediation"]),
            detect_timeout_seconds=float(
                data.get("detect_timeout_seconds", DEFAULT_DETECT_TIMEOUT)
            ),
            resolve_timeout_seconds=float(
                data.get("resolve_timeout_seconds", DEFAULT_RESOLVE_TIMEOUT)
            ),
            raw=dict(data),
        )

    def fault_kinds(self) -> set[str]:
        """Every run-time fault kind the scenario sets."""
        return {str(a.spec["kind"]) for a in self.inject if a.action == "fault"}


@cache
def schema() -> dict[str, Any]:
    """The scenario JSON Schema shipped inside the package."""
    text = resources.files("mockinfra.chaos").joinpath("scenario.schema.json").read_text("utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


@cache
def _validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(schema())


def validate(data: Mapping[str, Any]) -> None:
    """Raise `ScenarioError` with every schema violation of one scenario document."""
    errors = sorted(_validator().iter_errors(data), key=lambda e: list(e.absolute_path))
    if errors:
        where = data.get("name", "?") if isinstance(data, Mapping) else "?"
        lines = "; ".join(
            f"{'/'.join(map(str, e.absolute_path)) or '.'}: {e.message}" for e in errors
        )
        raise ScenarioError(f"scenario {where}: {lines}")


def catalog_dir() -> Path:
    """`MOCKINFRA_CHAOS_SCENARIOS`, else `infra/chaos/scenarios` of the enclosing checkout."""
    if env := os.environ.get(CATALOG_ENV):
        return Path(env)
    for base in (Path.cwd(), *Path(__file__).resolve().parents):
        if (base / CATALOG_RELPATH).is_dir():
            return base / CATALOG_RELPATH
    raise ScenarioError(f"no scenario catalog found; set {CATALOG_ENV}")


def load_file(path: Path) -> Scenario:
    """Parse and validate one scenario file; its `name` must equal the file's stem."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as err:
        raise ScenarioError(f"{path}: {err}") from err
    if not isinstance(data, dict):
        raise ScenarioError(f"{path}: not a mapping")
    scenario = Scenario.from_dict(data)
    if scenario.name != path.stem:
        raise ScenarioError(f"{path}: name {scenario.name!r} differs from the file name")
    return scenario


def load_catalog(folder: Path | None = None) -> dict[str, Scenario]:
    """Every scenario of the catalog, by name, sorted."""
    folder = folder or catalog_dir()
    scenarios = [load_file(p) for p in sorted(folder.glob("*.yaml"))]
    if not scenarios:
        raise ScenarioError(f"{folder}: no scenarios")
    return {s.name: s for s in scenarios}
