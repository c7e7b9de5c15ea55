"""Render every configuration file of the stack from `infra/` templates and the topology.

One Jinja2 environment over `infra/` with StrictUndefined, so a missing value fails the
render instead of writing an empty string into a config file.
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
from mockinfra.stack import dashboards, rules
from mockinfra.stack.programs import Options, Program, Skipped, programs
from mockinfra.stack.state import INFRA, REPO, State

RATE_LIMIT: Final = "2000r/s"
RATE_BURST: Final = 4000
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


def scrape_jobs(running: set[str]) -> list[Job]:
    """One job per service, from the topology; exporters carry the instance they watch."""
    grouped: dict[str, list[topology.Component]] = {}
    for comp in topology.COMPONENTS:
        if comp.scraped and comp.name in running:
            grouped.setdefault(comp.service, []).append(comp)
    jobs = []
    for service, comps in grouped.items():
        targets = tuple(
            Target(f"{topology.HOST}:{c.scrape_port}", topology.EXPORTS.get(c.name, c.name))
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


def render_nginx(state: State) -> str:
    def addr(name: str, port: str = "main") -> str:
        return f"{topology.HOST}:{topology.component(name).ports[port]}"

    return _ENV.get_template("nginx/nginx.conf.j2").render(
        worker_user="nobody nogroup" if os.geteuid() == 0 else None,
        run=state.run / "nginx",
        logs=state.logs,
        rate_limit=RATE_LIMIT,
        rate_burst=RATE_BURST,
        frontend=addr("frontend"),
        http=addr("nginx"),
        https=addr("nginx", "https"),
        grpc=addr("nginx", "grpc"),
        tls_cert=state.tls / "cert.pem",
        tls_key=state.tls / "key.pem",
        backends=[addr(name) for name in topology.BACKEND_INSTANCES],
    )


def render_prometheus(state: State, running: set[str]) -> str:
    return _ENV.get_template("prometheus/prometheus.yml.j2").render(
        rules_dir=state.config / "rules",
        alertmanager=f"{topology.HOST}:{topology.component('alertmanager').port}",
        jobs=scrape_jobs(running),
    )


def render_supervisord(state: State, progs: Sequence[Program]) -> str:
    return _ENV.get_template("supervisor/supervisord.conf.j2").render(
        state=state, repo=REPO, is_root=os.geteuid() == 0, programs=progs
    )


def _render_alerting(state: State, options: Options, running: set[str]) -> None:
    """Rules, Alertmanager, Loki, Promtail (`rules`) and Grafana (`dashboards`) configuration."""
    runbook_base = os.environ.get(RUNBOOK_BASE_ENV, (REPO / "docs" / "runbooks").as_uri())
    rules_dir = state.config / "rules"
    for old in rules_dir.glob("*.yml"):  # a profile switch must not leave the other's files
        old.unlink()
    rules.render_rules(options.rules.value, rules_dir, runbook_base=runbook_base)
    rules.render_alertmanager(
        state.config / "alertmanager.yml",
        webhook_url=f"{topology.url('alertsink')}/webhook",
        profile=options.rules.value,
    )
    if "loki" in running:
        rules.render_loki(state.config / "loki.yml", state_dir=state.root)
    if "promtail" in running:
        rules.render_promtail(state.config / "promtail.yml", state_dir=state.root)
    if "grafana" in running:
        state.secret("grafana-admin")
        dashboards.render_grafana(
            state.config,
            state_dir=state.root,
            admin_password_file=state.root / "secrets" / "grafana-admin",
        )
    if "grafana" in running:
        state.secret("grafana-admin")  # generated once, read by Grafana through $__file{}
        dashboards.render_grafana(
            state.config,
            state_dir=state.root,
            admin_password_file=state.root / "secrets" / "grafana-admin",
        )


def render_all(state: State, options: Options) -> tuple[list[Program], list[Skipped]]:
    """Write every configuration file into `<state>/config`; returns what will run."""
    progs, skipped = programs(state, options)
    running = {p.name for p in progs}
    (state.run / "nginx").mkdir(parents=True, exist_ok=True)
    _write(state.config / "nginx.conf", render_nginx(state))
    _write(state.config / "prometheus.yml", render_prometheus(state, running))
    _render_alerting(state, options, running)
    _write(state.supervisor_conf, render_supervisord(state, progs))
    return progs, skipped
