"""`python -m mockinfra.loadtest.bench`: how fast the cached read path is, against its ceiling.

In one run: (1) the load generator's own ceiling against nginx's static `/health`; (2) the
stack's cached `GET /api/backend/data` through nginx with every instrument on and injected faults
off, and the stack's resident memory meanwhile; (3) the same request through a bare chain of the
same shape started here. (2) and (3) alternate for `--rounds` rounds, so that both see the same
minutes of a machine whose speed drifts, in the order stack-bare, bare-stack, stack-bare, ...
(a steady drift favours neither over a pair of rounds). Prints the numbers, the ratio (2)/(3)
and the CPU each program spent per request; `--json` writes them.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

import httpx

from mockinfra.common import topology
from mockinfra.common.profiles import ProfileName
from mockinfra.loadtest import profile
from mockinfra.loadtest.bench import chain, cpu, faultoff, loadgen, memory

READ_PATH: Final = "/api/backend/data?limit=100&offset=0"
TARGET_RPS: Final = 1000.0  # the seed's frontend baseline (issue 5)
TARGET_RATIO: Final = 0.85
TARGET_MEMORY_MIB: Final = 1024.0
WARMUP: Final = 20  # requests that fill the read-through cache and open upstream connections


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m mockinfra.loadtest.bench", description=__doc__)
    p.add_argument("--duration", type=float, default=10.0, help="seconds per measurement")
    p.add_argument(
        "--rounds",
        type=int,
        default=4,
        help="stack and bare chain measured alternately this often (even: order balanced)",
    )
    p.add_argument("--connections", type=int, default=64, help="concurrent connections")
    p.add_argument("--threads", type=int, default=1, help="wrk threads (a core each)")
    p.add_argument("--json", type=Path, help="write every number here")
    p.add_argument("--host", default=topology.url("nginx"), help="the stack's nginx")
    return p


def _order(round_index: int) -> tuple[str, str]:
    """Which chain a round measures first: stack first in even rounds, bare first in odd ones."""
    return ("stack", "bare") if round_index % 2 == 0 else ("bare", "stack")


def _warm(url: str) -> None:
    """Fill the cache and the connection pools; fail early when the stack does not answer."""
    with httpx.Client(timeout=10.0, headers=dict([loadgen.SYNTHETIC])) as client:
        for _ in range(WARMUP):
            client.get(url).raise_for_status()


def _machine() -> dict[str, Any]:
    return {
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "cpus": os.cpu_count(),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "platform": platform.platform(),
        "python": platform.python_version(),
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    host = args.host.rstrip("/")
    opts = {"seconds": args.duration, "connections": args.connections, "threads": args.threads}
    rounds = max(1, args.rounds)
    configured = profile.detect()
    pids = memory.stack_pids()
    if not pids:
        raise SystemExit(
            "the stack is not running: `python -m mockinfra.stack up --profile off` first"
        )
    overridden = configured.name is not ProfileName.OFF
    with chain.bare_chain() as bare_chain:
        _warm(bare_chain.url + READ_PATH)
        stack_cpu, bare_cpu = cpu.CpuMeter(pids), cpu.CpuMeter(bare_chain.programs)
        stack_runs: list[loadgen.LoadResult] = []
        bare_runs: list[loadgen.LoadResult] = []
        chains = {
            "stack": (host + READ_PATH, stack_cpu, stack_runs),
            "bare": (bare_chain.url + READ_PATH, bare_cpu, bare_runs),
        }
        # The ceiling, 2 measurements per round and the warm-up: the override outlives them all.
        if overridden:
            faultoff.disable(ttl_seconds=(1 + 2 * rounds) * args.duration + 120)
        try:
            _warm(host + READ_PATH)
            idle = sum(memory.snapshot(pids).values())
            ceiling = loadgen.measure(host + "/health", **opts)
            with memory.Sampler(pids) as sampler:
                for i in range(rounds):
                    for which in _order(i):
                        url, meter, runs = chains[which]
                        with meter.measure():
                            runs.append(loadgen.measure(url, **opts))
        finally:
            if overridden:
                faultoff.restore()
    stack, bare = loadgen.combine(stack_runs), loadgen.combine(bare_runs)
    ratio = stack.rps / bare.rps if bare.rps else 0.0
    peak_mib = sampler.peak_total / memory.MIB
    return {
        "machine": _machine(),
        "tool": loadgen.tool(),
        "duration_s": args.duration,
        "rounds": rounds,
        "connections": args.connections,
        "profile": configured.as_dict(),
        "faults": "overridden to zero at run time" if overridden else "profile off",
        "loadgen_ceiling": ceiling.as_dict(),
        "stack": stack.as_dict(),
        "bare": bare.as_dict(),
        "ratio": round(ratio, 3),
        "by_round": [
            {
                "first": _order(i)[0],
                "stack_rps": s.rps,
                "bare_rps": b.rps,
                "ratio": round(s.rps / b.rps, 3) if b.rps else 0.0,
            }
            for i, (s, b) in enumerate(zip(stack_runs, bare_runs, strict=True))
        ],
        "cpu": {
            "stack": stack_cpu.as_dict(stack.requests),
            "bare": bare_cpu.as_dict(bare.requests),
        },
        "memory": {"idle_total_mib": round(idle / memory.MIB, 1), **sampler.as_dict()},
        "targets": {
            "rps": TARGET_RPS,
            "rps_met": stack.rps >= TARGET_RPS,
            "ratio": TARGET_RATIO,
            "ratio_met": ratio >= TARGET_RATIO,
            "memory_mib": TARGET_MEMORY_MIB,
            "memory_met": peak_mib <= TARGET_MEMORY_MIB,
            "loadgen_not_bottleneck": ceiling.rps >= 2 * max(stack.rps, bare.rps),
        },
    }


def _cpu_line(label: str, c: dict[str, Any]) -> str:
    parts = ", ".join(f"{name} {ms:.3f}" for name, ms in c["per_request_ms"].items() if ms > 0)
    return (
        f"{label:<14}{c['total_per_request_ms']:.3f} ms/request ({parts}); "
        f"machine {c['machine_busy_pct']:.0f}% busy"
    )


def format_result(r: dict[str, Any]) -> str:
    def line(label: str, m: dict[str, Any]) -> str:
        return (
            f"{label:<34}{m['rps']:>10.1f} req/s  p50 {m['p50_ms']:7.1f} ms  "
            f"p99 {m['p99_ms']:7.1f} ms  errors {m['errors']}/{m['requests']}"
        )

    t, mem = r["targets"], r["memory"]
    ok = {True: "met", False: "NOT met"}
    by_round = ", ".join(format(x["ratio"], ".3f") for x in r["by_round"])
    return "\n".join(
        [
            f"bench on {r['machine']['cpus']} CPUs, {r['tool']}, {r['connections']} connections,"
            f" {r['duration_s']:g} s each, {r['rounds']} rounds; faults: {r['faults']}",
            line("load generator vs nginx /health", r["loadgen_ceiling"]),
            line("stack: cached /api/backend/data", r["stack"]),
            line("bare chain: same request", r["bare"]),
            f"ratio stack/bare: {r['ratio']:.3f} (target >= {t['ratio']}: {ok[t['ratio_met']]});"
            f" by round: {by_round}",
            f"stack throughput target >= {t['rps']:.0f} req/s: {ok[t['rps_met']]}",
            "CPU per request, by program:",
            _cpu_line("  stack", r["cpu"]["stack"]),
            _cpu_line("  bare chain", r["cpu"]["bare"]),
            f"stack memory (PSS): idle {mem['idle_total_mib']:.0f} MiB, peak under load "
            f"{mem['peak_total_mib']:.0f} MiB "
            f"(target <= {t['memory_mib']:.0f}: {ok[t['memory_met']]})",
            "load generator is not the bottleneck"
            if t["loadgen_not_bottleneck"]
            else "WARNING: the load generator's ceiling is within 2x of what it measured",
        ]
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    result = run(args)
    print(format_result(result))
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2))
        print(f"json: {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
