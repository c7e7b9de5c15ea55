"""Ground-truth records: what a run injected, where and when, and which alerts it caused.

One JSON file per run, validated against `docs/schemas/ground-truth.schema.json` before it is
written, so an agent's diagnosis can be scored against a document whose shape is guaranteed.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any, Final

import jsonschema

SCHEMA_RELPATH: Final = Path("docs/schemas/ground-truth.schema.json")
SCHEMA_VERSION: Final = 1


class GroundTruthError(ValueError):
    """A record does not match the ground-truth schema."""


def now() -> datetime:
    return datetime.now(UTC)


def rfc3339(moment: datetime | None) -> str | None:
    """UTC RFC 3339 with a `Z`, millisecond precision; None stays None."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def new_run_id(scenario: str, started: datetime) -> str:
    """Sortable and unique: start time, scenario, six random hex digits."""
    return f"{started.astimezone(UTC):%Y%m%dT%H%M%SZ}-{scenario}-{secrets.token_hex(3)}"


def schema_path() -> Path:
    """The schema file of the enclosing checkout (docs/ is its one home)."""
    for base in (Path.cwd(), *Path(__file__).resolve().parents):
        if (base / SCHEMA_RELPATH).is_file():
            return base / SCHEMA_RELPATH
    raise GroundTruthError(f"{SCHEMA_RELPATH} not found above {Path(__file__).parent}")


@cache
def _validator() -> jsonschema.Draft202012Validator:
    loaded = json.loads(schema_path().read_text(encoding="utf-8"))
    return jsonschema.Draft202012Validator(
        loaded, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )


def validate_record(record: Mapping[str, Any]) -> None:
    """Raise `GroundTruthError` listing every violation."""
    errors = sorted(_validator().iter_errors(record), key=lambda e: list(e.absolute_path))
    if errors:
        lines = "; ".join(
            f"{'/'.join(map(str, e.absolute_path)) or '.'}: {e.message}" for e in errors
        )
        raise GroundTruthError(f"invalid ground-truth record: {lines}")


def write_record(
    record: Mapping[str, Any], *, runs_dir: Path, extra_path: Path | None = None
) -> Path:
    """Validate, then write `<runs_dir>/<run_id>.json` (and `extra_path` if given)."""
    validate_record(record)
    text = json.dumps(record, indent=2, sort_keys=False) + "\n"
    runs_dir.mkdir(parents=True, exist_ok=True)
    path = runs_dir / f"{record['run_id']}.json"
    path.write_text(text, encoding="utf-8")
    if extra_path is not None:
        extra_path.parent.mkdir(parents=True, exist_ok=True)
        extra_path.write_text(text, encoding="utf-8")
    return path
