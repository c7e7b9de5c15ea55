"""The one list of system binaries the stack needs, and where each comes from.

`deps` installs the Debian packages of the missing ones, `up` finds them on PATH (Debian and
nixpkgs name some differently, so each has its candidate names), and a test checks that
flake.nix's devShell provides every nixpkgs attribute listed here.
"""

from __future__ import annotations

import glob
import shutil
from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True, slots=True)
class Binary:
    """A program the stack runs, by the names it has on Debian and in nixpkgs."""

    key: str
    names: tuple[str, ...]  # candidate executable names, preferred first
    debian: str | None  # Debian package providing it (None: not packaged in Debian 12)
    nixpkgs: str  # nixpkgs attribute providing it
    optional: bool = False  # the stack skips its component when it is missing
    extra_dirs: tuple[str, ...] = ()  # globbed folders outside PATH (Debian's PostgreSQL)

    def find(self) -> str | None:
        """Absolute path of the first candidate found, or None."""
        for name in self.names:
            if found := shutil.which(name):
                return found
        for pattern in self.extra_dirs:
            for folder in sorted(glob.glob(pattern), reverse=True):
                for name in self.names:
                    if found := shutil.which(name, path=folder):
                        return found
        return None

    def require(self) -> str:
        """Absolute path, or FileNotFoundError saying where the program comes from."""
        found = self.find()
        if found is None:
            raise FileNotFoundError(f"{self.key} is not installed ({self.source})")
        return found

    @property
    def source(self) -> str:
        if self.debian is None:
            return f"not in Debian 12; `nix develop` provides nixpkgs `{self.nixpkgs}`"
        return f"run `nox -s deps`: Debian package `{self.debian}`, nixpkgs `{self.nixpkgs}`"


_PG_DIRS: Final = ("/usr/lib/postgresql/15/bin", "/usr/lib/postgresql/*/bin")

BINARIES: Final[tuple[Binary, ...]] = (
    Binary("postgres", ("postgres",), "postgresql", "postgresql_15", extra_dirs=_PG_DIRS),
    Binary("initdb", ("initdb",), "postgresql", "postgresql_15", extra_dirs=_PG_DIRS),
    Binary("pg_isready", ("pg_isready",), "postgresql", "postgresql_15", extra_dirs=_PG_DIRS),
    Binary("psql", ("psql",), "postgresql", "postgresql_15", extra_dirs=_PG_DIRS),
    # Valkey is not in Debian 12; redis-server speaks the same protocol.
    Binary("valkey", ("valkey-server", "redis-server"), "redis-server", "valkey"),
    Binary("valkey-cli", ("valkey-cli", "redis-cli"), "redis-server", "valkey"),
    Binary("nginx", ("nginx",), "nginx", "nginx", extra_dirs=("/usr/sbin",)),
    Binary("openssl", ("openssl",), "openssl", "openssl"),
    Binary("prometheus", ("prometheus",), "prometheus", "prometheus"),
    Binary("promtool", ("promtool",), "prometheus", "prometheus.cli"),
    Binary(
        "alertmanager",
        ("alertmanager", "prometheus-alertmanager"),
        "prometheus-alertmanager",
        "prometheus-alertmanager",
    ),
    Binary("amtool", ("amtool",), "prometheus-alertmanager", "prometheus-alertmanager"),
    Binary(
        "node-exporter",
        ("node_exporter", "prometheus-node-exporter"),
        "prometheus-node-exporter",
        "prometheus-node-exporter",
    ),
    Binary(
        "postgres-exporter",
        ("postgres_exporter", "prometheus-postgres-exporter"),
        "prometheus-postgres-exporter",
        "prometheus-postgres-exporter",
    ),
    Binary(
        "redis-exporter",
        ("redis_exporter", "prometheus-redis-exporter"),
        "prometheus-redis-exporter",
        "prometheus-redis-exporter",
    ),
    Binary(
        "nginx-exporter",
        ("nginx-prometheus-exporter", "prometheus-nginx-exporter"),
        "prometheus-nginx-exporter",
        "prometheus-nginx-exporter",
    ),
    # Not in Debian 12: started only when on PATH (`nix develop` provides them).
    Binary("loki", ("loki",), None, "grafana-loki", optional=True),
    Binary("promtail", ("promtail",), None, "promtail", optional=True),
    Binary("grafana", ("grafana", "grafana-server"), None, "grafana", optional=True),
)

BY_KEY: Final = {b.key: b for b in BINARIES}


def missing(*, include_optional: bool = False) -> list[Binary]:
    """The binaries not found on this machine."""
    return [b for b in BINARIES if (include_optional or not b.optional) and b.find() is None]
