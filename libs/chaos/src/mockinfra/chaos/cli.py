"""Command lines: `mockinfra faults set|clear|list` and `python -m mockinfra.chaos` (runner).

`mockinfra faults set backend-2 error_rate=0.6 --ttl 300` is the issue's short form: `kind=value`
sets the kind's main parameter; `mockinfra faults set backend-2 latency mean_ms=800 p95_ms=3000`
gives parameters by name.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

import httpx

from mockinfra.chaos import actions, scenario
from mockinfra.chaos.alerts import AlertmanagerClient, GrafanaAnnotator
from mockinfra.chaos.components import SupervisorComponents
from mockinfra.chaos.control import (
    DEFAULT_TTL_SECONDS,
    FAULT_INSTANCES,
    FaultControl,
    FaultControlError,
    RemoteFaultControl,
)
from mockinfra.chaos.runner import HEALTH_COMPONENTS, Runner, RunOptions, run_many
from mockinfra.common.faults import FaultKind
from mockinfra.stack import readiness
from mockinfra.stack.state import State

# The parameter `kind=value` sets, for the kinds that have one obvious parameter.
MAIN_PARAM: Final = {
    FaultKind.ERROR_RATE: "rate",
    FaultKind.LATENCY: "mean_ms",
    FaultKind.TIMEOUT: "seconds",
    FaultKind.CPU_BURN: "cores",
    FaultKind.MEMORY_SPIKE: "mb",
    FaultKind.MEMORY_LEAK: "mb_per_minute",
    FaultKind.CRASH: "delay_seconds",
}


def _positive(value: str) -> float:
    number = float(value)
    if not number > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {value}")
    return number


def parse_fault(words: Sequence[str]) -> tuple[str, dict[str, str]]:
    """`error_rate=0.6` or `error_rate rate=0.6` or `latency mean_ms=800 p95_ms=3000`."""
    if not words:
        raise ValueError("a fault kind is needed")
    head, *rest = words
    kind_text, eq, value = head.partition("=")
    try:
        kind = FaultKind(kind_text)
    except ValueError:
        raise ValueError(
            f"unknown fault kind {kind_text!r}; known: {', '.join(FaultKind)}"
        ) from None
    params: dict[str, str] = {}
    if eq:
        if kind not in MAIN_PARAM:
            raise ValueError(f"{kind} has no main parameter; give name=value pairs")
        params[MAIN_PARAM[kind]] = value
    for word in rest:
        name, eq, value = word.partition("=")
        if not eq or not name:
            raise ValueError(f"expected name=value, got {word!r}")
        params[name] = value
    return kind.value, params


# ---------------------------------------------------------------- mockinfra faults


async def _faults(args: argparse.Namespace, control: FaultControl) -> int:
    if args.command == "set":
        kind, params = parse_fault(args.fault)
        fault = await control.set(args.instance, kind, params, args.ttl)
        print(json.dumps(fault.as_dict()) if args.json else _describe(fault.as_dict()))
        return 0
    targets = list(FAULT_INSTANCES) if args.all or not args.instance else [args.instance]
    failures = 0
    if args.command == "clear":
        if not (args.all or args.instance):
            raise FaultControlError("name an instance or pass --all")
        for name in targets:
            try:
                cleared = await control.clear(name, args.kind)
                print(f"{name}: cleared {cleared}")
            except FaultControlError as err:
                failures += 1
                print(f"{name}: {err}", file=sys.stderr)
        return 1 if failures else 0
    listing: dict[str, Any] = {}
    for name in targets:
        try:
            listing[name] = [f.as_dict() for f in await control.list(name)]
        except FaultControlError as err:
            failures += 1
            listing[name] = {"error": str(err)}
    if args.json:
        print(json.dumps(listing, indent=2))
    else:
        for name, faults in listing.items():
            if isinstance(faults, dict):
                print(f"{name}: {faults['error']}")
            elif not faults:
                print(f"{name}: no faults")
            for fault in faults if isinstance(faults, list) else []:
                print(_describe(fault))
    return 1 if failures else 0


def _describe(fault: dict[str, Any]) -> str:
    params = " ".join(f"{k}={v}" for k, v in fault["params"].items())
    return f"{fault['instance']}: {fault['kind']} {params} (expires {fault['expires_at']})"


def _faults_parser(sub: Any) -> None:
    faults = sub.add_parser("faults", help="set, clear or list run-time faults")
    fsub = faults.add_subparsers(dest="command", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--token", help="fault token (default: env or the state folder)")
    common.add_argument("--json", action="store_true", help="JSON output")
    p_set = fsub.add_parser("set", parents=[common], help="set a fault with a TTL")
    p_set.add_argument("instance", choices=FAULT_INSTANCES)
    p_set.add_argument("fault", nargs="+", help="kind=value, or kind name=value ...")
    p_set.add_argument("--ttl", type=_positive, default=DEFAULT_TTL_SECONDS, help="seconds")
    p_clear = fsub.add_parser("clear", parents=[common], help="clear faults")
    p_clear.add_argument("instance", nargs="?", choices=FAULT_INSTANCES)
    p_clear.add_argument("--all", action="store_true", help="every instance")
    p_clear.add_argument("--kind", choices=[k.value for k in FaultKind])
    p_list = fsub.add_parser("list", parents=[common], help="list active faults")
    p_list.add_argument("instance", nargs="?", choices=FAULT_INSTANCES)
    p_list.set_defaults(all=False)


def main(argv: Sequence[str] | None = None) -> int:
    """`mockinfra faults ...` and `mockinfra chaos ...` (same as `python -m mockinfra.chaos`)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["chaos"]:
        return chaos_main(argv[1:])
    parser = argparse.ArgumentParser(prog="mockinfra", description=__doc__)
    sub = parser.add_subparsers(dest="tool", required=True)
    _faults_parser(sub)
    sub.add_parser("chaos", help="run chaos scenarios (see `mockinfra chaos --help`)")
    args = parser.parse_args(argv)

    async def go() -> int:
        control = RemoteFaultControl.from_environment(args.token)
        try:
            return await _faults(args, control)
        finally:
            await control.aclose()

    try:
        return asyncio.run(go())
    except (FaultControlError, ValueError) as err:
        print(f"mockinfra: {err}", file=sys.stderr)
        return 2


# ---------------------------------------------------------------- python -m mockinfra.chaos


def _chaos_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m mockinfra.chaos",
        description="Inject a scenario, check its alerts fire and resolve, record ground truth.",
    )
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("scenarios", nargs="*", default=[], help="scenario names")
    what.add_argument("--list", action="store_true", help="list the catalog")
    what.add_argument("--all", action="store_true", help="run every scenario")
    what.add_argument("--random", type=int, metavar="N", help="run N scenarios drawn at random")
    what.add_argument("--recover-all", action="store_true", help="undo every fault and action")
    parser.add_argument("--seed", type=int, help="seed of --random (recorded)")
    parser.add_argument("--baseline", choices=("quiet", "seed"), default="quiet")
    parser.add_argument("--hold", type=_positive, help="override the hold, seconds")
    parser.add_argument("--timeout", type=_positive, help="override detect/resolve timeouts")
    parser.add_argument("--ttl", type=_positive, default=900.0, help="TTL of injected faults")
    parser.add_argument("--traffic", type=float, default=4.0, help="background req/s (0: none)")
    parser.add_argument("--runs-dir", type=Path, default=Path("runs"))
    parser.add_argument("--json", type=Path, help="also write the (last) record here")
    parser.add_argument("--catalog", type=Path, help="scenario folder")
    return parser


def _select(args: argparse.Namespace, catalog: dict[str, scenario.Scenario]) -> list[str]:
    if args.all:
        return list(catalog)
    if args.random is not None:
        rng = random.Random(args.seed)
        return rng.sample(sorted(catalog), k=min(args.random, len(catalog)))
    unknown = [n for n in args.scenarios if n not in catalog]
    if unknown:
        raise scenario.ScenarioError(f"unknown scenario(s): {', '.join(unknown)}")
    return list(args.scenarios)


def _print_catalog(catalog: dict[str, scenario.Scenario]) -> None:
    width = max(len(n) for n in catalog)
    for s in catalog.values():
        alerts = ", ".join(s.expected_alerts) or "(none)"
        cause = f"{s.root_cause['level']}/{s.root_cause['type']}"
        print(f"{s.name:<{width}}  {cause:<36} {alerts}")


async def health_problems() -> list[str]:
    """Components failing their readiness check (the stack runner's own checks)."""
    results = await asyncio.gather(*(readiness.check(n) for n in HEALTH_COMPONENTS))
    return [f"{n}: {d}" for n, (ok, d) in zip(HEALTH_COMPONENTS, results, strict=True) if not ok]


async def recover_all(ctx: actions.Context) -> int:
    """Clear every fault on every instance, undo journaled changes, restart what is down."""
    failures = 0
    for name in FAULT_INSTANCES:
        try:
            print(f"{name}: cleared {await ctx.control.clear(name)} fault(s)")
        except FaultControlError as err:
            failures += 1
            print(f"{name}: {err}", file=sys.stderr)
    for line in await actions.recover_journal(ctx):
        print(line)
    for queue, type_ in (("low-priority", "chaos-backlog"), ("dead-letter", "poison")):
        with contextlib.suppress(Exception):
            print(f"{queue}: removed {await actions._remove_messages(queue, type_)} {type_}")
    for name in await ctx.components.names():
        try:
            await ctx.components.ensure_running(name)
        except Exception as err:
            failures += 1
            print(f"{name}: {err}", file=sys.stderr)
    print("recovered" if not failures else f"recovered with {failures} failure(s)")
    return 1 if failures else 0


async def _chaos(args: argparse.Namespace, names: list[str], catalog: Any) -> int:
    task = asyncio.current_task()
    loop = asyncio.get_running_loop()
    if task is not None:  # SIGTERM recovers like Ctrl-C (asyncio.run handles SIGINT)
        loop.add_signal_handler(signal.SIGTERM, task.cancel)
    control = RemoteFaultControl.from_environment()
    async with httpx.AsyncClient(timeout=10.0) as http:
        ctx = actions.Context(
            control=control,
            components=SupervisorComponents(),
            http=http,
            state=State.from_env(),
            fault_ttl=args.ttl,
        )
        try:
            if args.recover_all:
                return await recover_all(ctx)
            options = RunOptions(
                baseline=args.baseline,
                hold_seconds=args.hold,
                timeout_seconds=args.timeout,
                fault_ttl=args.ttl,
                traffic_rps=args.traffic,
                seed=args.seed,
                runs_dir=args.runs_dir,
                json_path=args.json,
            )
            runner = Runner(
                ctx,
                AlertmanagerClient(http),
                health=health_problems,
                annotator=GrafanaAnnotator(http),
                options=options,
            )
            records = await run_many(runner, [catalog[n] for n in names])
        finally:
            await control.aclose()
    failed = [r["scenario"] for r in records if r["outcome"]["status"] != "passed"]
    print(
        f"{len(records) - len(failed)}/{len(records)} passed"
        + (f"; failed: {failed}" if failed else "")
    )
    return 1 if failed else 0


def chaos_main(argv: Sequence[str] | None = None) -> int:
    args = _chaos_parser().parse_args(argv)
    try:
        catalog = scenario.load_catalog(args.catalog)
        if args.list:
            _print_catalog(catalog)
            return 0
        names = [] if args.recover_all else _select(args, catalog)
        if not names and not args.recover_all:
            print("nothing to run", file=sys.stderr)
            return 2
        return asyncio.run(_chaos(args, names, catalog))
    except scenario.ScenarioError as err:
        print(f"chaos: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("chaos: interrupted; injected faults were reverted", file=sys.stderr)
        return 130
