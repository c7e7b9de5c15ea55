"""The load test and the bench's bare chain as real processes, without the stack.

The load test runs against `standin.py` (the seed's routes, backend instances and injected
errors, faked); the bench's bare chain runs its real nginx, FastAPI and grpc.aio programs.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest
import redis

from mockinfra.loadtest.bench import chain, loadgen
from mockinfra.stack import proxy
from mockinfra.stack.render import render_nginx
from mockinfra.stack.state import State

STANDIN = Path(__file__).with_name("standin.py")


@pytest.fixture(scope="module")
def standin() -> Iterator[str]:
    port = chain.free_port()
    proc = subprocess.Popen([sys.executable, str(STANDIN), str(port)], stdout=subprocess.PIPE)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == b"ready"
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.mark.integration
def test_loadtest_writes_every_report_file_and_a_summary(standin: str, tmp_path: Path) -> None:
    out, extra = tmp_path / "report", tmp_path / "summary.json"
    argv = [sys.executable, "-m", "mockinfra.loadtest", "--host", standin, "--duration", "6"]
    argv += ["--users", "10", "--spawn-rate", "10", "--out", str(out), "--json", str(extra)]
    argv += ["--profile", "seed"]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=90, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"report folder: {out.resolve()}" in result.stdout
    for name in ("locust_stats.csv", "locust_stats_history.csv", "locust_failures.csv"):
        assert (out / name).stat().st_size > 0, name
    assert (out / "report.html").read_text().lstrip().lower().startswith("<!doctype html")
    assert (out / "timeline.png").read_bytes()[:4] == b"\x89PNG"
    summary = json.loads(extra.read_text())
    assert summary == json.loads((out / "summary.json").read_text())
    assert summary["total"]["requests"] > 0
    assert summary["endpoints"]["GET /"]["requests"] > 0
    # `/error/{code}` is the rarest journey (under 1% of requests): a 6 s run of about 100
    # requests misses it about a third of the time, so it is checked when it ran.
    error_routes = [v for k, v in summary["endpoints"].items() if k.startswith("GET /error/")]
    assert all(route["error_rate"] == 1.0 for route in error_routes)
    # the stand-in fails one request in ten, marked injected, on every route
    assert summary["total"]["injected_failures"] > 0
    assert {"frontend", "backend-1", "backend-2"} <= set(summary["services"])
    assert summary["profile"] == {**summary["profile"], "name": "seed", "source": "argument"}
    failures = (out / "locust_failures.csv").read_text()
    assert "injected error_rate" in failures


@pytest.mark.integration
def test_bare_chain_serves_the_read_path_and_leaves_no_process(tmp_path: Path) -> None:
    with chain.bare_chain(backends=2) as bare:
        pids = bare.pids
        seen = set()
        with httpx.Client(timeout=5) as client:
            for _ in range(10):
                resp = client.get(f"{bare.url}/api/backend/data?limit=100")
                assert resp.status_code == 200
                assert len(resp.json()["data"]) == 100
                seen.add(resp.headers["x-backend-instance"])
        assert seen <= {"bare-1", "bare-2"} and seen
        result = loadgen.measure(f"{bare.url}/api/backend/data", seconds=2, connections=8)
        assert result.requests > 0 and result.errors == 0 and result.rps > 0
        assert set(bare.programs) == {"grpc-1", "grpc-2", "app", "nginx", "valkey"}
        # Every answer was a cache hit on the chain's own Valkey (plus the readiness probe's).
        with redis.Redis.from_url(f"redis://{bare.valkey}") as cache:
            assert cache.info("stats")["keyspace_hits"] >= 10 + result.requests
        bare_conf = (bare.root / "nginx.conf").read_text()
    assert not [pid for pid in pids if psutil.pid_exists(pid)]
    # The ceiling is measured with the stack's own upstream connection handling.
    stack_conf = render_nginx(State(tmp_path))
    for value in (
        f"keepalive {proxy.FRONTEND_KEEPALIVE};",
        f"keepalive {proxy.BACKEND_KEEPALIVE};",
        f"keepalive_requests {proxy.GRPC_KEEPALIVE_REQUESTS};",
    ):
        assert value in bare_conf and value in stack_conf, value
