"""Request body size limit, answered with the JSON error body, without reading unbounded bodies.

Starlette's own limit (FastAPI's `max_body_size`) replaces the response with a plain-text 413
whenever `Content-Length` is too large; this one answers the JSON error body in both cases: a
declared length over the limit is refused before any byte is read, and a chunked body is cut
off as soon as it passes the limit (the `HTTPException` is rendered by the app's handler).
"""

from __future__ import annotations

from typing import Final

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mockinfra.common.errors import error_response

STATUS: Final = 413
CODE: Final = "PAYLOAD_TOO_LARGE"


class BodyLimitMiddleware:
    """Pure ASGI: no per-request objects unless the request has a body."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.message = f"request body over {max_bytes} bytes"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        for name, value in scope["headers"]:
            if name == b"content-length":
                if not value.isdigit():
                    response = error_response(400, "BAD_REQUEST", "invalid Content-Length")
                elif int(value) > self.max_bytes:
                    response = error_response(STATUS, CODE, self.message)
                else:
                    break
                await response(scope, receive, send)
                return
        limit, message = self.max_bytes, self.message
        received = 0

        async def limited() -> Message:
            nonlocal received
            msg = await receive()
            if msg["type"] == "http.request":
                received += len(msg.get("body", b""))
                if received > limit:
                    raise HTTPException(STATUS, message)
            return msg

        await self.app(scope, limited, send)
