"""Bad input gets a 4xx with the seed's JSON error body, never a 500."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

MIB = 1024 * 1024


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["error"]
    assert set(error) == {"code", "message", "details", "timestamp", "request_id"}
    assert error["code"] == code
    return error


@pytest.mark.parametrize(
    ("method", "url", "kwargs"),
    [
        ("POST", "/api/backend/data", {"json": {"name": "x"}}),  # missing value
        ("POST", "/api/backend/data", {"json": {"name": 5, "value": 1}}),  # wrong type
        ("POST", "/api/backend/data", {"json": {"name": "x", "value": "12"}}),  # no coercion
        ("POST", "/api/backend/data", {"json": {"name": "", "value": 1}}),
        ("POST", "/api/backend/data", {"json": {"name": "x", "value": 1e12}}),
        ("POST", "/api/backend/data", {"json": {"name": "x", "value": 1, "extra": 1}}),
        ("POST", "/api/backend/data", {"json": ["not", "an", "object"]}),
        ("POST", "/api/backend/data", {"json": {"name": "x", "value": 1, "metadata": [1]}}),
        ("PUT", "/api/backend/data/1", {"json": {"value": None, "status": 3}}),
        ("GET", "/api/backend/data", {"params": {"limit": -1}}),
        ("GET", "/api/backend/data", {"params": {"limit": 0}}),
        ("GET", "/api/backend/data", {"params": {"limit": 100000}}),
        ("GET", "/api/backend/data", {"params": {"offset": -5}}),
        ("GET", "/api/backend/data", {"params": {"limit": "ten"}}),
        ("GET", "/api/backend/data", {"params": {"nocache": "perhaps"}}),
        ("GET", "/api/backend/data/abc", {}),
        ("GET", "/api/backend/data/-3", {}),
        ("GET", "/api/backend/data/99999999999999999999999", {}),
        ("GET", "/api/backend/users", {"params": {"page": 0}}),
        ("GET", "/api/backend/users", {"params": {"page": -1}}),
        ("GET", "/api/backend/users", {"params": {"page": 10**9}}),
        ("GET", "/api/backend/users", {"params": {"limit": 1000}}),
        ("POST", "/api/backend/queue", {"json": {"type": "t", "priority": "urgent"}}),
        ("POST", "/api/backend/queue", {"json": {"type": "", "priority": "high"}}),
        ("GET", "/api/backend/error/everything", {}),
        ("GET", "/api/users", {"params": {"page": "x"}}),
    ],
)
async def test_validation_errors_are_422(
    client: httpx.AsyncClient, method: str, url: str, kwargs: dict[str, Any]
) -> None:
    response = await client.request(method, url, **kwargs)
    error = assert_error(response, 422, "VALIDATION_ERROR")
    assert error["details"]["errors"], "the failing fields are listed"


@pytest.mark.parametrize(
    "body", [b"{not json", b'{"name": "x", "value": 1', b"\xff\xfe", b'{"a":1}garbage']
)
async def test_malformed_json_is_422(client: httpx.AsyncClient, body: bytes) -> None:
    response = await client.post(
        "/api/backend/data", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] in {"INVALID_JSON", "VALIDATION_ERROR"}


async def test_huge_body_with_length_is_413(client: httpx.AsyncClient) -> None:
    body = b'{"name": "' + b"x" * (2 * MIB) + b'", "value": 1}'
    response = await client.post(
        "/api/backend/data", content=body, headers={"content-type": "application/json"}
    )
    assert_error(response, 413, "PAYLOAD_TOO_LARGE")


async def test_huge_chunked_body_is_413_without_reading_it_all(client: httpx.AsyncClient) -> None:
    sent = 0

    async def chunks() -> AsyncIterator[bytes]:
        nonlocal sent
        yield b'{"name": "'
        for _ in range(64):  # 4 MiB offered, the limit is 1 MiB
            sent += 1
            yield b"x" * (64 * 1024)

    response = await client.post(
        "/api/backend/data", content=chunks(), headers={"content-type": "application/json"}
    )
    assert_error(response, 413, "PAYLOAD_TOO_LARGE")
    assert sent < 64, "the body is cut off at the limit, not read to the end"


async def test_unknown_route_and_method(client: httpx.AsyncClient) -> None:
    assert_error(await client.get("/api/backend/nothing-here"), 404, "NOT_FOUND")
    response = await client.patch("/api/backend/data")
    assert_error(response, 405, "METHOD_NOT_ALLOWED")
    assert "allow" in response.headers


@pytest.mark.parametrize("code", ["418", "teapot", "5000", "%20"])
async def test_unknown_error_code_is_400(client: httpx.AsyncClient, code: str) -> None:
    error = assert_error(await client.get(f"/error/{code}"), 400, "BAD_REQUEST")
    assert "timeout" in error["details"]["supported"]
