"""`python -m mockinfra.stack <command>`: what the nox sessions up/down/status/... call."""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path

from mockinfra.common import topology
from mockinfra.common.profiles import ProfileName
from mockinfra.stack import deps, lifecycle
from mockinfra.stack.layout import MODES
from mockinfra.stack.programs import Options, RulesProfile
from mockinfra.stack.render import render_all, render_compose
from mockinfra.stack.state import State

RULES_ENV = "MOCKINFRA_RULES"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m mockinfra.stack", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("up", "render"):
        cmd = sub.add_parser(name, help=f"{name} the stack" if name == "up" else "write configs")
        cmd.add_argument(
            "--profile", choices=[p.value for p in ProfileName], default=ProfileName.SEED.value,
            help="fault profile of the services (seed: the seed's error rates)",
        )  # fmt: skip
        cmd.add_argument(
            "--rules", choices=[r.value for r in RulesProfile],
            default=os.environ.get(RULES_ENV, RulesProfile.REALISTIC.value),
            help=f"alert rules profile (env {RULES_ENV})",
        )  # fmt: skip
    render = sub.choices["render"]
    render.add_argument(
        "--mode", choices=MODES, default="local",
        help="local: into the state folder for `up`; compose: flat into --out for compose.yaml",
    )  # fmt: skip
    render.add_argument("--out", type=Path, help="output folder (compose mode; its /config)")
    sub.add_parser("down", help="stop everything; every port is free afterwards")
    sub.add_parser("status", help="state, pid, port, health and memory of each component")
    sub.add_parser("health", help="the seed's health check; non-zero exit when any fails")
    sub.add_parser("clean", help="remove the state folder (the stack must be down)")
    sub.add_parser("deps", help="install the missing system binaries with apt")
    logs = sub.add_parser("logs", help="follow one component's log")
    logs.add_argument("component", choices=[*topology.BY_NAME, "supervisord", "nginx-error"])
    logs.add_argument("-n", "--lines", type=int, default=50)
    logs.add_argument("--no-follow", action="store_true")
    restart = sub.add_parser("restart", help="restart one component")
    restart.add_argument("component", choices=list(topology.BY_NAME))
    return parser


def _logs(component: str, lines: int, follow: bool) -> int:
    path = State.from_env().log_file(component)
    if not follow:
        if not path.exists():
            print(f"no log yet: {path}", file=sys.stderr)
            return 1
        for line in path.read_text(errors="replace").splitlines()[-lines:]:
            print(line)
        return 0
    tail = shutil.which("tail")
    if tail is None:
        print("tail is not installed", file=sys.stderr)
        return 1
    os.execv(tail, [tail, "-n", str(lines), "-F", str(path)])


def _options(args: argparse.Namespace) -> Options:
    return Options(profile=ProfileName(args.profile), rules=RulesProfile(args.rules))


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        match args.command:
            case "up":
                return asyncio.run(lifecycle.up(_options(args)))
            case "render" if args.mode == "compose":
                if args.out is None:
                    _parser().error("render --mode compose needs --out DIR")
                written = asyncio.run(render_compose(args.out, RulesProfile(args.rules)))
                print(f"rendered {len(written)} files into {args.out}")
                return 0
            case "render":
                if args.out is not None:
                    _parser().error("--out is for --mode compose (local mode writes the state)")
                state = State.from_env()
                state.ensure()
                render_all(state, _options(args))
                print(f"rendered into {state.config}")
                return 0
            case "down":
                return asyncio.run(lifecycle.down())
            case "status":
                return asyncio.run(lifecycle.status())
            case "health":
                return asyncio.run(lifecycle.status(health_only=True))
            case "clean":
                return asyncio.run(lifecycle.clean())
            case "deps":
                return deps.install()
            case "logs":
                return _logs(args.component, args.lines, not args.no_follow)
            case "restart":
                return asyncio.run(lifecycle.restart(args.component))
    except lifecycle.StackError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    raise AssertionError(f"unhandled command {args.command}")
