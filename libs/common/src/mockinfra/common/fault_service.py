"""`mockinfra.v1.FaultService` over a service's `FaultInjector`.

Set/Clear/List need `authorization: Bearer <settings.fault_token>` metadata; when no token is
configured they are refused (UNAUTHENTICATED), so fault control is never open by accident.
TriggerFault needs no token: it backs the seed's open `/api/backend/error/{type}` endpoints.
"""

from __future__ import annotations

import asyncio
import hmac
from typing import Any, Final

import grpc
from google.protobuf.timestamp_pb2 import Timestamp

from mockinfra.common.faults import Fault, FaultKind, crash
from mockinfra.common.runtime import Runtime
from mockinfra.v1 import faults_pb2, faults_pb2_grpc

TRIGGER_TIMEOUT_SECONDS: Final = 10.0
TRIGGER_MEMORY: Final = {"mb": "100", "seconds": "30"}
TRIGGER_DB_FAILURE_TTL: Final = 30.0
_Context = grpc.aio.ServicerContext[Any, Any]


def fault_to_proto(fault: Fault, instance: str) -> faults_pb2.Fault:
    expires = Timestamp()
    expires.FromNanoseconds(int(fault.expires_at * 1e9))
    return faults_pb2.Fault(
        kind=fault.kind.value,
        params=dict(fault.params),
        ttl_seconds=fault.ttl_seconds,
        expires_at=expires,
        instance=instance,
    )


class FaultServicer(faults_pb2_grpc.FaultServiceServicer):
    """Run-time fault control for one gRPC service instance."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.faults = rt.faults
        self.instance = rt.settings.instance
        token = rt.settings.fault_token
        self._expected = (
            f"bearer {token.get_secret_value()}".encode()
            if token is not None and token.get_secret_value()
            else None
        )
        self._tasks: set[asyncio.Task[None]] = set()

    async def _authorize(self, context: _Context) -> None:
        header = ""
        for key, value in context.invocation_metadata() or ():
            if key == "authorization":
                header = str(value)
        if self._expected is None:
            await context.abort(
                grpc.StatusCode.UNAUTHENTICATED, "fault control is disabled: no fault token set"
            )
        scheme, _, value = header.partition(" ")
        presented = f"{scheme.lower()} {value.strip()}".encode()
        if not hmac.compare_digest(presented, self._expected or b""):
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, "missing or wrong bearer token")

    async def SetFault(
        self, request: faults_pb2.SetFaultRequest, context: _Context
    ) -> faults_pb2.Fault:
        await self._authorize(context)
        f = request.fault
        try:
            fault = self.faults.set(f.kind, dict(f.params), f.ttl_seconds)
        except ValueError as exc:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        return fault_to_proto(fault, self.instance)

    async def ClearFaults(
        self, request: faults_pb2.ClearFaultsRequest, context: _Context
    ) -> faults_pb2.ClearFaultsResponse:
        await self._authorize(context)
        try:
            cleared = self.faults.clear(request.kind or None)
        except ValueError:
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT, f"unknown fault kind {request.kind!r}"
            )
        return faults_pb2.ClearFaultsResponse(cleared=cleared)

    async def ListFaults(
        self, request: faults_pb2.ListFaultsRequest, context: _Context
    ) -> faults_pb2.ListFaultsResponse:
        await self._authorize(context)
        return faults_pb2.ListFaultsResponse(
            faults=[fault_to_proto(f, self.instance) for f in self.faults.active()],
            instance=self.instance,
        )

    async def TriggerFault(
        self, request: faults_pb2.TriggerFaultRequest, context: _Context
    ) -> faults_pb2.TriggerFaultResponse:
        kind = request.type
        log = self.rt.logger
        if kind == faults_pb2.TRIGGER_TYPE_TIMEOUT:
            self.faults.metrics.fault_injected(FaultKind.TIMEOUT)
            log.warning("triggered timeout: answering in 10 s", extra={"fault": "timeout"})
            await asyncio.sleep(TRIGGER_TIMEOUT_SECONDS)
            await context.abort(
                grpc.StatusCode.DEADLINE_EXCEEDED,
                f"triggered timeout: no answer within {TRIGGER_TIMEOUT_SECONDS:g} s",
            )
        if kind == faults_pb2.TRIGGER_TYPE_CRASH:
            log.critical("triggered crash: exiting shortly", extra={"fault": "crash"})
            self.faults.metrics.fault_injected(FaultKind.CRASH)
            crash(exit_code=1, delay_seconds=0.5)  # after the reply has gone out
            return self._reply("crashing: the process exits and is restarted")
        if kind == faults_pb2.TRIGGER_TYPE_MEMORY:
            self.faults.trigger(FaultKind.MEMORY_SPIKE, TRIGGER_MEMORY)
            return self._reply(
                f"memory spike: {TRIGGER_MEMORY['mb']} MB for {TRIGGER_MEMORY['seconds']} s"
            )
        if kind == faults_pb2.TRIGGER_TYPE_DATABASE:
            hook = self.faults.on_database_trigger
            if hook is not None:
                self.faults.metrics.fault_injected(FaultKind.DB_FAILURE)
                log.warning("triggered database failure", extra={"fault": "db_failure"})
                result = hook()
                if result is not None:
                    await result
            else:
                self.faults.set(FaultKind.DB_FAILURE, {}, TRIGGER_DB_FAILURE_TTL)
            return self._reply("database connection error injected")
        await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "unknown or unspecified trigger type")

    def _reply(self, message: str) -> faults_pb2.TriggerFaultResponse:
        return faults_pb2.TriggerFaultResponse(message=message, instance=self.instance)
