"""What runs for each topology component: its argv, environment, OS user and start stage.

Everything here is derived from `topology` (names, ports) and `binaries` (where each program
is); the supervisord configuration is rendered from the list this module returns.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Final

from mockinfra.common import topology
from mockinfra.common.profiles import ProfileName
from mockinfra.stack import binaries, logrotate, servers
from mockinfra.stack.state import State

ALERTSINK_FORWARD_ENV: Final = "MOCKINFRA_ALERTSINK_FORWARD_URL"
MONITOR_ROLE: Final = "mockinfra_monitor"


class RulesProfile(StrEnum):
    REALISTIC = "realistic"
    FAST = "fast"


@dataclass(frozen=True, slots=True)
class Options:
    """The choices `up` takes: the fault profile of the services and the alert rules profile."""

    profile: ProfileName = ProfileName.SEED
    rules: RulesProfile = RulesProfile.REALISTIC


@dataclass(frozen=True, slots=True)
class Program:
    """One supervisord [program:x] section."""

    name: str
    command: tuple[str, ...]
    stage: int  # started after every program of a lower stage is ready
    environment: dict[str, str] = field(default_factory=dict)
    user: str | None = None
    stopsignal: str = "TERM"
    stopwaitsecs: int = 15

    @property
    def priority(self) -> int:
        """supervisord stops programs in reverse priority: data last."""
        return 100 + 100 * self.stage


@dataclass(frozen=True, slots=True)
class Skipped:
    """An optional component that will not run, and why."""

    name: str
    reason: str


def stage_of(comp: topology.Component) -> int:
    """Start order: data, then everything that uses it, then what watches them.

    The services connect to their dependencies lazily and retry, so every server of stage 1
    starts at once (2 cores start five Python processes faster together than in a queue);
    Prometheus comes last so its first scrape finds every target ready.
    """
    if comp.role is topology.Role.DATA:
        return 0
    if comp.role is topology.Role.OBSERVABILITY:
        return 2
    return 1


def database_urls(state: State) -> tuple[str, str, str]:
    """(admin, app, monitor) DSNs of the stack's PostgreSQL; passwords live in the state folder."""
    port = topology.component("postgres").port
    admin = servers.dsn(port, user=servers.ADMIN_ROLE, password=state.secret("postgres-admin"))
    app = servers.dsn(port, user=servers.APP_ROLE, password=state.secret("postgres-app"))
    monitor = servers.dsn(port, user=MONITOR_ROLE, password=state.secret("postgres-monitor"))
    return admin, app, monitor


def cache_url() -> str:
    return f"redis://{topology.HOST}:{topology.component('valkey').port}/0"


def grpc_balancer() -> str:
    """host:port of nginx's gRPC load balancer, where the frontend sends backend calls."""
    return f"{topology.HOST}:{topology.component('nginx').extra_ports['grpc']}"


def _service_env(state: State, options: Options, comp: topology.Component) -> dict[str, str]:
    """MOCKINFRA_* settings of one Python mock service (see mockinfra.common.settings)."""
    _, app_dsn, _ = database_urls(state)
    env = {
        "MOCKINFRA_SERVICE": comp.service,
        "MOCKINFRA_INSTANCE": comp.name,
        "MOCKINFRA_HOST": topology.HOST,
        "MOCKINFRA_PORT": str(comp.port),
        "MOCKINFRA_PROFILE": options.profile.value,
        "MOCKINFRA_FAULT_TOKEN": state.fault_token(),
        "MOCKINFRA_DATABASE_URL": app_dsn,
        "MOCKINFRA_CACHE_URL": cache_url(),
        "MOCKINFRA_BACKEND_TARGET": grpc_balancer(),
        "MOCKINFRA_STATE_DIR": str(state.root),
        "MOCKINFRA_LOG_LEVEL": os.environ.get("MOCKINFRA_LOG_LEVEL", "INFO"),
        "PYTHONUNBUFFERED": "1",
    }
    if comp.metrics_port is not None:
        env["MOCKINFRA_METRICS_PORT"] = str(comp.metrics_port)
    if comp.name == "alertsink" and (forward := os.environ.get(ALERTSINK_FORWARD_ENV)):
        env[ALERTSINK_FORWARD_ENV] = forward
    return env


@dataclass(frozen=True, slots=True)
class Listener:
    """One supervisord [eventlistener:x] section: a helper of the stack, not a component."""

    name: str
    command: tuple[str, ...]
    events: str
    environment: dict[str, str]


def log_rotation(state: State) -> Listener:
    """The listener that rotates the logs nginx writes itself (`mockinfra.stack.logrotate`)."""
    return Listener(
        logrotate.NAME,
        (sys.executable, "-m", logrotate.__name__),
        logrotate.EVENTS,
        {"MOCKINFRA_STATE_DIR": str(state.root), "PYTHONUNBUFFERED": "1"},
    )


def _addr(comp: topology.Component, port: int | None = None) -> str:
    return f"{topology.HOST}:{port if port is not None else comp.port}"


def _need(key: str) -> str:
    return binaries.BY_KEY[key].require()


def _command(state: State, comp: topology.Component) -> tuple[str, ...] | None:
    """argv of a component, or None for the optional ones whose binary is missing."""
    name = comp.name
    cfg = state.config
    if name == "postgres":
        return tuple(servers.postgres_command(state.data_dir("postgres"), comp.port))
    if name == "valkey":
        return tuple(servers.valkey_command(comp.port, state.data_dir("valkey")))
    if comp.role is topology.Role.APP:
        module = f"mockinfra.{comp.service}"
        extra = ("--instance", name) if comp.service == "backend" else ()
        return (sys.executable, "-m", module, *extra)
    if name == "nginx":
        # -e: the error log before the configuration is read (else /var/log/nginx/error.log).
        return (
            _need("nginx"),
            "-p", str(state.run / "nginx"),
            "-e", str(state.log_file("nginx-error")),
            "-c", str(cfg / "nginx.conf"),
        )  # fmt: skip
    if name == "prometheus":
        return (
            _need("prometheus"),
            f"--config.file={cfg / 'prometheus.yml'}",
            f"--web.listen-address={_addr(comp)}",
            f"--storage.tsdb.path={state.data_dir('prometheus')}",
            "--storage.tsdb.retention.time=200h",
        )
    if name == "alertmanager":
        return (
            _need("alertmanager"),
            f"--config.file={cfg / 'alertmanager.yml'}",
            f"--web.listen-address={_addr(comp)}",
            f"--storage.path={state.data_dir('alertmanager')}",
            "--cluster.listen-address=",  # empty: a single instance, no gossip port
        )
    if name == "node-exporter":
        return (
            _need("node-exporter"),
            f"--web.listen-address={_addr(comp)}",
            # No systemd here (and none in containers); its collector only logs errors.
            "--no-collector.systemd",
        )
    if name == "postgres-exporter":
        return (_need("postgres-exporter"), f"--web.listen-address={_addr(comp)}")
    if name == "redis-exporter":
        # Go's flag package (Debian's build) and kingpin (newer builds) both take `--x=y`.
        return (_need("redis-exporter"), f"--web.listen-address={_addr(comp)}")
    if name == "nginx-exporter":
        status = f"{topology.url('nginx')}/nginx_status"
        return (
            _need("nginx-exporter"),
            f"--web.listen-address={_addr(comp)}",
            f"--nginx.scrape-uri={status}",
        )
    binary = binaries.BY_KEY.get(name)
    found = binary.find() if binary is not None else None
    if found is None:
        return None
    if name == "loki":
        return (found, f"-config.file={cfg / 'loki.yml'}")
    if name == "promtail":
        return (found, f"-config.file={cfg / 'promtail.yml'}")
    if name == "grafana":
        # Grafana finds its static files relative to --homepath (nixpkgs: <out>/share/grafana).
        home = Path(found).resolve().parent.parent / "share" / "grafana"
        homepath = (f"--homepath={home}",) if home.is_dir() else ()
        return (found, "server", f"--config={cfg / 'grafana.ini'}", *homepath)
    return None


def _environment(state: State, options: Options, comp: topology.Component) -> dict[str, str]:
    if comp.role is topology.Role.APP:
        return _service_env(state, options, comp)
    if comp.name == "postgres-exporter":
        _, _, monitor = database_urls(state)
        # lib/pq (the exporter's driver) defaults to sslmode=require; this server has no TLS.
        return {"DATA_SOURCE_NAME": f"{monitor}?sslmode=disable"}
    if comp.name == "redis-exporter":
        return {"REDIS_ADDR": f"redis://{topology.HOST}:{topology.component('valkey').port}"}
    return {}


def programs(state: State, options: Options) -> tuple[list[Program], list[Skipped]]:
    """Every program to supervise, and the optional components skipped with the reason."""
    result: list[Program] = []
    skipped: list[Skipped] = []
    for comp in topology.COMPONENTS:
        command = _command(state, comp)
        if command is None:
            skipped.append(
                Skipped(
                    comp.name,
                    f"{comp.name} is not on PATH (run inside `nix develop` to get it)",
                )
            )
            continue
        result.append(
            Program(
                name=comp.name,
                command=command,
                stage=stage_of(comp),
                environment=_environment(state, options, comp),
                user=servers.default_postgres_user() if comp.name == "postgres" else None,
                # PostgreSQL: SIGINT is "fast shutdown"; SIGTERM would wait for every client.
                stopsignal="INT" if comp.name == "postgres" else "TERM",
                stopwaitsecs=30 if comp.role is topology.Role.DATA else 15,
            )
        )
    return result, skipped
