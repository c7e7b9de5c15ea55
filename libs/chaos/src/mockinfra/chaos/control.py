"""Run-time fault control of every application instance, over its own control plane.

The backends serve `mockinfra.v1.FaultService` over gRPC; the HTTP services (frontend, alertsink)
serve `GET/PUT/DELETE /admin/faults`. Both need the fault token as a bearer credential. This
module hides the difference behind one `FaultControl` so the CLI and the runner only say
"set this fault on that instance".
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, Protocol

import grpc
import httpx

from mockinfra.common import topology
from mockinfra.stack.state import State
from mockinfra.v1 import faults_pb2, faults_pb2_grpc

TOKEN_ENV: Final = "MOCKINFRA_FAULT_TOKEN"
DEFAULT_TTL_SECONDS: Final = 300.0
CALL_TIMEOUT_SECONDS: Final = 5.0

# Application instances that serve fault control, in topology order.
FAULT_INSTANCES: Final[tuple[str, ...]] = tuple(
    c.name for c in topology.COMPONENTS if c.role is topology.Role.APP
)
GRPC_SERVICES: Final = frozenset({"backend"})  # services whose fault control is gRPC


class FaultControlError(RuntimeError):
    """A fault control call failed: unreachable instance, bad request or refused token."""


class UnauthenticatedError(FaultControlError):
    """The instance refused the fault token (missing or wrong)."""


@dataclass(frozen=True, slots=True)
class ActiveFault:
    """A fault as an instance reports it."""

    instance: str
    kind: str
    params: Mapping[str, str] = field(default_factory=dict)
    ttl_seconds: float = 0.0
    expires_at: datetime | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "instance": self.instance,
            "kind": self.kind,
            "params": dict(self.params),
            "ttl_seconds": self.ttl_seconds,
            "expires_at": self.expires_at.isoformat() if self.expires_at else None,
        }


class FaultControl(Protocol):
    """What the CLI and the runner need; a fake implements it in the unit tests."""

    async def set(
        self, instance: str, kind: str, params: Mapping[str, str], ttl_seconds: float
    ) -> ActiveFault: ...

    async def clear(self, instance: str, kind: str | None = None) -> int: ...

    async def list(self, instance: str) -> list[ActiveFault]: ...

    async def aclose(self) -> None: ...


def state_dir() -> Path:
    """The stack's state folder (`MOCKINFRA_STATE_DIR`, else the checkout's `.state`)."""
    return State.from_env().root


def load_token(explicit: str | None = None) -> str | None:
    """The fault token: explicit, else `MOCKINFRA_FAULT_TOKEN`, else the state folder's file.

    Read only: unlike the stack runner, a client never generates a token.
    """
    if explicit:
        return explicit
    if env := os.environ.get(TOKEN_ENV):
        return env
    path = State.from_env().fault_token_file
    try:
        return path.read_text(encoding="utf-8").strip() or None
    except OSError:
        return None


def check_instance(instance: str) -> topology.Component:
    """The component of a fault-controllable instance, or a clear error."""
    if instance not in FAULT_INSTANCES:
        raise FaultControlError(
            f"{instance!r} has no fault control; choose one of {', '.join(FAULT_INSTANCES)}"
        )
    return topology.component(instance)


def _check_ttl(ttl_seconds: float) -> None:
    if not ttl_seconds > 0:
        raise FaultControlError(f"a fault needs a TTL > 0 s, got {ttl_seconds}")


def _from_proto(fault: faults_pb2.Fault, instance: str) -> ActiveFault:
    expires = fault.expires_at.ToDatetime(tzinfo=UTC) if fault.HasField("expires_at") else None
    return ActiveFault(
        instance=fault.instance or instance,
        kind=fault.kind,
        params=dict(fault.params),
        ttl_seconds=fault.ttl_seconds,
        expires_at=expires,
    )


def _from_json(item: Mapping[str, Any], instance: str) -> ActiveFault:
    raw_expiry = item.get("expires_at")  # epoch seconds (mockinfra.common.faults.Fault)
    expires = datetime.fromtimestamp(float(raw_expiry), UTC) if raw_expiry else None
    return ActiveFault(
        instance=str(item.get("instance") or instance),
        kind=str(item["kind"]),
        params={str(k): str(v) for k, v in (item.get("params") or {}).items()},
        ttl_seconds=float(item.get("ttl_seconds") or 0.0),
        expires_at=expires,
    )


class RemoteFaultControl:
    """Fault control of the live stack: gRPC for the backends, HTTP admin for the rest."""

    def __init__(self, token: str | None, *, timeout: float = CALL_TIMEOUT_SECONDS) -> None:
        self._token = token
        self._timeout = timeout
        self._channels: dict[str, grpc.aio.Channel] = {}
        self._http = httpx.AsyncClient(timeout=timeout)

    @classmethod
    def from_environment(cls, token: str | None = None) -> RemoteFaultControl:
        return cls(load_token(token))

    # -------------------------------------------------------------- plumbing

    def _metadata(self) -> tuple[tuple[str, str], ...]:
        return (("authorization", f"Bearer {self._token}"),) if self._token else ()

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._token}"} if self._token else {}

    def _stub(self, comp: topology.Component) -> faults_pb2_grpc.FaultServiceAsyncStub:
        channel = self._channels.get(comp.name)
        if channel is None:
            channel = grpc.aio.insecure_channel(f"{topology.HOST}:{comp.port}")
            self._channels[comp.name] = channel
        return faults_pb2_grpc.FaultServiceStub(channel)  # type: ignore[return-value]

    def _grpc_error(self, instance: str, err: grpc.aio.AioRpcError) -> FaultControlError:
        if err.code() is grpc.StatusCode.UNAUTHENTICATED:
            return UnauthenticatedError(f"{instance} refused the fault token: {err.details()}")
        return FaultControlError(f"{instance}: {err.code().name}: {err.details()}")

    async def _http_call(
        self, comp: topology.Component, method: str, **kwargs: Any
    ) -> httpx.Response:
        try:
            resp = await self._http.request(
                method,
                f"{topology.url(comp.name)}/admin/faults",
                headers=self._headers(),
                **kwargs,
            )
        except httpx.HTTPError as err:
            raise FaultControlError(f"{comp.name}: {type(err).__name__}: {err}") from err
        if resp.status_code in (401, 403):
            raise UnauthenticatedError(f"{comp.name} refused the fault token ({resp.status_code})")
        if resp.is_error:
            raise FaultControlError(f"{comp.name}: HTTP {resp.status_code}: {resp.text[:300]}")
        return resp

    # -------------------------------------------------------------- API

    async def set(
        self, instance: str, kind: str, params: Mapping[str, str], ttl_seconds: float
    ) -> ActiveFault:
        comp = check_instance(instance)
        _check_ttl(ttl_seconds)
        str_params = {str(k): str(v) for k, v in params.items()}
        if comp.service in GRPC_SERVICES:
            request = faults_pb2.SetFaultRequest(
                fault=faults_pb2.Fault(kind=kind, params=str_params, ttl_seconds=ttl_seconds)
            )
            try:
                reply = await self._stub(comp).SetFault(
                    request, metadata=self._metadata(), timeout=self._timeout
                )
            except grpc.aio.AioRpcError as err:
                raise self._grpc_error(instance, err) from err
            return _from_proto(reply, instance)
        body = {"kind": kind, "params": str_params, "ttl_seconds": ttl_seconds}
        resp = await self._http_call(comp, "PUT", json=body)
        return _from_json(resp.json(), instance)

    async def clear(self, instance: str, kind: str | None = None) -> int:
        comp = check_instance(instance)
        if comp.service in GRPC_SERVICES:
            try:
                reply = await self._stub(comp).ClearFaults(
                    faults_pb2.ClearFaultsRequest(kind=kind or ""),
                    metadata=self._metadata(),
                    timeout=self._timeout,
                )
            except grpc.aio.AioRpcError as err:
                raise self._grpc_error(instance, err) from err
            return int(reply.cleared)
        resp = await self._http_call(comp, "DELETE", params={"kind": kind} if kind else None)
        return int(resp.json().get("cleared", 0))

    async def list(self, instance: str) -> list[ActiveFault]:
        comp = check_instance(instance)
        if comp.service in GRPC_SERVICES:
            try:
                reply = await self._stub(comp).ListFaults(
                    faults_pb2.ListFaultsRequest(),
                    metadata=self._metadata(),
                    timeout=self._timeout,
                )
            except grpc.aio.AioRpcError as err:
                raise self._grpc_error(instance, err) from err
            return [_from_proto(f, reply.instance or instance) for f in reply.faults]
        resp = await self._http_call(comp, "GET")
        data = resp.json()
        items: Sequence[Mapping[str, Any]] = data.get("faults", [])
        return [_from_json(item, str(data.get("instance") or instance)) for item in items]

    async def aclose(self) -> None:
        await self._http.aclose()
        for channel in self._channels.values():
            await channel.close(grace=None)
        self._channels.clear()
