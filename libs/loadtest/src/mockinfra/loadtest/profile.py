"""The fault profile the running stack was started with, to compare observations against.

`python -m mockinfra.stack up --profile NAME` gives it to every service as `MOCKINFRA_PROFILE`;
the load test reads it from the running services of the stack in MOCKINFRA_STATE_DIR (or
`.state`). An explicit `--profile` overrides it; without either the default of `up` is assumed
and reported as assumed.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Final

import psutil

from mockinfra.common import topology
from mockinfra.common.profiles import InstanceProfile, ProfileName, profile_for
from mockinfra.stack.report import process_tree
from mockinfra.stack.state import State
from mockinfra.stack.supervisor import Supervisor

PROFILE_ENV: Final = "MOCKINFRA_PROFILE"

APP_INSTANCES = tuple(
    c.name for c in topology.COMPONENTS if c.role is topology.Role.APP and c.error_rate > 0
)


@dataclass(frozen=True, slots=True)
class ConfiguredProfile:
    """A named profile, where its name came from, and what it sets per instance."""

    name: ProfileName
    source: str  # where the name came from, printed next to it

    def instance(self, instance: str) -> InstanceProfile:
        return profile_for(self.name, instance)

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": str(self.name),
            "source": self.source,
            "instances": {name: asdict(self.instance(name)) for name in APP_INSTANCES},
        }


def running_profile(state: State | None = None) -> tuple[ProfileName, int] | None:
    """The profile the running services were started with, read from their environment.

    `up --profile NAME` hands every service `MOCKINFRA_PROFILE`; supervisord (its pid file is in
    the state folder) is their parent. Reading a live process is the truth even when someone
    restarted one service by hand with another profile.
    """
    pid = Supervisor(state or State.from_env()).pid()
    if pid is None:
        return None
    for child in process_tree(pid)[1:]:
        try:
            value = child.environ().get(PROFILE_ENV)
        except psutil.Error:
            continue
        if value:
            return ProfileName(value), child.pid
    return None


def detect(explicit: str | None = None, *, state: State | None = None) -> ConfiguredProfile:
    """The profile to report: explicit, else the stack's record, else the seed's (assumed)."""
    if explicit:
        return ConfiguredProfile(ProfileName(explicit), "argument")
    found = running_profile(state)
    if found is not None:
        name, pid = found
        return ConfiguredProfile(name, f"{PROFILE_ENV} of pid {pid}")
    # `up` defaults to the seed's profile.
    return ConfiguredProfile(ProfileName.SEED, "assumed: the stack is not running")
