"""The documented example service runs as a real process with metrics, logs and faults."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import orjson
import pytest

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "inventory_service.py"
TOKEN = "example-token"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
async def service(tmp_path: Path) -> AsyncIterator[tuple[str, Path]]:
    port = _free_port()
    log_file = tmp_path / "inventory.log"
    env = {
        **os.environ,
        "MOCKINFRA_PORT": str(port),
        "MOCKINFRA_INSTANCE": "inventory-7",
        "MOCKINFRA_FAULT_TOKEN": TOKEN,
        "MOCKINFRA_LOG_FILE": str(log_file),
        "OTEL_SDK_DISABLED": "false",
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(EXAMPLE), env=env, stdout=asyncio.subprocess.DEVNULL
    )
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=base, timeout=2) as c:
            for _ in range(200):  # readiness: /health answers (bounded: ~20 s)
                if proc.returncode is not None:
                    pytest.fail(f"example exited with {proc.returncode}")
                try:
                    if (await c.get("/health")).status_code == 200:
                        break
                except httpx.TransportError:
                    await asyncio.sleep(0.1)
            else:
                pytest.fail("example service did not become ready")
        yield base, log_file
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), 10)
            except TimeoutError:
                proc.kill()
                await proc.wait()


@pytest.mark.integration
async def test_example_metrics_logs_and_faults(service: tuple[str, Path]) -> None:
    base, log_file = service
    auth = {"authorization": f"Bearer {TOKEN}"}
    async with httpx.AsyncClient(base_url=base, timeout=5) as c:
        r = await c.get("/api/stock/apple", headers={"x-request-id": "ex-1"})
        assert r.json() == {"item": "apple", "quantity": 12}
        assert r.headers["x-request-id"] == "ex-1"
        missing = await c.get("/api/stock/kiwi")
        assert missing.status_code == 404 and missing.json()["error"]["code"] == "NOT_FOUND"
        assert (
            await c.put("/admin/faults", json={"kind": "db_failure", "ttl_seconds": 60})
        ).status_code == 401
        r = await c.put(
            "/admin/faults", json={"kind": "db_failure", "ttl_seconds": 60}, headers=auth
        )
        assert r.status_code == 200
        assert (await c.get("/api/stock/apple")).status_code == 503
        await c.delete("/admin/faults", headers=auth)
        r = await c.put(
            "/admin/faults",
            json={"kind": "error_rate", "params": {"rate": 1}, "ttl_seconds": 60},
            headers=auth,
        )
        injected = await c.get("/api/stock/pear")
        assert injected.status_code in (500, 502, 503)
        assert injected.headers["x-fault-injected"] == "error_rate"
        metrics = (await c.get("/metrics")).text

    labels = 'instance="inventory-7",method="GET",route="/api/stock/{item}",service="inventory"'
    assert f'http_requests_total{{{labels},status_code="200"}} 1.0' in metrics
    assert f'http_requests_total{{{labels},status_code="404"}} 1.0' in metrics
    assert 'faults_injected_total{fault="error_rate",instance="inventory-7"' in metrics
    assert (
        'fault_active{fault="error_rate",instance="inventory-7",service="inventory"} 1.0' in metrics
    )

    # The log file is written by a background thread: read until the injected line is there.
    records: list[dict[str, object]] = []
    for _ in range(100):
        records = [orjson.loads(line) for line in log_file.read_text().splitlines() if line]
        if any(
            r.get("fault") == "error_rate" and r["logger"] == "mockinfra.access" for r in records
        ):
            break
        await asyncio.sleep(0.05)
    lookup = next(r for r in records if r["message"] == "stock lookup")
    assert lookup["request_id"] == "ex-1" and lookup["instance"] == "inventory-7"
    assert len(str(lookup["trace_id"])) == 32
    assert any(r.get("fault") == "error_rate" for r in records)
    assert TOKEN not in log_file.read_text()
