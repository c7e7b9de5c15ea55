"""SIGTERM: the backend process drains an in-flight call, then exits 0."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from typing import Any

import grpc
import httpx
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from mockinfra.stack.servers import free_port
from mockinfra.v1 import backend_pb2, backend_pb2_grpc

pytestmark = pytest.mark.integration


async def test_sigterm_drains_in_flight_call(
    postgres_server: Any, valkey_server: str, tmp_path: Any, until: Any
) -> None:
    port, metrics_port = free_port(), free_port()
    env = {
        **os.environ,
        "MOCKINFRA_INSTANCE": "backend-sigterm",
        "MOCKINFRA_PORT": str(port),
        "MOCKINFRA_METRICS_PORT": str(metrics_port),
        "MOCKINFRA_DATABASE_URL": postgres_server.app_dsn,
        "MOCKINFRA_CACHE_URL": valkey_server,
        "MOCKINFRA_ERROR_RATE": "0",
        # Every call takes about 1.5 s, so one is surely in flight when SIGTERM arrives.
        "MOCKINFRA_LATENCY_MEAN_MS": "1500",
        "MOCKINFRA_LATENCY_P95_MS": "1800",
    }
    log_path = tmp_path / "backend.log"
    with log_path.open("wb") as log:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "mockinfra.backend", env=env, stdout=log, stderr=log
        )
    target = f"127.0.0.1:{port}"
    try:
        async with grpc.aio.insecure_channel(target) as channel:
            health = health_pb2_grpc.HealthStub(channel)

            async def serving() -> bool:
                assert proc.returncode is None, log_path.read_text()
                try:
                    r = await health.Check(health_pb2.HealthCheckRequest(), timeout=1)
                except grpc.aio.AioRpcError:
                    return False
                return bool(r.status == health_pb2.HealthCheckResponse.SERVING)

            await until(serving, within=60)
            stub = backend_pb2_grpc.StatusServiceStub(channel)
            in_flight = asyncio.ensure_future(stub.GetStatus(backend_pb2.GetStatusRequest()))

            async def started() -> bool:
                async with httpx.AsyncClient() as client:
                    text = (await client.get(f"http://127.0.0.1:{metrics_port}/metrics")).text
                return any(
                    line.startswith("grpc_server_started_total")
                    and 'grpc_method="GetStatus"' in line
                    and line.endswith(" 1.0")
                    for line in text.splitlines()
                )

            await until(started)
            proc.send_signal(signal.SIGTERM)
            response = await in_flight
            assert response.instance == "backend-sigterm"
            async with asyncio.timeout(30):
                returncode = await proc.wait()
            assert returncode == 0, log_path.read_text()
        output = log_path.read_text()
        assert "draining" in output and "stopped" in output
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
