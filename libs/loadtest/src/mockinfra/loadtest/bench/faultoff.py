"""Turn the running stack's injected faults off for the length of a bench, then back on.

The bench measures the read path with every instrument on and nothing injected. A stack started
with `up --profile off` already injects nothing; any other profile is overridden at run time
through fault control (the same API chaos uses): an `error_rate` fault of rate 0 and a `latency`
fault of mean 0 on the frontend and on each backend, with a TTL, so they lapse by themselves even
if the bench dies. At the end exactly those two kinds are cleared again.
"""

from __future__ import annotations

import asyncio
from typing import Final

import grpc
import httpx

from mockinfra.common import topology
from mockinfra.common.faults import FaultKind
from mockinfra.stack.state import State
from mockinfra.v1 import faults_pb2, faults_pb2_grpc

OFF: Final = {FaultKind.ERROR_RATE: {"rate": "0"}, FaultKind.LATENCY: {"mean_ms": "0"}}
TIMEOUT: Final = 5.0


def _http_targets() -> list[str]:
    return [topology.url(c.name) for c in topology.COMPONENTS if c.service == "frontend"]


def _grpc_targets() -> list[str]:
    return [f"{topology.HOST}:{topology.component(n).port}" for n in topology.BACKEND_INSTANCES]


async def _apply(token: str, *, ttl: float | None) -> None:
    """ttl set: override both kinds with zero; ttl None: clear both kinds."""
    auth = f"Bearer {token}"
    async with httpx.AsyncClient(timeout=TIMEOUT, headers={"Authorization": auth}) as client:
        for base in _http_targets():
            for kind, params in OFF.items():
                if ttl is None:
                    resp = await client.delete(f"{base}/admin/faults", params={"kind": kind})
                else:
                    body = {"kind": kind, "params": params, "ttl_seconds": ttl}
                    resp = await client.put(f"{base}/admin/faults", json=body)
                resp.raise_for_status()
    metadata = (("authorization", auth),)
    for target in _grpc_targets():
        async with grpc.aio.insecure_channel(target) as channel:
            stub = faults_pb2_grpc.FaultServiceStub(channel)
            for kind, params in OFF.items():
                if ttl is None:
                    request = faults_pb2.ClearFaultsRequest(kind=kind)
                    await stub.ClearFaults(request, metadata=metadata, timeout=TIMEOUT)
                else:
                    fault = faults_pb2.Fault(kind=kind, params=params, ttl_seconds=ttl)
                    await stub.SetFault(
                        faults_pb2.SetFaultRequest(fault=fault), metadata=metadata, timeout=TIMEOUT
                    )


def disable(ttl_seconds: float, state: State | None = None) -> None:
    asyncio.run(_apply((state or State.from_env()).fault_token(), ttl=ttl_seconds))


def restore(state: State | None = None) -> None:
    asyncio.run(_apply((state or State.from_env()).fault_token(), ttl=None))
