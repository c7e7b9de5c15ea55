"""What `status`, `health` and the end of `up` print: states, health, memory and URLs."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable
from dataclasses import dataclass

import psutil

from mockinfra.common import topology
from mockinfra.stack import readiness
from mockinfra.stack.state import State
from mockinfra.stack.supervisor import ProcessInfo


@dataclass(frozen=True, slots=True)
class Row:
    name: str
    state: str
    pid: int
    port: int
    healthy: bool
    detail: str
    memory: int  # bytes of PSS, the process and its children (nginx workers, postgres backends)


def process_tree(pid: int) -> list[psutil.Process]:
    """A process and its children (nginx workers, postgres backends); empty when it is gone."""
    if pid <= 0:
        return []
    try:
        proc = psutil.Process(pid)
        return [proc, *proc.children(recursive=True)]
    except psutil.Error:
        return []


def memory_of(pid: int) -> int:
    """Bytes of memory a process and its children use: their PSS (proportional set size).

    RSS counts every shared page once per process that maps it, so summing it over PostgreSQL's
    backends counts its shared buffers once per backend (hundreds of MiB too many after a few
    minutes of queries), and over the Python services their common libraries once each. PSS
    splits each shared page among the processes that map it: the sum over processes is the
    memory they really use together. Falls back to RSS where PSS cannot be read.
    """
    return pss_of(process_tree(pid))


def pss_of(processes: Iterable[psutil.Process]) -> int:
    """Bytes of PSS of these processes (RSS where PSS cannot be read; a gone one counts 0)."""
    total = 0
    for p in processes:
        try:
            total += p.memory_full_info().pss
        except (psutil.AccessDenied, AttributeError):
            with contextlib.suppress(psutil.Error):
                total += p.memory_info().rss
        except psutil.Error:
            continue
    return total


async def rows(names: Iterable[str], infos: dict[str, ProcessInfo]) -> list[Row]:
    names = list(names)
    checks = await asyncio.gather(*(readiness.check(n) for n in names))
    result = []
    for name, (ok, detail) in zip(names, checks, strict=True):
        info = infos.get(name)
        pid = info.pid if info else 0
        result.append(
            Row(
                name,
                info.state if info else "NOT RUNNING",
                pid,
                topology.component(name).port,
                ok,
                detail,
                memory_of(pid),
            )
        )
    return result


def _mib(n: int) -> str:
    return f"{n / (1024 * 1024):.1f} MiB"


def table(items: list[Row]) -> str:
    memory = "memory (PSS)"
    header = f"{'component':<18} {'state':<12} {'pid':>7} {'port':>6}  {'health':<28} {memory:>12}"
    lines = [header, "-" * len(header)]
    for r in items:
        health = ("ok" if r.healthy else "FAIL") + f" ({r.detail})"
        lines.append(
            f"{r.name:<18} {r.state:<12} {r.pid or '-':>7} {r.port:>6}  "
            f"{health[:28]:<28} {_mib(r.memory):>12}"
        )
    lines.append("-" * len(header))
    lines.append(
        f"{'total':<18} {'':<12} {'':>7} {'':>6}  {'':<28} {_mib(sum(r.memory for r in items)):>12}"
    )
    return "\n".join(lines)


def urls(state: State, running: set[str]) -> str:
    """The places to go, like the seed's `make status`."""
    nginx = topology.component("nginx")
    entries = [
        ("Frontend (nginx)", f"{topology.url('nginx')}/"),
        ("Frontend (TLS)", f"https://{topology.HOST}:{nginx.extra_ports['https']}/"),
        ("Backend API", f"{topology.url('nginx')}/api/backend/status"),
        ("Prometheus", f"{topology.url('prometheus')}/"),
        ("Alertmanager", f"{topology.url('alertmanager')}/"),
        ("Alert receiver", f"{topology.url('alertsink')}/alerts"),
        ("Loki", f"{topology.url('loki')}/"),
        ("Grafana", f"{topology.url('grafana')}/"),
    ]
    wanted = {"Loki": "loki", "Grafana": "grafana"}
    lines = [
        f"  {label:<18} {address}"
        for label, address in entries
        if wanted.get(label, "nginx") in running
    ]
    if "grafana" in running:
        lines.append(f"  {'Grafana password':<18} {state.root / 'secrets' / 'grafana-admin'}")
    lines.append(f"  {'Fault token':<18} {state.fault_token_file}")
    lines.append(f"  {'Logs':<18} {state.logs}/<component>.log")
    return "\n".join(lines)
