"""The bench's load generator: `wrk` when it is installed, else Locust's FastHttpUser.

wrk (a Debian package) is an event-loop HTTP client in C: on this 2-core machine it drives
nginx's static `/health` an order of magnitude faster than the stack can answer, so it is never
the bottleneck. Without it, Locust's FastHttpUser (geventhttpclient) runs in a subprocess with
zero wait time; its ceiling is lower, which the `/health` measurement makes visible.
"""

from __future__ import annotations

import json
import re
import shutil
import statistics
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Final

SYNTHETIC: Final = ("X-Synthetic", "bench")
_UNITS: Final = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


@dataclass(frozen=True, slots=True)
class LoadResult:
    """What one fixed-duration, closed-loop run measured."""

    tool: str
    url: str
    seconds: float
    connections: int
    requests: int
    errors: int  # non-2xx/3xx answers, socket errors and timeouts
    rps: float  # successful requests per second
    p50_ms: float
    p99_ms: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def combine(runs: Sequence[LoadResult]) -> LoadResult:
    """Several runs of the same URL as one: counts and seconds summed, rps over the total time.

    Percentiles cannot be merged from summaries; p50 and p99 are the median of the runs' own.
    """
    if not runs:
        raise ValueError("no runs to combine")
    seconds = sum(r.seconds for r in runs)
    requests = sum(r.requests for r in runs)
    errors = sum(r.errors for r in runs)
    return LoadResult(
        tool=runs[0].tool,
        url=runs[0].url,
        seconds=round(seconds, 2),
        connections=runs[0].connections,
        requests=requests,
        errors=errors,
        rps=round(max(0, requests - errors) / seconds, 1) if seconds else 0.0,
        p50_ms=statistics.median(r.p50_ms for r in runs),
        p99_ms=statistics.median(r.p99_ms for r in runs),
    )


def _ms(raw: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", raw)
    return float(match[1]) * _UNITS[match[2]] if match else float("nan")


def parse_wrk(output: str, *, url: str, seconds: float, connections: int) -> LoadResult:
    """The numbers of `wrk --latency` text output."""
    total = re.search(r"(\d+) requests in ([\d.]+)(\w+)", output)
    if total is None:
        raise ValueError(f"unexpected wrk output:\n{output}")
    requests = int(total[1])
    elapsed = _ms(total[2] + total[3]) / 1000
    errors = 0
    if non2xx := re.search(r"Non-2xx or 3xx responses: (\d+)", output):
        errors += int(non2xx[1])
    if sock := re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    ):
        errors += sum(int(n) for n in sock.groups())
    p50 = re.search(r"^\s*50%\s+(\S+)", output, re.M)
    p99 = re.search(r"^\s*99%\s+(\S+)", output, re.M)
    return LoadResult(
        tool="wrk",
        url=url,
        seconds=round(elapsed, 2),
        connections=connections,
        requests=requests,
        errors=errors,
        rps=round(max(0, requests - errors) / elapsed, 1) if elapsed else 0.0,
        p50_ms=_ms(p50[1]) if p50 else float("nan"),
        p99_ms=_ms(p99[1]) if p99 else float("nan"),
    )


def tool() -> str:
    return "wrk" if shutil.which("wrk") else "locust"


def measure(url: str, *, seconds: float, connections: int, threads: int = 1) -> LoadResult:
    """Drive `url` with `connections` concurrent connections for `seconds` seconds."""
    limit = seconds + 60  # the subprocess ends by itself; this only catches a hang
    if (wrk := shutil.which("wrk")) is not None:
        argv = [wrk, f"-t{threads}", f"-c{connections}", f"-d{seconds:g}s", "--latency"]
        argv += ["-H", f"{SYNTHETIC[0]}: {SYNTHETIC[1]}", url]
        out = subprocess.run(argv, capture_output=True, text=True, timeout=limit, check=True)
        return parse_wrk(out.stdout, url=url, seconds=seconds, connections=connections)
    argv = [sys.executable, "-m", "mockinfra.loadtest.bench.fastload", url]
    argv += ["--seconds", f"{seconds:g}", "--users", str(connections)]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=limit, check=True)
    return LoadResult(**json.loads(out.stdout.strip().splitlines()[-1]))
