"""The cache's pipelined connection against a real Valkey: replies reach their callers, failures
fail fast and the next call reconnects."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from urllib.parse import urlparse

import pytest

from mockinfra.common.pipelined import PipelinedConnection, PipelinedError
from mockinfra.common.runtime import run_service
from mockinfra.stack import servers

pytestmark = pytest.mark.integration


@pytest.fixture
async def conn(valkey_server: str) -> AsyncIterator[PipelinedConnection]:
    url = urlparse(valkey_server)
    assert url.hostname is not None and url.port is not None
    c = PipelinedConnection(url.hostname, url.port)
    yield c
    await c.close()


async def test_concurrent_calls_get_their_own_replies(conn: PipelinedConnection) -> None:
    keys = [f"mockinfra:test:pipelined:{i}" for i in range(200)]
    await asyncio.gather(*(conn.call("SET", k, f"v{i}", "EX", 60) for i, k in enumerate(keys)))
    values = await asyncio.gather(*(conn.call("GET", k) for k in keys))
    assert values == [f"v{i}".encode() for i in range(200)]
    assert await conn.call("GET", "mockinfra:test:pipelined:absent") is None


async def test_error_reply_raises_and_the_connection_stays_usable(
    conn: PipelinedConnection,
) -> None:
    with pytest.raises(PipelinedError, match="unknown command"):
        await conn.call("NOSUCHCOMMAND")
    assert await conn.call("PING") == b"PONG"


async def test_a_killed_connection_reconnects(conn: PipelinedConnection) -> None:
    own_id = await conn.call("CLIENT", "ID")
    killer = PipelinedConnection(conn.host, conn.port)
    try:
        assert await killer.call("CLIENT", "KILL", "ID", own_id) == 1
    finally:
        await killer.close()
    # The first call may still meet the dying connection (and fail fast) or already reconnect.
    with contextlib.suppress(PipelinedError):
        await conn.call("PING")
    assert await conn.call("PING") == b"PONG"
    assert await conn.call("CLIENT", "ID") != own_id


async def test_unreachable_server_fails_fast() -> None:
    c = PipelinedConnection("127.0.0.1", servers.free_port(), connect_timeout=2.0)
    with pytest.raises(PipelinedError, match="connect"):
        await c.call("PING")


async def test_no_reply_times_out_and_drops_the_connection() -> None:
    accepted: list[asyncio.StreamWriter] = []

    async def silent(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer)

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    c = PipelinedConnection("127.0.0.1", port, timeout=0.2)
    try:
        with pytest.raises(PipelinedError, match="no reply"):
            await c.call("PING")
        with pytest.raises(PipelinedError, match="no reply"):
            await c.call("PING")  # a new connection, not the dropped one
        assert len(accepted) == 2
    finally:
        await c.close()
        for w in accepted:
            w.close()
        server.close()
        await server.wait_closed()


def test_it_works_on_uvloop(valkey_server: str) -> None:
    """The backends run on uvloop, whose transports are not `asyncio.Transport` instances."""
    url = urlparse(valkey_server)
    assert url.hostname is not None and url.port is not None
    host, port = url.hostname, url.port

    async def main() -> list[object]:
        loop_name = type(asyncio.get_running_loop()).__module__
        c = PipelinedConnection(host, port)
        try:
            await c.call("SET", "mockinfra:test:pipelined:uvloop", "yes", "EX", 60)
            return [loop_name, *await asyncio.gather(*(c.call("PING") for _ in range(3)))]
        finally:
            await c.close()

    assert run_service(main()) == ["uvloop", b"PONG", b"PONG", b"PONG"]
