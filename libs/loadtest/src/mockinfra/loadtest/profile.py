"""The fault profile the running stack was started with, to compare observations against.

`python -m mockinfra.stack up --profile NAME` records the name in the state folder; the load
test reads it from there (MOCKINFRA_STATE_DIR or `.state`). An explicit `--profile` overrides it,
and without either the seed's default is assumed and reported as assumed.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from mockinfra.common import topology
from mockinfra.common.profiles import InstanceProfile, ProfileName, profile_for

APP_INSTANCES = tuple(
    c.name for c in topology.COMPONENTS if c.role is topology.Role.APP and c.error_rate > 0
)


@dataclass(frozen=True, slots=True)
class ConfiguredProfile:
    """A named profile, where its name came from, and what it sets per instance."""

    name: ProfileName
    source: str  # "state:<path>", "argument" or "assumed"

    def instance(self, instance: str) -> InstanceProfile:
        return profile_for(self.name, instance)

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": str(self.name),
            "source": self.source,
            "instances": {name: asdict(self.instance(name)) for name in APP_INSTANCES},
        }


def _state_root() -> Path:
    # Imported lazily: the stack package is only needed when the state folder is consulted.
    from mockinfra.stack.state import State

    return State.from_env().root


def read_recorded(root: Path) -> tuple[ProfileName, Path] | None:
    """The profile recorded by `up` in a state folder, if any."""
    for path in (root / "profile", root / "run" / "profile", root / "config" / "profile"):
        if path.is_file():
            text = path.read_text().strip()
            if text.startswith("{"):
                text = str(json.loads(text).get("profile", ""))
            try:
                return ProfileName(text), path
            except ValueError:
                continue
    return None


def detect(explicit: str | None = None, *, state_root: Path | None = None) -> ConfiguredProfile:
    """The profile to report: explicit, else the stack's record, else the seed's (assumed)."""
    if explicit:
        return ConfiguredProfile(ProfileName(explicit), "argument")
    recorded = read_recorded(state_root if state_root is not None else _state_root())
    if recorded is not None:
        name, path = recorded
        return ConfiguredProfile(name, f"state:{path}")
    return ConfiguredProfile(ProfileName.SEED, "assumed")
