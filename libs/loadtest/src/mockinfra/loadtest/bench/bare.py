"""The bare chain's two programs: a minimal grpc.aio data server and a minimal FastAPI gateway.

They do what the real cached read path must do and nothing else: HTTP parsing, one unary gRPC
call through nginx, one Valkey GET of the serialised listing (the cache hit), protobuf to JSON.
No metrics, logs, tracing, fault injection or cache invalidation. The same Valkey client as the
backends' hit path (`mockinfra.common.pipelined`, the cheapest this codebase has) and the same
runtime settings as the services (the gateway: uvicorn with uvloop and httptools, orjson, as the
frontend; the gRPC servers on uvloop through `run_service`, as the backends; the garbage
collector set by `tune_gc` in both), so the ratio to the real stack measures what the stack adds
to the same work.

`python -m mockinfra.loadtest.bench.bare grpc --port P --instance backend-1 --valkey H:P`
`python -m mockinfra.loadtest.bench.bare http --port P --target 127.0.0.1:G`
"""

from __future__ import annotations

import argparse
import functools
from collections.abc import Sequence
from typing import Any, Final

import grpc
import orjson
import uvicorn
from fastapi import FastAPI, Query, Response
from google.protobuf import struct_pb2, timestamp_pb2

from mockinfra.common import topology
from mockinfra.common.asgi import NO_NATIVE_TELEMETRY
from mockinfra.common.gc_tuning import tune_gc
from mockinfra.common.grpc_client import CHANNEL_OPTIONS
from mockinfra.common.grpc_server import INSTANCE_METADATA
from mockinfra.common.pipelined import PipelinedConnection
from mockinfra.common.runtime import UVICORN_OPTIONS, run_service
from mockinfra.v1 import backend_pb2

ITEMS: Final = 100  # the journeys' and the bench's `limit=100`
LISTING_KEY: Final = "mockinfra:bench:listing"
LIST_DATA: Final = "ListData"
DATA_SERVICE: Final = backend_pb2.DESCRIPTOR.services_by_name["DataService"].full_name


def _reply() -> backend_pb2.ListDataResponse:
    """A listing shaped like the seed's sample rows, built once."""
    stamp = timestamp_pb2.Timestamp(seconds=1_700_000_000)
    items = []
    for i in range(1, ITEMS + 1):
        meta = struct_pb2.Struct()
        meta.update({"category": f"cat-{i % 7}", "priority": i % 3, "tags": ["a", "b"]})
        items.append(
            backend_pb2.DataItem(
                id=i,
                name=f"item-{i}",
                value=i * 1.25,
                status="active",
                metadata=meta,
                created_at=stamp,
                updated_at=stamp,
            )
        )
    return backend_pb2.ListDataResponse(
        items=items, total=ITEMS, limit=ITEMS, offset=0, source="cache"
    )


class _Data:
    """ListData answered with the listing's bytes as read from Valkey (no protobuf work)."""

    def __init__(self, instance: str, cache: PipelinedConnection) -> None:
        self.cache = cache
        self.metadata = ((INSTANCE_METADATA, instance),)

    async def list_data(
        self, request: backend_pb2.ListDataRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> bytes:
        context.set_trailing_metadata(self.metadata)  # who answered, as the stack says it
        listing: bytes = await self.cache.call("GET", LISTING_KEY)
        return listing


async def serve_grpc(port: int, instance: str, valkey: str) -> None:
    host, _, valkey_port = valkey.rpartition(":")
    cache = PipelinedConnection(host, int(valkey_port))
    await cache.call("SET", LISTING_KEY, _reply().SerializeToString())
    data = _Data(instance, cache)
    # Only ListData is served, and its reply goes out as stored: no response serializer.
    handler = grpc.unary_unary_rpc_method_handler(
        data.list_data, request_deserializer=backend_pb2.ListDataRequest.FromString
    )
    service = DATA_SERVICE
    server = grpc.aio.server()
    # Registered as the generated code registers a servicer (both ways; the registered
    # method is found without a Python lookup per call).
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler(service, {LIST_DATA: handler}),)
    )
    server.add_registered_method_handlers(service, {LIST_DATA: handler})  # type: ignore[attr-defined]
    server.add_insecure_port(f"{topology.HOST}:{port}")
    await server.start()
    tune_gc()  # as the backends do
    await server.wait_for_termination()


def _value(value: Any) -> Any:
    if isinstance(value, float):
        return int(value) if value.is_integer() else value
    if isinstance(value, struct_pb2.Struct):
        return {k: _value(v) for k, v in value.items()}
    if isinstance(value, struct_pb2.ListValue):
        return [_value(v) for v in value]
    return value


@functools.lru_cache(maxsize=16_384)
def _rfc3339(seconds: int, nanos: int) -> str:
    # The same memo as the frontend's converter: protobuf's ToJsonString is pure Python.
    return timestamp_pb2.Timestamp(seconds=seconds, nanos=nanos).ToJsonString()


def _item(item: backend_pb2.DataItem) -> dict[str, Any]:
    return {
        "id": item.id,
        "name": item.name,
        "value": item.value,
        "status": item.status,
        "metadata": _value(item.metadata),
        "created_at": _rfc3339(item.created_at.seconds, item.created_at.nanos),
        "updated_at": _rfc3339(item.updated_at.seconds, item.updated_at.nanos),
    }


def gateway(target: str) -> FastAPI:
    """`GET /api/backend/data` over one gRPC channel to `target` (nginx's gRPC upstream)."""
    app = FastAPI(telemetry=NO_NATIVE_TELEMETRY)  # nothing added, FastAPI's own included
    state: dict[str, grpc.aio.UnaryUnaryMultiCallable[Any, bytes]] = {}
    listings: dict[bytes, dict[str, Any]] = {}  # one prebuilt listing: never grows past one

    @app.get("/api/backend/data")
    async def list_data(
        limit: int = Query(100, ge=1, le=1000),
        offset: int = Query(0, ge=0),
        nocache: bool = False,
    ) -> Response:
        if "list" not in state:  # the channel must be made inside the server's event loop
            # The frontend's channel options (keepalive, retries off), without its telemetry;
            # the reply kept as wire bytes, as the frontend's client keeps it.
            channel = grpc.aio.insecure_channel(target, options=list(CHANNEL_OPTIONS))
            state["list"] = channel.unary_unary(
                f"/{DATA_SERVICE}/{LIST_DATA}",
                request_serializer=backend_pb2.ListDataRequest.SerializeToString,
                response_deserializer=None,
            )
        request = backend_pb2.ListDataRequest(limit=limit, offset=offset, nocache=nocache)
        call = state["list"](request, timeout=5)
        raw = await call
        instance = ""
        for name, value in await call.trailing_metadata() or ():
            if name == INSTANCE_METADATA:
                instance = value.decode() if isinstance(value, bytes) else value
        # The same memo as the frontend's converter: parsed and converted once per wire bytes.
        body = listings.get(raw)
        if body is None:
            reply = backend_pb2.ListDataResponse.FromString(raw)
            body = listings[raw] = {
                "data": [_item(i) for i in reply.items],
                "total": reply.total,
                "limit": reply.limit,
                "offset": reply.offset,
                "source": reply.source,
            }
        return Response(
            orjson.dumps(body),
            media_type="application/json",
            headers={"X-Backend-Instance": instance},
        )

    return app


def main(argv: Sequence[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m mockinfra.loadtest.bench.bare")
    sub = p.add_subparsers(dest="program", required=True)
    g = sub.add_parser("grpc")
    g.add_argument("--port", type=int, required=True)
    g.add_argument("--instance", default="bare-1")
    g.add_argument("--valkey", required=True, help="HOST:PORT of the Valkey holding the listing")
    h = sub.add_parser("http")
    h.add_argument("--port", type=int, required=True)
    h.add_argument("--target", required=True)
    args = p.parse_args(argv)
    if args.program == "grpc":
        run_service(serve_grpc(args.port, args.instance, args.valkey))  # as the backends run
    else:
        app = gateway(args.target)
        tune_gc()  # as the frontend does
        uvicorn.run(app, host=topology.HOST, port=args.port, log_level="warning", **UVICORN_OPTIONS)


if __name__ == "__main__":
    main()
