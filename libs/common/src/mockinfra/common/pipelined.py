"""One pipelined Valkey connection for a hot read path (the backend's listing cache, the bench).

redis-py's per-command Python (connection pool checkout, retry wrapper, timeout context,
script wrapper) was most of the backend's cache cost on a cache hit. Valkey answers the
commands of one connection in order, so concurrent callers can share one connection: each
writes its command and waits for the next reply in FIFO order; hiredis parses the replies.
A lost connection fails every waiting call and the next call reconnects; a reply slower than
`timeout` fails that call and drops the connection (later replies would be misattributed).
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any, cast

import hiredis


class PipelinedError(Exception):
    """Valkey could not be reached, answered with an error, or did not answer in time."""


def _pack(*args: bytes | str | int) -> bytes:
    """RESP array of bulk strings."""
    out = [b"*%d\r\n" % len(args)]
    for arg in args:
        data = arg if isinstance(arg, bytes) else str(arg).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(out)


class _Protocol(asyncio.Protocol):
    def __init__(self) -> None:
        self.reader = hiredis.Reader(replyError=PipelinedError)
        self.waiters: deque[asyncio.Future[Any]] = deque()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A stream transport; not an `asyncio.Transport` instance under uvloop (its own class).
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self.reader.feed(data)
        while True:
            reply = self.reader.gets()
            if reply is False:
                return
            if not self.waiters:
                continue  # the answer to a call that timed out before the drop
            waiter = self.waiters.popleft()
            if waiter.done():
                continue
            if isinstance(reply, PipelinedError):
                waiter.set_exception(reply)
            else:
                waiter.set_result(reply)

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        error = PipelinedError(f"connection lost: {exc or 'closed by the server'}")
        while self.waiters:
            waiter = self.waiters.popleft()
            if not waiter.done():
                waiter.set_exception(error)


class PipelinedConnection:
    """`await conn.call(*args)`: one command on the shared connection, connected on demand."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        db: int = 0,
        password: str | None = None,
        username: str | None = None,
        timeout: float = 3.0,
        connect_timeout: float = 2.0,
    ) -> None:
        self.host, self.port, self.db = host, port, db
        self.password, self.username = password, username
        self.timeout, self.connect_timeout = timeout, connect_timeout
        self._protocol: _Protocol | None = None
        self._connecting: asyncio.Lock | None = None

    async def _connect(self) -> _Protocol:
        if self._connecting is None:
            self._connecting = asyncio.Lock()
        async with self._connecting:
            protocol = self._protocol
            if protocol is not None and protocol.transport is not None:
                return protocol
            loop = asyncio.get_running_loop()
            try:
                _, connected = await asyncio.wait_for(
                    loop.create_connection(_Protocol, self.host, self.port),
                    self.connect_timeout,
                )
            except (OSError, TimeoutError) as exc:
                raise PipelinedError(f"connect to {self.host}:{self.port} failed: {exc}") from exc
            self._protocol = connected
            if self.password:
                auth = (self.username, self.password) if self.username else (self.password,)
                await self._send(connected, "AUTH", *auth)
            if self.db:
                await self._send(connected, "SELECT", self.db)
            return connected

    async def call(self, *args: bytes | str | int) -> Any:
        protocol = self._protocol
        if protocol is None or protocol.transport is None:
            protocol = await self._connect()
        return await self._send(protocol, *args)

    async def _send(self, protocol: _Protocol, *args: bytes | str | int) -> Any:
        transport = protocol.transport
        if transport is None:
            raise PipelinedError("connection lost")
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[Any] = loop.create_future()
        protocol.waiters.append(waiter)
        transport.write(_pack(*args))
        timer = loop.call_later(self.timeout, self._expire, protocol, waiter)
        try:
            return await waiter
        finally:
            timer.cancel()

    def _expire(self, protocol: _Protocol, waiter: asyncio.Future[Any]) -> None:
        if not waiter.done():
            waiter.set_exception(PipelinedError(f"no reply within {self.timeout} s"))
            transport, protocol.transport = protocol.transport, None
            if transport is not None:
                transport.abort()  # later replies would answer the wrong callers

    async def close(self) -> None:
        protocol, self._protocol = self._protocol, None
        if protocol is not None and protocol.transport is not None:
            protocol.transport.close()
