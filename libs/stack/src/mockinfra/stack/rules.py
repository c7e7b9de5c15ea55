"""Renders the observability configuration in `infra/` for one rules profile.

Prometheus rules, their promtool unit tests, Alertmanager, Loki and Promtail are Jinja2 templates
with one source for both profiles: `realistic` keeps the seed's `for:` durations and 5-minute rate
windows, `fast` shortens them so tests and demos see alerts within about a minute. The stack
runner calls these functions; tests render into a temporary folder and run promtool/amtool.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Final, Literal

import jinja2

from mockinfra.common import topology
from mockinfra.stack.layout import Layout
from mockinfra.stack.state import State

RulesProfileName = Literal["realistic", "fast"]

# libs/stack/src/mockinfra/stack/rules.py -> the repository root (the workspace is installed
# editable, so the templates are read in place).
REPO_ROOT: Final = Path(__file__).resolve().parents[5]
INFRA_DIR: Final = REPO_ROOT / "infra"
RULES_DIR: Final = INFRA_DIR / "prometheus" / "rules"
RUNBOOKS_DIR: Final = REPO_ROOT / "docs" / "runbooks"

MIB: Final = 1024 * 1024
# The seed's memory limits (DESIGN.md) for services whose own process memory Prometheus sees.
# PostgreSQL (1 GB) and nginx (128 MB) export no per-process memory; Valkey's 256 MB is its
# maxmemory, watched by ValkeyMemoryNearLimit.
MEMORY_LIMITS: Final = MappingProxyType({"frontend": 256 * MIB, "backend": 256 * MIB})
# Histogram quantiles recorded per service and instance (p50, p95, p99).
QUANTILES: Final = ("50", "95", "99")
# gRPC traffic that is not the application's own: health checks, reflection, fault control.
GRPC_APP_SELECTOR: Final = r'grpc_service!~"grpc\\..*|mockinfra\\.v1\\.FaultService"'
# Server-side failure codes as mockinfra.common labels them (`grpc.StatusCode.name`, e.g.
# UNAVAILABLE); client mistakes (NOT_FOUND, INVALID_ARGUMENT) are not counted.
GRPC_ERROR_CODES: Final = (
    "UNKNOWN|DEADLINE_EXCEEDED|INTERNAL|UNAVAILABLE|DATA_LOSS|RESOURCE_EXHAUSTED"
)


@dataclass(frozen=True, slots=True)
class RulesProfile:
    """The timings a rules profile gives the same rules."""

    name: RulesProfileName
    window: str  # rate window of the alert expressions (1m and 5m are both recorded)
    interval: str | None  # rule group evaluation interval; None keeps Prometheus' global one
    durations: Mapping[str, str]  # the seed's `for:` durations -> this profile's
    test_interval: str  # promtool's evaluation_interval for the unit tests
    # Alertmanager timings
    group_wait: str
    group_interval: str
    repeat_interval: str

    def dur(self, seed_duration: str) -> str:
        """This profile's `for:` for one of the seed's durations; unknown ones are an error."""
        try:
            return self.durations[seed_duration]
        except KeyError:
            raise KeyError(
                f"no {self.name} duration for {seed_duration!r}; known: {', '.join(self.durations)}"
            ) from None


PROFILES: Final[Mapping[RulesProfileName, RulesProfile]] = MappingProxyType(
    {
        "realistic": RulesProfile(
            name="realistic",
            window="5m",
            interval=None,
            durations=MappingProxyType({d: d for d in ("1m", "2m", "5m")}),
            test_interval="15s",
            group_wait="30s",
            group_interval="5m",
            repeat_interval="4h",
        ),
        # Scrapes stay at 15 s, so a 1m window holds 4 samples; evaluating every 10 s and
        # `for:` of 15-30 s let an alert fire within about a minute of the fault.
        "fast": RulesProfile(
            name="fast",
            window="1m",
            interval="10s",
            durations=MappingProxyType({"1m": "15s", "2m": "30s", "5m": "30s"}),
            test_interval="10s",
            group_wait="5s",
            group_interval="10s",
            repeat_interval="1h",
        ),
    }
)


def _environment() -> jinja2.Environment:
    # Plain-text YAML output: nothing to escape; a missing variable must fail the render.
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(INFRA_DIR),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
    )


_ENV: Final = _environment()


def _write(template: str, dest: Path, context: Mapping[str, object]) -> Path:
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(_ENV.get_template(template).render(**context), encoding="utf-8")
    return dest


def _rules_context(profile: RulesProfileName, runbook_base: str) -> dict[str, object]:
    prof = PROFILES[profile]
    app_services = sorted({c.service for c in topology.COMPONENTS if c.role is topology.Role.APP})
    return {
        "profile": prof.name,
        "window": prof.window,
        "interval": prof.interval,
        "test_interval": prof.test_interval,
        "dur": prof.dur,
        "runbook_base": runbook_base.rstrip("/"),
        "memory_limits": MEMORY_LIMITS,
        "app_services": "|".join(app_services),
        "quantiles": QUANTILES,
        "grpc_app": GRPC_APP_SELECTOR,
        "grpc_error_codes": GRPC_ERROR_CODES,
    }


def rule_templates() -> list[str]:
    """The rule file templates, relative to `infra/`, in evaluation order."""
    return sorted(str(p.relative_to(INFRA_DIR)) for p in RULES_DIR.glob("*.rules.yml.j2"))


def render_rules(profile: RulesProfileName, dest: Path, *, runbook_base: str) -> list[Path]:
    """Render every rule file of `profile` into `dest`; returns the files for `rule_files:`."""
    context = _rules_context(profile, runbook_base)
    return [
        _write(name, dest / Path(name).name.removesuffix(".j2"), context)
        for name in rule_templates()
    ]


def render_rule_tests(profile: RulesProfileName, dest: Path, *, runbook_base: str) -> list[Path]:
    """Render the rules and their promtool unit tests into `dest`; returns the test files.

    Run `promtool test rules <files>` in `dest`: each test file names the rendered rule files.
    """
    rendered = render_rules(profile, dest, runbook_base=runbook_base)
    context = {**_rules_context(profile, runbook_base), "rule_files": [p.name for p in rendered]}
    return [
        _write(str(p.relative_to(INFRA_DIR)), dest / p.name.removesuffix(".j2"), context)
        for p in sorted(RULES_DIR.glob("*.tests.yml.j2"))
    ]


def render_alertmanager(dest: Path, *, webhook_url: str, profile: RulesProfileName) -> Path:
    """Render `alertmanager.yml` (routes, inhibition, the webhook receiver) to `dest`."""
    prof = PROFILES[profile]
    return _write(
        "alertmanager/alertmanager.yml.j2",
        dest,
        {
            "webhook_url": webhook_url,
            "profile": prof.name,
            "group_wait": prof.group_wait,
            "group_interval": prof.group_interval,
            "repeat_interval": prof.repeat_interval,
        },
    )


LogFormat = Literal["json", "postgres", "nginx-error", "valkey", "logfmt"]
# Components whose main log is plain text, by the format Promtail reads their level from.
# (nginx's access log is JSON, see infra/nginx; its error log is an extra source below.)
_TEXT_FORMATS: Final[Mapping[str, LogFormat]] = MappingProxyType(
    {"postgres": "postgres", "valkey": "valkey"}
)


@dataclass(frozen=True, slots=True)
class LogSource:
    """One log file the stack writes, and the component whose labels its lines carry."""

    file: str  # <state_dir>/logs/<file>.log
    component: topology.Component
    format: LogFormat


def log_format(component: topology.Component) -> LogFormat:
    """How a component's log lines carry their level: JSON for the services built on
    mockinfra.common and nginx's access log, the native text format for PostgreSQL and Valkey,
    logfmt for the Go programs (Prometheus, Alertmanager, exporters, Loki, Promtail, Grafana)."""
    if component.role is topology.Role.APP or component.name == "nginx":
        return "json"
    return _TEXT_FORMATS.get(component.name, "logfmt")


def log_sources() -> list[LogSource]:
    """Every log file Promtail ships: one per component (supervisord writes each component's
    output to `<state_dir>/logs/<name>.log`), plus nginx's error log."""
    sources = [LogSource(c.name, c, log_format(c)) for c in topology.COMPONENTS]
    sources.append(LogSource("nginx-error", topology.component("nginx"), "nginx-error"))
    return sources


def _layout(state_dir: Path | None, layout: Layout | None) -> Layout:
    if layout is not None:
        return layout
    if state_dir is None:
        raise TypeError("give state_dir (local stack) or layout")
    return Layout.local(State(state_dir))


def render_loki(dest: Path, *, state_dir: Path | None = None, layout: Layout | None = None) -> Path:
    """Render Loki's config: filesystem storage under `state_dir`, 7 days of retention."""
    where = _layout(state_dir, layout)
    loki = topology.component("loki")
    return _write(
        "loki/loki.yml.j2",
        dest,
        {
            "mode": where.mode,
            "data_dir": where.loki_data,
            "host": where.listen,
            # The ring address Loki advertises to itself: one process, so loopback is right.
            "instance_addr": topology.HOST,
            "http_port": loki.port,
            "grpc_port": loki.ports["grpc"],
        },
    )


def render_promtail(
    dest: Path, *, state_dir: Path | None = None, layout: Layout | None = None
) -> Path:
    """Render Promtail's config: one job per component log file, labelled from topology."""
    where = _layout(state_dir, layout)
    return _write(
        "promtail/promtail.yml.j2",
        dest,
        {
            "mode": where.mode,
            "logs_dir": where.logs,
            "positions_file": where.promtail_data / "positions.yaml",
            "host": where.listen,
            "http_port": topology.component("promtail").port,
            "loki_url": f"{where.url('loki')}/loki/api/v1/push",
            "sources": log_sources(),
        },
    )
