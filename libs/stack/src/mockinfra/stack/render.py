"""Render every configuration file of the stack from `infra/` templates and the topology.

One Jinja2 environment over `infra/` with StrictUndefined, so a missing value fails the
render instead of writing an empty string into a config file. Two modes share the templates
(`layout.Layout`): `render_all` for the local stack's state folder, `render_compose` for the
folder compose.yaml mounts at /config.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import jinja2

from mockinfra.common import topology
from mockinfra.common.logging import LOG_BACKUPS, LOG_MAX_BYTES
from mockinfra.stack import dashboards, proxy, rules, tls
from mockinfra.stack.layout import Layout
from mockinfra.stack.programs import (
    Options,
    Program,
    RulesProfile,
    Skipped,
    log_rotation,
    programs,
)
from mockinfra.stack.state import INFRA, REPO, State

RATE_LIMIT: Final = "2000r/s"
RATE_BURST: Final = 4000
# nginx's access-log buffer: one write per this many bytes of lines (and at least once a
# second) instead of one per request: about 5% of nginx's CPU per request under load.
ACCESS_LOG_BUFFER: Final = "64k"
RUNBOOK_BASE_ENV: Final = "MOCKINFRA_RUNBOOK_BASE"

_ENV: Final = jinja2.Environment(
    loader=jinja2.FileSystemLoader(INFRA),
    undefined=jinja2.StrictUndefined,
    keep_trailing_newline=True,
    autoescape=False,  # configuration files, not HTML
)


def _supervisor_escape(text: str) -> str:
    """supervisord expands `%(name)s` in values, so a literal % is written %%."""
    return text.replace("%", "%%")


def supervisor_command(argv: Sequence[str]) -> str:
    return _supervisor_escape(shlex.join(argv))


def supervisor_environment(env: Mapping[str, str]) -> str:
    """KEY="value",... as supervisord parses it: quotes are kept, not escaped, then stripped."""
    items = []
    for key, value in env.items():
        quote = '"' if '"' not in value else "'"
        if quote in value or value[-1:] in {"'", '"'}:
            raise ValueError(f"{key}: supervisord cannot carry this value: {value!r}")
        items.append(f"{key}={quote}{_supervisor_escape(value)}{quote}")
    return ",".join(items)


_ENV.filters["supervisor_command"] = supervisor_command
_ENV.filters["supervisor_environment"] = supervisor_environment


@dataclass(frozen=True, slots=True)
class Target:
    address: str
    instance: str


@dataclass(frozen=True, slots=True)
class Job:
    """One Prometheus scrape job: a service and its instances."""

    name: str
    service: str
    metrics_path: str
    honor_labels: bool
    targets: tuple[Target, ...]


def scrape_jobs(running: set[str], layout: Layout | None = None) -> list[Job]:
    """One job per service, from the topology; exporters carry the instance they watch."""
    grouped: dict[str, list[topology.Component]] = {}
    for comp in topology.COMPONENTS:
        if comp.scraped and comp.name in running:
            grouped.setdefault(comp.service, []).append(comp)
    jobs = []
    for service, comps in grouped.items():
        targets = tuple(
            Target(
                f"{layout.host(c.name) if layout else topology.HOST}:{c.scrape_port}",
                topology.EXPORTS.get(c.name, c.name),
            )
            for c in comps
        )
        jobs.append(
            Job(
                name=service,
                service=service,
                metrics_path=comps[0].metrics_path,
                # The Python services label their own series; exporters' series do not.
                honor_labels=all(c.role is topology.Role.APP for c in comps),
                targets=targets,
            )
        )
    return jobs


def _write(dest: Path, text: str) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_suffix(dest.suffix + ".tmp")
    tmp.write_text(text)
    tmp.replace(dest)


def _layout(where: State | Layout) -> Layout:
    return where if isinstance(where, Layout) else Layout.local(where)


def render_nginx(where: State | Layout) -> str:
    layout = _layout(where)
    return _ENV.get_template("nginx/nginx.conf.j2").render(
        mode=layout.mode,
        # Locally the master runs as root when we are root: workers drop to nobody. The nginx
        # image's binary is built with --user=nginx, so its workers drop by themselves.
        worker_user="nobody nogroup" if layout.mode == "local" and os.geteuid() == 0 else None,
        run=layout.run,
        logs=layout.logs,
        rate_limit=RATE_LIMIT,
        rate_burst=RATE_BURST,
        access_log_buffer=ACCESS_LOG_BUFFER,
        proxy=proxy,
        frontend=layout.addr("frontend"),
        http=layout.bind("nginx"),
        https=layout.bind("nginx", "https"),
        grpc=layout.bind("nginx", "grpc"),
        status_allow=layout.status_allow,
        tls_cert=layout.tls / "cert.pem",
        tls_key=layout.tls / "key.pem",
        backends=[layout.addr(name) for name in topology.BACKEND_INSTANCES],
    )


def render_prometheus(where: State | Layout, running: set[str]) -> str:
    layout = _layout(where)
    return _ENV.get_template("prometheus/prometheus.yml.j2").render(
        mode=layout.mode,
        rules_dir=layout.config / "rules",
        alertmanager=layout.addr("alertmanager"),
        jobs=scrape_jobs(running, layout),
    )


def render_supervisord(state: State, progs: Sequence[Program]) -> str:
    return _ENV.get_template("supervisor/supervisord.conf.j2").render(
        state=state,
        repo=REPO,
        is_root=os.geteuid() == 0,
        programs=progs,
        logrotate=log_rotation(state),
        log_max_bytes=LOG_MAX_BYTES,
        log_backups=LOG_BACKUPS,
    )


def _render_alerting(layout: Layout, rules_profile: RulesProfile, running: set[str]) -> None:
    """Rules, Alertmanager, Loki and Promtail (`rules`) configuration into `layout.config`."""
    runbook_base = os.environ.get(RUNBOOK_BASE_ENV, (REPO / "docs" / "runbooks").as_uri())
    rules_dir = layout.config / "rules"
    if rules_dir.is_dir():  # a profile switch must not leave the other's files
        for old in rules_dir.glob("*.yml"):
            old.unlink()
    rules.render_rules(rules_profile.value, rules_dir, runbook_base=runbook_base)
    rules.render_alertmanager(
        layout.config / "alertmanager.yml",
        webhook_url=f"{layout.url('alertsink')}/webhook",
        profile=rules_profile.value,
    )
    # compose.yaml names them .yaml, as the images' documentation does.
    ext = "yml" if layout.mode == "local" else "yaml"
    if "loki" in running:
        rules.render_loki(layout.config / f"loki.{ext}", layout=layout)
    if "promtail" in running:
        rules.render_promtail(layout.config / f"promtail.{ext}", layout=layout)


def render_all(state: State, options: Options) -> tuple[list[Program], list[Skipped]]:
    """Write every configuration file into `<state>/config`; returns what will run."""
    progs, skipped = programs(state, options)
    running = {p.name for p in progs}
    layout = Layout.local(state)
    layout.run.mkdir(parents=True, exist_ok=True)
    _write(state.config / "nginx.conf", render_nginx(layout))
    _write(state.config / "prometheus.yml", render_prometheus(layout, running))
    _render_alerting(layout, options.rules, running)
    if "grafana" in running:
        state.secret("grafana-admin")  # generated once, read by Grafana through $__file{}
        dashboards.render_grafana(
            state.config,
            state_dir=state.root,
            admin_password_file=state.root / "secrets" / "grafana-admin",
        )
    _write(state.supervisor_conf, render_supervisord(state, progs))
    return progs, skipped


async def render_compose(out: Path, rules_profile: RulesProfile) -> list[Path]:
    """Write compose.yaml's configuration flat into `out` (mounted at /config); returns the files.

    Needs no server binary, only openssl for nginx's certificate (kept when present). Every
    component runs in compose, so every one is configured.
    """
    layout = Layout.compose(out)
    running = set(topology.BY_NAME)
    _write(layout.config / "nginx.conf", render_nginx(layout))
    _write(layout.config / "prometheus.yml", render_prometheus(layout, running))
    _render_alerting(layout, rules_profile, running)
    dashboards.render_provisioning(layout)
    layout.tls.mkdir(parents=True, exist_ok=True)
    await tls.ensure_certificate(State(layout.config))  # State(out).tls is out/tls
    return sorted(p for p in layout.config.rglob("*") if p.is_file())
