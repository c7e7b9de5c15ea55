"""The summary, fidelity, shapes, routes, plot and wrk parsing, on synthetic numbers.

None of these import Locust (it would monkey-patch the test process with gevent).
"""

from __future__ import annotations

import csv
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from mockinfra.common.faults import LatencyProfile
from mockinfra.common.profiles import ProfileName
from mockinfra.loadtest import routes, summary
from mockinfra.loadtest.bench.cpu import CpuMeter
from mockinfra.loadtest.bench.loadgen import LoadResult, combine, parse_wrk
from mockinfra.loadtest.plot import read_history, render
from mockinfra.loadtest.profile import ConfiguredProfile
from mockinfra.loadtest.recorder import Accumulator, Recorder
from mockinfra.loadtest.shapes import Shape, ShapeName

SEED = ConfiguredProfile(ProfileName.SEED, "test")


def _simulate(
    recorder: Recorder,
    instance: str,
    n: int,
    rate: float,
    mean_ms: float,
    rng: random.Random,
    p95_ms: float | None = None,
) -> None:
    """Requests whose errors and latencies follow a profile, drawn like the services draw them.

    Frontend requests go to `/`, which also waits for a backend (alternating, seed latency).
    """
    route = routes.HOME if instance == routes.FRONTEND else routes.DATA
    latency = LatencyProfile.fit(mean_ms, p95_ms if p95_ms is not None else 4 * mean_ms)
    backend = LatencyProfile.fit(100.0, 500.0)
    for _ in range(n):
        failed = rng.random() < rate
        ms = 1000 * latency.sample(rng)
        if route == routes.HOME:
            ms += 1000 * backend.sample(rng)
        ms = 2.0 if failed else ms
        recorder.record(
            endpoint=f"GET {route}",
            service=instance,
            ms=ms,
            failed=failed,
            injected=failed,
            counts_for_fidelity=True,
        )


def test_percentiles_and_means_of_an_accumulator() -> None:
    acc = Accumulator()
    for ms in range(1, 101):
        acc.add(float(ms), failed=ms > 90, injected=ms > 95)
    assert (acc.requests, acc.failures, acc.injected) == (100, 10, 5)
    assert acc.percentile(0.5) == 50
    assert acc.percentile(0.95) == 95
    assert acc.percentile(0.99) == 99
    assert acc.mean_ms == pytest.approx(50.5)
    assert acc.ok_mean_ms == pytest.approx(45.5)
    assert acc.percentile(0.95, ok_only=True) == 86  # successful requests are 1..90


def test_summary_rows_per_endpoint_and_service_and_baselines() -> None:
    rec = Recorder()
    rec.record(endpoint="GET /", service="frontend", ms=10, failed=False, injected=False,
               counts_for_fidelity=True)  # fmt: skip
    rec.record(endpoint="GET /api/backend/data", service="backend-2", ms=30, failed=True,
               injected=True, counts_for_fidelity=True)  # fmt: skip
    out = summary.build(rec, seconds=2.0, profile=SEED, run={"shape": "sustained"})
    assert out["endpoints"]["GET /"]["requests"] == 1
    assert out["endpoints"]["GET /api/backend/data"]["error_rate"] == 1.0
    assert out["services"]["backend-2"]["injected_failures"] == 1
    assert out["total"] == {**out["total"], "requests": 2, "failures": 1, "rps": 1.0}
    assert out["baselines"]["frontend"] == {"mean_ms": 50.0, "p95_ms": 200.0, "rps": 1000.0}
    assert out["baselines"]["backend"]["rps"] == 500.0
    assert out["profile"]["instances"]["backend-2"]["error_rate"] == 0.20
    assert "fidelity" not in out
    text = summary.format_tables(out)
    assert "backend-2" in text and "avg 100 / p95 500 ms, 500 req/s" in text
    assert "fault profile: seed (test)" in text


def test_fidelity_passes_when_observations_follow_the_profile() -> None:
    rng = random.Random(5)
    rec = Recorder()
    for instance in ("frontend", "backend-1", "backend-2"):
        prof = SEED.instance(instance)
        mean, p95 = prof.latency_mean_ms, prof.latency_p95_ms
        _simulate(rec, instance, 20_000, prof.error_rate, mean, rng, p95)
    results = {r.instance: r for r in summary.fidelity(rec, SEED)}
    assert all(r.passed for r in results.values()), results
    assert results["backend-2"].observed_error_rate == pytest.approx(0.20, abs=0.015)


def test_fidelity_fails_on_a_wrong_error_rate_or_latency_or_too_few_requests() -> None:
    rng = random.Random(7)
    rec = Recorder()
    _simulate(rec, "frontend", 5000, 0.10, 50.0, rng)  # right
    _simulate(rec, "backend-1", 5000, 0.25, 100.0, rng, 500.0)  # error rate 10 pp too high
    _simulate(rec, "backend-2", 50, 0.20, 100.0, rng, 500.0)  # too few to judge
    results = {r.instance: r for r in summary.fidelity(rec, SEED)}
    assert results["frontend"].passed
    assert not results["backend-1"].error_rate_ok and not results["backend-1"].passed
    assert not results["backend-2"].enough_samples and not results["backend-2"].passed
    slow = Recorder()
    _simulate(slow, "frontend", 5000, 0.10, 110.0, rng)  # mean 40% over the profile
    (front,) = [r for r in summary.fidelity(slow, SEED) if r.instance == "frontend"]
    assert front.error_rate_ok and front.latency_ok is False and not front.passed


def test_fidelity_with_profile_off_expects_no_errors_and_skips_latency() -> None:
    off = ConfiguredProfile(ProfileName.OFF, "test")
    rec = Recorder()
    _simulate(rec, "frontend", 1000, 0.0, 5.0, random.Random(1))
    (front,) = [r for r in summary.fidelity(rec, off) if r.instance == "frontend"]
    assert front.passed and front.latency_ok is None
    out = summary.build(rec, seconds=1, profile=off, run={}, check_fidelity=True)
    assert out["fidelity"]["passed"] is False  # the backends saw no request at all
    assert "fidelity: FAIL" in summary.format_tables(out)


def test_service_attribution_and_fidelity_routes() -> None:
    assert routes.service_for(routes.DATA, {"X-Backend-Instance": "backend-1"}) == "backend-1"
    assert routes.service_for(routes.DATA, {}) == routes.GATEWAY
    assert routes.service_for(routes.HOME, {}) == "frontend"
    assert routes.service_for(routes.FRONT_DATA, {"X-Backend-Instance": "backend-2"}) == "frontend"
    assert not routes.counts_for_fidelity(routes.FRONT_ERROR)
    assert routes.counts_for_fidelity(routes.DATA_ITEM)
    assert routes.failure_message(503, "error_rate") == "HTTP 503 injected error_rate"
    assert routes.failure_message(429, None) == "HTTP 429"


@pytest.mark.parametrize("name", list(ShapeName))
def test_every_shape_ends_by_itself_within_its_users(name: ShapeName) -> None:
    shape = Shape(name, users=50, spawn_rate=5, duration=30)
    ticks = [shape.tick(t) for t in range(30)]
    assert all(t is not None and 1 <= t[0] <= 50 for t in ticks)
    assert shape.tick(30) is None
    counts = [t[0] for t in ticks if t is not None]
    if name is ShapeName.SUSTAINED:
        assert set(counts) == {50}
    if name is ShapeName.RAMP:
        assert counts == sorted(counts) and counts[0] < 10 and counts[-1] == 50
    if name is ShapeName.SPIKE:
        assert counts[0] == 10 and counts[15] == 50 and counts[-1] == 10


WRK_OUTPUT = """\
Running 5s test @ http://127.0.0.1:8080/api/backend/data
  1 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   106.60ms   29.76ms    1.24s    85.89%
  Latency Distribution
     50%  103.34ms
     75%  113.28ms
     90%  130.62ms
     99%    1.02s
  1502 requests in 5.01s, 27.93MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 10
Requests/sec:    299.63
"""


def test_wrk_output_is_parsed_with_units_and_errors() -> None:
    r = parse_wrk(WRK_OUTPUT, url="u", seconds=5, connections=32)
    assert (r.requests, r.errors) == (1502, 13)
    assert r.p50_ms == pytest.approx(103.34)
    assert r.p99_ms == pytest.approx(1020.0)
    assert r.rps == pytest.approx((1502 - 13) / 5.01, abs=0.1)
    with pytest.raises(ValueError):
        parse_wrk("wrk: connection refused", url="u", seconds=5, connections=32)


def test_rounds_combine_into_totals_and_median_percentiles() -> None:
    def run(requests: int, errors: int, seconds: float, p50: float) -> LoadResult:
        return LoadResult("wrk", "u", seconds, 64, requests, errors, 0.0, p50, p50 * 3)

    total = combine([run(1000, 0, 10.0, 50.0), run(600, 10, 10.0, 90.0), run(800, 0, 5.0, 60.0)])
    assert (total.requests, total.errors, total.seconds) == (2400, 10, 25.0)
    assert total.rps == pytest.approx(2390 / 25.0)  # over the total time, not a mean of rates
    assert (total.p50_ms, total.p99_ms) == (60.0, 180.0)
    with pytest.raises(ValueError):
        combine([])


def test_cpu_meter_charges_a_program_for_the_cpu_it_burns() -> None:
    meter = CpuMeter({"me": os.getpid(), "gone": 2**22 + 7})
    for _ in range(2):
        with meter.measure():
            deadline = os.times().elapsed + 0.2
            while os.times().elapsed < deadline:
                pass  # burn about 0.2 s of CPU
    report = meter.as_dict(requests=100)
    assert 0.2 <= meter.seconds["me"] <= 1.0
    assert report["per_request_ms"]["me"] == pytest.approx(meter.seconds["me"] * 10.0, abs=1e-3)
    assert report["per_request_ms"]["gone"] == 0.0  # a pid that does not exist costs nothing
    assert report["total_per_request_ms"] == pytest.approx(report["per_request_ms"]["me"])
    assert 0 < report["machine_busy_pct"] <= 100


def test_cpu_meter_counts_a_child_that_exits_during_the_measurement() -> None:
    meter = CpuMeter({"me": os.getpid()})
    burn = "import os\nd = os.times().elapsed + 0.3\nwhile os.times().elapsed < d: pass"
    with meter.measure():
        subprocess.run([sys.executable, "-c", burn], check=True)  # reaped before `after`
    assert meter.seconds["me"] >= 0.25  # the parent itself only waited


def test_plot_reads_locust_history_and_writes_a_png(tmp_path: Path) -> None:
    history_csv = tmp_path / "locust_stats_history.csv"
    columns = ["Timestamp", "User Count", "Type", "Name", "Requests/s", "Failures/s"]
    columns += ["50%", "95%", "99%"]
    with history_csv.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        for t in range(10):
            writer.writerow([1000 + t, t, "", "GET /", 5, 0, 10, 20, 30])  # per endpoint: skipped
            writer.writerow([1000 + t, t, "", "Aggregated", 10 * t, t % 3, 10, "N/A", 40])
    history = read_history(history_csv)
    assert history.seconds == [float(t) for t in range(10)]
    assert history.rps[-1] == 90.0
    assert history.percentiles["99%"][0] == 40.0
    out = render(history, tmp_path / "timeline.png", title="test")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_composed_expectations_follow_the_fault_model() -> None:
    from mockinfra.loadtest.composition import expectation

    counts = {routes.HOME: 100, routes.FRONT_DATA: 100, routes.DATA: 999}
    front = expectation(SEED, "frontend", counts)
    # `/` shows only the frontend's 10%; `/api/data` also passes the backends' 17.5% on
    assert front.error_rate == pytest.approx((0.10 + (1 - 0.9 * 0.825)) / 2)
    assert front.mean_ms == pytest.approx(150, rel=0.03)  # 50 ms + 100 ms
    assert 500 < front.p95_ms < 700  # a sum's p95 is below the sum of p95s (700)
    back = expectation(SEED, "backend-2", counts)
    assert (back.error_rate, back.mean_ms, back.p95_ms) == (0.20, 100.0, 500.0)
    quiet = expectation(ConfiguredProfile(ProfileName.QUIET, "t"), "frontend", {routes.HOME: 1})
    assert quiet.error_rate == pytest.approx(0.01)
