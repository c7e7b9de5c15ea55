"""up, down, restart, clean: the stack's life cycle, driven through supervisord.

`up` checks everything it can before starting anything (binaries, ports), prepares the state
folder (PostgreSQL cluster, TLS certificate, fault token), renders the configuration, starts
supervisord and then the programs stage by stage, each stage gated by real readiness checks.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import shutil
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Final

from mockinfra.common import topology
from mockinfra.common.logging import LOG_MAX_BYTES
from mockinfra.stack import binaries, deps, ports, readiness, report, servers, tls
from mockinfra.stack.programs import Options, Program, database_urls, programs
from mockinfra.stack.render import render_all
from mockinfra.stack.state import INFRA, State
from mockinfra.stack.supervisor import Supervisor

# Seconds each component may take to become ready after supervisord starts it. The Python
# services import gRPC, OpenTelemetry and SQLAlchemy: about 10 s each when five start at once
# on 2 cores, more on a busy machine. A process that dies is reported at once, not at the end.
READY_WITHIN: Final = {
    "postgres": 60.0,
    "prometheus": 30.0,
    **{c.name: 60.0 for c in topology.COMPONENTS if c.role is topology.Role.APP},
}
DEFAULT_READY_WITHIN: Final = 20.0
PORTS_FREE_WITHIN: Final = 30.0


class StackError(RuntimeError):
    """A failure to report to the user in one message (no traceback)."""


def _log_tail(state: State, name: str, lines: int = 20) -> str:
    path = state.log_file(name)
    if not path.exists():
        return "(no log yet)"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


async def _prepare_postgres(state: State) -> None:
    """First `up`: create the cluster (as the `postgres` user when we are root)."""
    datadir = state.data_dir("postgres")
    if (datadir / "PG_VERSION").exists():
        return
    print("initialising the PostgreSQL cluster (first run)")
    await asyncio.to_thread(
        servers.init_postgres_cluster,
        datadir,
        topology.component("postgres").port,
        admin_password=state.secret("postgres-admin"),
        run_as=servers.default_postgres_user(),
    )


def _bootstrap_database(state: State) -> None:
    """Database, schema, app role and monitoring role; idempotent, so it runs on every `up`."""
    port = topology.component("postgres").port
    admin, _, _ = database_urls(state)
    maintenance = servers.dsn(
        port, user=servers.ADMIN_ROLE, password=state.secret("postgres-admin"), database="postgres"
    )
    servers.create_database(maintenance)
    servers.apply_schema(admin, app_password=state.secret("postgres-app"))
    servers.psql(admin, file=INFRA / "exporters" / "postgres-monitor.sql")
    password = state.secret("postgres-monitor").replace("'", "''")
    servers.psql(admin, sql=f"ALTER ROLE mockinfra_monitor WITH PASSWORD '{password}'")


async def _start_stage(sup: Supervisor, state: State, stage: Sequence[Program]) -> None:
    for prog in stage:
        await sup.start(prog.name)

    started = time.monotonic()

    async def ready(prog: Program) -> tuple[str, bool, str]:
        async def alive() -> str | None:
            info = await sup.info(prog.name)
            if info.state in {"FATAL", "EXITED", "STOPPED"}:
                return f"{info.state}: {info.description}"
            return None

        within = READY_WITHIN.get(prog.name, DEFAULT_READY_WITHIN)
        ok, detail = await readiness.wait_ready(prog.name, within=within, alive=alive)
        if ok:
            detail = f"{detail}, {time.monotonic() - started:.1f} s"
        return prog.name, ok, detail

    results = await asyncio.gather(*(ready(p) for p in stage))
    failed = [(name, detail) for name, ok, detail in results if not ok]
    for name, ok, detail in results:
        if ok:
            print(f"  {name:<18} ready ({detail})")
    if failed:
        text = "\n".join(
            f"{name} did not become ready: {detail}\n--- last lines of {state.log_file(name)}:\n"
            f"{_log_tail(state, name)}"
            for name, detail in failed
        )
        raise StackError(text)


def _stages(progs: Sequence[Program]) -> list[list[Program]]:
    by_stage: dict[int, list[Program]] = {}
    for prog in progs:
        by_stage.setdefault(prog.stage, []).append(prog)
    return [by_stage[k] for k in sorted(by_stage)]


async def _ensure_binaries() -> None:
    if not binaries.missing():
        return
    plan = deps.plan()
    if plan.command is None:
        raise StackError(f"missing system binaries. {plan.advice}")
    if await asyncio.to_thread(deps.install) != 0:
        raise StackError("installing the missing system binaries failed (see above)")


async def up(options: Options) -> int:
    started_at = time.monotonic()
    state = State.from_env()
    sup = Supervisor(state)
    if await sup.running():
        return await _up_again(sup, state, options)
    await _ensure_binaries()
    progs, skipped = programs(state, options)
    taken = ports.conflicts(ports.stack_ports(p.name for p in progs))
    if taken:
        raise StackError(
            "cannot start: " + "; ".join(str(c) for c in taken) + ". Stop it, or `down` the "
            "stack that holds it."
        )
    for skip in skipped:
        print(f"skipping {skip.name}: {skip.reason}")
    state.ensure()
    for path in state.rotate_large_logs():
        print(f"rotated {path.name} (over {LOG_MAX_BYTES // 2**20} MiB)")
    pg_user = servers.default_postgres_user()
    if pg_user is not None and (blocked := state.blocked_for(pg_user)) is not None:
        raise StackError(
            f"PostgreSQL runs as {pg_user!r}, who cannot enter {blocked}: put the state folder "
            f"(MOCKINFRA_STATE_DIR) under folders others may traverse (chmod o+x {blocked})"
        )
    state.fault_token()
    _, _, created = await tls.ensure_certificate(state)
    if created:
        print(f"generated the TLS certificate in {state.tls}")
    await _prepare_postgres(state)
    progs, _ = render_all(state, options)
    _options_file(state).write_text(json.dumps(_chosen(options)) + "\n")
    print(f"starting the stack (profile {options.profile}, rules {options.rules}) in {state.root}")
    await sup.start_daemon()
    try:
        for stage in _stages(progs):
            await _start_stage(sup, state, stage)
            if any(p.name == "postgres" for p in stage):
                await asyncio.to_thread(_bootstrap_database, state)
    except BaseException:
        print("up failed: stopping what was started")
        await sup.shutdown()
        raise
    elapsed = time.monotonic() - started_at
    print(f"\nthe stack is up ({len(progs)} components, {elapsed:.1f} s):")
    print(report.urls(state, {p.name for p in progs}))
    return 0


def _chosen(options: Options) -> dict[str, str]:
    return {k: str(v) for k, v in dataclasses.asdict(options).items()}


def _options_file(state: State) -> Path:
    return state.config / "options.json"


async def _up_again(sup: Supervisor, state: State, options: Options) -> int:
    """`up` while up: start only what is not running; otherwise change nothing."""
    try:
        running_with = json.loads(_options_file(state).read_text())
    except (OSError, ValueError):
        running_with = None
    if running_with is not None and running_with != _chosen(options):
        print(
            f"note: the stack runs with {running_with}, not {_chosen(options)}; "
            "`down` then `up` to change it"
        )
    infos = await sup.processes()
    stopped = [name for name, info in infos.items() if info.state != "RUNNING"]
    if not stopped:
        print(f"the stack is already up in {state.root}: nothing changed")
        print(report.urls(state, set(infos)))
        return 0
    print(f"the stack is up; starting what is not running: {', '.join(stopped)}")
    order = {c.name: i for i, c in enumerate(topology.COMPONENTS)}
    for name in sorted(stopped, key=order.__getitem__):
        await sup.start(name)
        ok, detail = await readiness.wait_ready(
            name, within=READY_WITHIN.get(name, DEFAULT_READY_WITHIN)
        )
        if not ok:
            raise StackError(f"{name} did not become ready: {detail}\n{_log_tail(state, name)}")
        print(f"  {name:<18} ready ({detail})")
    return 0


async def down() -> int:
    state = State.from_env()
    sup = Supervisor(state)
    if sup.pid() is None:
        print("the stack is not running")
    else:
        names = list((await sup.processes()).keys()) if await sup.running() else []
        print(f"stopping {len(names)} components and supervisord")
        await sup.shutdown()
    every = ports.stack_ports(c.name for c in topology.COMPONENTS)
    deadline = time.monotonic() + PORTS_FREE_WITHIN
    while busy := ports.busy(every):
        if time.monotonic() > deadline:
            raise StackError(
                "stopped, but ports are still in use: "
                + ", ".join(f"{n}:{p} by {ports.describe(ports.holders().get(p))}" for n, p in busy)
            )
        await asyncio.sleep(0.1)
    print("the stack is down: every port is free")
    return 0


async def restart(name: str) -> int:
    topology.component(name)  # a clear error for a typo
    state = State.from_env()
    sup = Supervisor(state)
    if not await sup.running():
        raise StackError("the stack is not running (`nox -s up`)")
    await sup.stop(name)
    await sup.start(name)
    ok, detail = await readiness.wait_ready(
        name, within=READY_WITHIN.get(name, DEFAULT_READY_WITHIN)
    )
    if not ok:
        raise StackError(f"{name} did not become ready: {detail}\n{_log_tail(state, name)}")
    info = await sup.info(name)
    print(f"{name} restarted (pid {info.pid}, {detail})")
    return 0


async def clean() -> int:
    state = State.from_env()
    if Supervisor(state).pid() is not None:
        raise StackError("the stack is running: `nox -s down` first")
    if not state.root.exists():
        print(f"nothing to clean: {state.root} does not exist")
        return 0
    await asyncio.to_thread(shutil.rmtree, state.root)
    print(f"removed {state.root}")
    return 0


async def status(*, health_only: bool = False) -> int:
    """`status`: this state folder's programs; `health`: every endpoint, whoever serves it."""
    state = State.from_env()
    sup = Supervisor(state)
    infos = await sup.processes() if await sup.running() else {}
    if not infos and not health_only:
        print(f"the stack is not running ({state.root})")
        return 1
    names = [
        c.name
        for c in topology.COMPONENTS
        if c.name in infos
        or (not infos and (not c.optional or binaries.BY_KEY[c.name].find() is not None))
    ]
    rows = await report.rows(names, infos)
    if health_only:
        for r in rows:
            print(f"{'ok  ' if r.healthy else 'FAIL'} {r.name:<18} {r.detail}")
    else:
        print(report.table(rows))
    return 0 if all(r.healthy for r in rows) else 1
