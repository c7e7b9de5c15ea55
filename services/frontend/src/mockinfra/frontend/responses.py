"""The JSON response class: orjson, and helpers that mark which backend answered."""

from __future__ import annotations

from typing import Any, Final

import orjson
from starlette.responses import Response

from mockinfra.frontend.client import Reply

INSTANCE_HEADER: Final = "X-Backend-Instance"
INJECTED_HEADER: Final = "X-Fault-Injected"


class JSONResponse(Response):
    """orjson rendering (several times faster than `json.dumps` on the gateway's payloads)."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def backend_headers(instance: str | None) -> dict[str, str] | None:
    """`X-Backend-Instance` when the backend said who it is (nginx errors say nobody)."""
    return {INSTANCE_HEADER: instance} if instance else None


def gateway_json(reply: Reply[Any], content: Any, status_code: int = 200) -> JSONResponse:
    """A gateway answer: the converted message, marked with the instance that produced it."""
    return JSONResponse(content, status_code=status_code, headers=backend_headers(reply.instance))
