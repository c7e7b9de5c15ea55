"""Real readiness and health checks, one per component, each bounded in time.

A component is ready when it does its job: PostgreSQL accepts connections (pg_isready), Valkey
answers PING, gRPC servers report SERVING, HTTP services answer their health or metrics path.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Final

import grpc
import httpx
from grpc_health.v1 import health_pb2, health_pb2_grpc

from mockinfra.common import topology
from mockinfra.stack import binaries

CHECK_TIMEOUT: Final = 2.0
POLL_INTERVAL: Final = 0.1

# HTTP path that answers 200 when the component is ready.
HTTP_PATHS: Final = {
    "frontend": "/health",
    "alertsink": "/health",
    "nginx": "/health",
    "prometheus": "/-/ready",
    "alertmanager": "/-/ready",
    "loki": "/ready",
    "promtail": "/ready",
    "grafana": "/api/health",
}


async def _http(url: str) -> tuple[bool, str]:
    async with httpx.AsyncClient(timeout=CHECK_TIMEOUT) as client:
        try:
            resp = await client.get(url)
        except httpx.HTTPError as exc:
            return False, type(exc).__name__
    return resp.status_code == 200, f"HTTP {resp.status_code}"


async def _postgres(port: int) -> tuple[bool, str]:
    exe = binaries.BY_KEY["pg_isready"].find()
    if exe is None:
        return False, "pg_isready not installed"
    proc = await asyncio.create_subprocess_exec(
        exe, "-q", "-h", topology.HOST, "-p", str(port), "-t", "2",
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    code = await asyncio.wait_for(proc.wait(), timeout=CHECK_TIMEOUT + 3)
    return code == 0, "accepting connections" if code == 0 else f"pg_isready exit {code}"


async def _valkey(port: int) -> tuple[bool, str]:
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(topology.HOST, port), CHECK_TIMEOUT
        )
    except (OSError, TimeoutError) as exc:
        return False, type(exc).__name__
    try:
        writer.write(b"PING\r\n")
        await writer.drain()
        line = await asyncio.wait_for(reader.readline(), CHECK_TIMEOUT)
    except (OSError, TimeoutError) as exc:
        return False, type(exc).__name__
    finally:
        writer.close()
    return line.startswith(b"+PONG"), line.decode(errors="replace").strip() or "no answer"


async def _grpc(port: int) -> tuple[bool, str]:
    async with grpc.aio.insecure_channel(f"{topology.HOST}:{port}") as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        try:
            reply = await stub.Check(health_pb2.HealthCheckRequest(), timeout=CHECK_TIMEOUT)
        except grpc.aio.AioRpcError as exc:
            return False, exc.code().name
    name = health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)
    return reply.status == health_pb2.HealthCheckResponse.SERVING, name


def check_for(name: str) -> Callable[[], Awaitable[tuple[bool, str]]]:
    """The one health check of a component: () -> (healthy, detail)."""
    comp = topology.component(name)
    if name == "postgres":
        return lambda: _postgres(comp.port)
    if name == "valkey":
        return lambda: _valkey(comp.port)
    if comp.service == "backend":
        return lambda: _grpc(comp.port)
    path = HTTP_PATHS.get(name, comp.metrics_path)  # exporters: their metrics page
    url = f"{topology.url(name)}{path}"
    return lambda: _http(url)


async def check(name: str) -> tuple[bool, str]:
    try:
        return await asyncio.wait_for(check_for(name)(), timeout=CHECK_TIMEOUT + 5)
    except (TimeoutError, OSError) as exc:
        return False, type(exc).__name__


async def wait_ready(
    name: str, *, within: float, alive: Callable[[], Awaitable[str | None]] | None = None
) -> tuple[bool, str]:
    """Poll the check until it passes or `within` seconds run out; `alive` returns why it died."""
    deadline = time.monotonic() + within
    detail = "not checked"
    while time.monotonic() < deadline:
        ok, detail = await check(name)
        if ok:
            return True, detail
        if alive is not None and (dead := await alive()) is not None:
            return False, dead
        await asyncio.sleep(POLL_INTERVAL)
    return False, f"not ready after {within:.0f} s ({detail})"
