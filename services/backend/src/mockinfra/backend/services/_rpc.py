"""What every backend RPC does around its business logic.

`@rpc` turns the few domain exceptions into status codes: bad input INVALID_ARGUMENT,
unknown ids NOT_FOUND, an unreachable dependency UNAVAILABLE. An injected fault (a dependency
failure included) passes through to the common server telemetry, which answers it with its
code and the `x-fault-injected` marker.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import grpc

from mockinfra.backend.cache import CacheUnavailable
from mockinfra.backend.db import DatabaseUnavailable

if TYPE_CHECKING:
    from mockinfra.backend.app import Backend

log = logging.getLogger("mockinfra.backend.rpc")

Req = TypeVar("Req")
Resp = TypeVar("Resp")
Ctx = grpc.aio.ServicerContext[Any, Any]


class InvalidArgument(Exception):
    """The request is malformed; the message says which field and why."""


class NotFound(Exception):
    """The requested row does not exist."""


class HasBackend(Protocol):
    backend: Backend


S = TypeVar("S", bound=HasBackend)
Handler = Callable[[S, Req, Ctx], Awaitable[Resp]]


def rpc(method: Handler[S, Req, Resp]) -> Handler[S, Req, Resp]:
    """Wrap a unary handler with the error mapping.

    The instance metadata (`x-instance`) is not set here: the common server telemetry
    (`mockinfra.common.grpc_server`) puts it in the trailers of every answer.
    """

    @functools.wraps(method)
    async def wrapper(self: S, request: Req, context: Ctx) -> Resp:
        try:
            return await method(self, request, context)
        except InvalidArgument as exc:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        except NotFound as exc:
            await context.abort(grpc.StatusCode.NOT_FOUND, str(exc))
        except DatabaseUnavailable as exc:
            log.warning("database unavailable: %s", exc)
            await context.abort(grpc.StatusCode.UNAVAILABLE, f"database unavailable: {exc}")
        except CacheUnavailable as exc:
            log.warning("cache unavailable: %s", exc)
            await context.abort(grpc.StatusCode.UNAVAILABLE, f"cache unavailable: {exc}")
        raise AssertionError("unreachable: context.abort raises")

    return wrapper


def require(condition: bool, message: str) -> None:
    """Raise InvalidArgument with `message` unless `condition` holds."""
    if not condition:
        raise InvalidArgument(message)
