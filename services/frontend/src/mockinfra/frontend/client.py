"""Typed thin client over the backend's gRPC stubs: the only module that touches `_pb2` types.

Routes call keyword-only methods and get a `Reply` (the message and which backend instance
answered) or a `BackendError` carrying the gRPC status, the instance and the injected-fault mark.
Every call carries a deadline. The channel has no interceptors: `_call` applies the common
`ClientTelemetry` (metrics, trace context, request id) itself, which saves grpc.aio's
interceptor machinery (a task and an intercepted call object per call).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final, Generic, Literal, TypeVar

import grpc
from google.protobuf import struct_pb2

from mockinfra.common.grpc_client import ClientTelemetry
from mockinfra.common.grpc_server import FAULT_METADATA, INSTANCE_METADATA
from mockinfra.v1 import backend_pb2, backend_pb2_grpc, faults_pb2, faults_pb2_grpc

Priority = Literal["high", "medium", "low"]
TriggerName = Literal["timeout", "crash", "memory", "database"]

_PRIORITIES: Final[Mapping[str, backend_pb2.Priority.ValueType]] = {
    "high": backend_pb2.PRIORITY_HIGH,
    "medium": backend_pb2.PRIORITY_MEDIUM,
    "low": backend_pb2.PRIORITY_LOW,
}
_TRIGGERS: Final[Mapping[str, faults_pb2.TriggerType.ValueType]] = {
    "timeout": faults_pb2.TRIGGER_TYPE_TIMEOUT,
    "crash": faults_pb2.TRIGGER_TYPE_CRASH,
    "memory": faults_pb2.TRIGGER_TYPE_MEMORY,
    "database": faults_pb2.TRIGGER_TYPE_DATABASE,
}
# Built once: these requests have no fields, so every call can share one instance.
_STATUS_REQUEST: Final = backend_pb2.GetStatusRequest()
_QUEUE_STATS_REQUEST: Final = backend_pb2.GetQueueStatsRequest()

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Reply(Generic[T]):
    """A backend answer and the instance (`backend-1`, ...) that produced it, if it said."""

    message: T
    instance: str | None


class BackendError(Exception):
    """A failed backend call: its gRPC status and what the backend said about it."""

    def __init__(
        self,
        code: grpc.StatusCode,
        message: str,
        *,
        instance: str | None = None,
        injected: str | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.instance = instance
        self.injected = injected


def _lookup(metadata: Iterable[Any] | None, key: str) -> str | None:
    """One metadata value (grpc.aio's `Metadata` and plain pair tuples iterate alike)."""
    for name, value in metadata or ():
        if name == key:
            return value.decode() if isinstance(value, bytes) else value
    return None


def _instance(metadata: Iterable[Any] | None) -> str | None:
    """Who answered: every server built on mockinfra.common puts it in the trailers of every
    answer, and in the initial metadata too before failing with an injected fault."""
    return _lookup(metadata, INSTANCE_METADATA)


def _error(exc: grpc.aio.AioRpcError) -> BackendError:
    initial, trailing = exc.initial_metadata(), exc.trailing_metadata()
    instance = _instance(trailing) or _instance(initial)
    injected = _lookup(trailing, FAULT_METADATA)
    return BackendError(
        exc.code(), exc.details() or exc.code().name, instance=instance, injected=injected
    )


def to_struct(value: Mapping[str, Any]) -> struct_pb2.Struct:
    """A JSON object as a protobuf `Struct`."""
    struct = struct_pb2.Struct()
    struct.update(value)
    return struct


class BackendClient:
    """The backend API over one shared channel (nginx's gRPC load balancer)."""

    def __init__(
        self,
        channel: grpc.aio.Channel,
        *,
        telemetry: ClientTelemetry,
        deadline: float,
        trigger_deadline: float,
    ) -> None:
        self.channel = channel
        self.telemetry = telemetry
        self.deadline = deadline
        self.trigger_deadline = trigger_deadline
        self._data = backend_pb2_grpc.DataServiceStub(channel)
        self._users = backend_pb2_grpc.UserServiceStub(channel)
        self._queue = backend_pb2_grpc.QueueServiceStub(channel)
        self._status = backend_pb2_grpc.StatusServiceStub(channel)
        self._faults = faults_pb2_grpc.FaultServiceStub(channel)
        # Stub attribute -> its full method name ('/pkg.Service/Method'), for the telemetry.
        self._methods: dict[object, str] = {}
        for stub, module, name in (
            (self._data, backend_pb2, "DataService"),
            (self._users, backend_pb2, "UserService"),
            (self._queue, backend_pb2, "QueueService"),
            (self._status, backend_pb2, "StatusService"),
            (self._faults, faults_pb2, "FaultService"),
        ):
            service = module.DESCRIPTOR.services_by_name[name]
            for method in service.methods:
                self._methods[getattr(stub, method.name)] = f"/{service.full_name}/{method.name}"
        # ListData's reply as its wire bytes: the converter memoises listings on those bytes
        # and parses them only on a miss (parsing and re-serialising 100 items per request
        # were 8% of the frontend's CPU on the cached listing, per py-spy).
        list_path = self._methods[self._data.ListData]
        self._list_raw: grpc.aio.UnaryUnaryMultiCallable[Any, bytes] = channel.unary_unary(
            list_path,
            request_serializer=backend_pb2.ListDataRequest.SerializeToString,
            response_deserializer=None,
        )
        self._methods[self._list_raw] = list_path

    async def _call(
        self,
        method: grpc.aio.UnaryUnaryMultiCallable[Any, T],
        request: Any,
        deadline: float | None = None,
    ) -> Reply[T]:
        try:
            message, trailing = await self.telemetry.unary(
                self._methods[method], method, request, deadline=deadline or self.deadline
            )
        except grpc.aio.AioRpcError as exc:
            raise _error(exc) from None
        return Reply(message, _instance(trailing))

    def channel_state(self) -> grpc.ChannelConnectivity:
        """The channel's connectivity, nudging an idle channel to connect."""
        return self.channel.get_state(try_to_connect=True)

    async def status(self) -> Reply[backend_pb2.StatusResponse]:
        return await self._call(self._status.GetStatus, _STATUS_REQUEST)

    async def list_data(self, *, limit: int, offset: int, nocache: bool = False) -> Reply[bytes]:
        """The serialised `ListDataResponse`, for `convert.data_list`."""
        request = backend_pb2.ListDataRequest(limit=limit, offset=offset, nocache=nocache)
        return await self._call(self._list_raw, request)

    async def get_data(self, *, item_id: int) -> Reply[backend_pb2.DataItem]:
        return await self._call(self._data.GetData, backend_pb2.GetDataRequest(id=item_id))

    async def create_data(
        self, *, name: str, value: float, metadata: Mapping[str, Any]
    ) -> Reply[backend_pb2.DataItem]:
        request = backend_pb2.CreateDataRequest(
            name=name, value=value, metadata=to_struct(metadata)
        )
        return await self._call(self._data.CreateData, request)

    async def update_data(
        self,
        *,
        item_id: int,
        name: str | None = None,
        value: float | None = None,
        status: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> Reply[backend_pb2.DataItem]:
        request = backend_pb2.UpdateDataRequest(
            id=item_id,
            name=name,
            value=value,
            status=status,
            metadata=None if metadata is None else to_struct(metadata),
        )
        return await self._call(self._data.UpdateData, request)

    async def delete_data(self, *, item_id: int) -> Reply[backend_pb2.DeleteDataResponse]:
        return await self._call(self._data.DeleteData, backend_pb2.DeleteDataRequest(id=item_id))

    async def list_users(self, *, page: int, limit: int) -> Reply[backend_pb2.ListUsersResponse]:
        request = backend_pb2.ListUsersRequest(page=page, limit=limit)
        return await self._call(self._users.ListUsers, request)

    async def enqueue(
        self, *, type: str, payload: Mapping[str, Any], priority: Priority
    ) -> Reply[backend_pb2.EnqueueResponse]:
        request = backend_pb2.EnqueueRequest(
            type=type, payload=to_struct(payload), priority=_PRIORITIES[priority]
        )
        return await self._call(self._queue.Enqueue, request)

    async def queue_stats(self) -> Reply[backend_pb2.QueueStats]:
        return await self._call(self._queue.GetQueueStats, _QUEUE_STATS_REQUEST)

    async def trigger_fault(self, *, kind: TriggerName) -> Reply[faults_pb2.TriggerFaultResponse]:
        request = faults_pb2.TriggerFaultRequest(type=_TRIGGERS[kind])
        return await self._call(self._faults.TriggerFault, request, self.trigger_deadline)
