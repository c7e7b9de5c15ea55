"""`python -m mockinfra.loadtest`: realistic traffic through nginx, then a report folder."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from mockinfra.common import topology
from mockinfra.common.profiles import ProfileName
from mockinfra.loadtest import profile
from mockinfra.loadtest.shapes import Shape, ShapeName


def _positive(kind: type[int] | type[float]) -> Callable[[str], int | float]:
    def parse(raw: str) -> int | float:
        value = kind(raw)
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be > 0, got {raw}")
        return value

    return parse


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m mockinfra.loadtest", description=__doc__)
    p.add_argument("--shape", choices=[s.value for s in ShapeName], default=ShapeName.SUSTAINED)
    p.add_argument("--users", type=_positive(int), default=20)
    p.add_argument("--spawn-rate", type=_positive(float), default=5.0, help="users started per s")
    p.add_argument("--duration", type=_positive(float), default=60.0, help="seconds; the run ends")
    p.add_argument("--host", default=topology.url("nginx"), help="base URL (nginx by default)")
    p.add_argument("--web", action="store_true", help="also serve Locust's web UI on 127.0.0.1")
    p.add_argument("--json", type=Path, help="also write the JSON summary here")
    p.add_argument("--out", type=Path, help="report folder (default reports/loadtest-<time>/)")
    p.add_argument(
        "--profile",
        choices=[n.value for n in ProfileName],
        help="the stack's fault profile, when its state folder does not record it",
    )
    p.add_argument(
        "--check-fidelity",
        action="store_true",
        help="compare each service's error rate and latency with its profile; exit 1 on FAIL",
    )
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    configured = profile.detect(args.profile)
    # Imported here: the runner imports Locust, which patches the interpreter with gevent.
    from mockinfra.loadtest import runner, summary

    out = args.out or Path("reports") / time.strftime("loadtest-%Y%m%d-%H%M%S")
    opts = runner.RunOptions(
        host=args.host.rstrip("/"),
        shape=Shape(ShapeName(args.shape), args.users, args.spawn_rate, args.duration),
        out=out,
        profile=configured,
        web=args.web,
        json_path=args.json,
        check_fidelity=args.check_fidelity,
    )
    print(f"report folder: {out.resolve()}", flush=True)
    result = runner.run(opts)
    print(summary.format_tables(result.summary))
    print(f"\nreport folder: {result.out.resolve()}")
    for key, path in result.files.items():
        print(f"  {key:<15} {path}")
    if args.check_fidelity and not result.summary["fidelity"]["passed"]:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
