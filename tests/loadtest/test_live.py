"""The load test and the bench against the live stack (the session's shared `stack` fixture)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from mockinfra.loadtest import routes

pytestmark = [pytest.mark.stack, pytest.mark.integration]


def _run(stack: Any, module: str, *args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", module, *args],
        env=stack.env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert result.returncode == 0, f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


def test_ten_second_loadtest_reports_every_endpoint(stack: Any, tmp_path: Path) -> None:
    out = tmp_path / "report"
    args = ("--duration", "10", "--users", "10", "--spawn-rate", "10", "--out", str(out))
    _run(stack, "mockinfra.loadtest", *args, "--json", str(tmp_path / "s.json"), timeout=90)
    summary = json.loads((tmp_path / "s.json").read_text())
    for name in ("locust_stats.csv", "locust_stats_history.csv", "locust_failures.csv"):
        assert (out / name).stat().st_size > 0, name
    assert (out / "report.html").stat().st_size > 0
    assert (out / "timeline.png").read_bytes()[:4] == b"\x89PNG"
    # every route the journeys use at least weekly-often appears with traffic
    for route in (routes.HOME, routes.DATA, routes.USERS, routes.QUEUE, routes.FRONT_DATA):
        method = "POST" if route == routes.QUEUE else "GET"
        assert summary["endpoints"][f"{method} {route}"]["requests"] > 0, route
    assert all(row["requests"] > 0 for row in summary["endpoints"].values())
    # the gateway names the backend that answered, and both answer
    assert {"backend-1", "backend-2", "frontend"} <= set(summary["services"])
    # the fixture starts the stack with the quiet profile; the load test reads it from the stack
    assert summary["profile"]["name"] == "quiet"
    assert summary["profile"]["source"].startswith("MOCKINFRA_PROFILE of pid")


def test_bench_json_has_every_number(stack: Any, tmp_path: Path) -> None:
    path = tmp_path / "bench.json"
    args = ("--duration", "2", "--rounds", "2", "--connections", "8", "--json", str(path))
    result = _run(stack, "mockinfra.loadtest.bench", *args, timeout=180)
    assert "ratio stack/bare" in result.stdout
    bench = json.loads(path.read_text())
    for key in ("loadgen_ceiling", "stack", "bare"):
        assert bench[key]["requests"] > 0 and bench[key]["rps"] > 0, key
    assert bench["stack"]["errors"] == 0  # faults are off for the bench
    assert bench["ratio"] == pytest.approx(bench["stack"]["rps"] / bench["bare"]["rps"], abs=1e-3)
    assert len(bench["by_round"]) == bench["rounds"] == 2
    assert [r["first"] for r in bench["by_round"]] == ["stack", "bare"]  # balanced order
    assert bench["stack"]["seconds"] >= 2 * 2 * 0.9  # two rounds of 2 s each, summed
    stack_cpu, bare_cpu = (
        bench["cpu"]["stack"]["per_request_ms"],
        bench["cpu"]["bare"]["per_request_ms"],
    )
    assert stack_cpu["frontend"] > 0 and stack_cpu["backend-1"] + stack_cpu["backend-2"] > 0
    assert bare_cpu["app"] > 0 and bare_cpu["nginx"] > 0 and bare_cpu["valkey"] > 0
    assert bench["memory"]["peak_total_mib"] > 0 and bench["memory"]["measure"] == "pss"
    assert {"frontend", "backend-1", "nginx"} <= set(bench["memory"]["peak_by_component_mib"])
    assert bench["machine"]["cpus"] >= 1
    assert set(bench["targets"]) >= {"rps_met", "ratio_met", "memory_met", "loadgen_not_bottleneck"}
    assert bench["faults"] == "overridden to zero at run time"  # quiet profile in the fixture
