"""Frontend -> gRPC -> real backend -> real PostgreSQL and Valkey (fixtures from conftest.py).

The frontend runs in-process (httpx.ASGITransport, lifespan entered) against a backend started
by `backend_server` on a free port, so every gateway call crosses a real gRPC channel.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from functools import partial
from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry

from mockinfra.common.profiles import ProfileName
from mockinfra.common.runtime import Runtime
from mockinfra.frontend.app import create_app
from mockinfra.frontend.config import Settings

pytestmark = pytest.mark.integration

Frontend = Callable[..., Awaitable[httpx.AsyncClient]]
ERROR_KEYS = {"code", "message", "details", "timestamp", "request_id"}
JSON = {"content-type": "application/json"}
PRIORITIES = ("high", "medium", "low")


@pytest.fixture
async def frontend() -> AsyncIterator[Frontend]:
    """Factory: `await frontend(target, **settings)` -> a client on a started frontend app."""
    started: list[tuple[Any, httpx.AsyncClient]] = []

    async def factory(target: str, **overrides: Any) -> httpx.AsyncClient:
        settings = Settings(
            profile=ProfileName.OFF, backend_target=target, fault_seed=11, **overrides
        )
        rt = Runtime.create(settings, configure_log=False, registry=CollectorRegistry())
        app = create_app(rt)
        lifespan = app.router.lifespan_context(app)
        await lifespan.__aenter__()
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://frontend.test"
        )
        started.append((lifespan, client))
        return client

    yield factory
    for lifespan, client in reversed(started):
        await client.aclose()
        await lifespan.__aexit__(None, None, None)


async def in_batches(
    calls: list[Callable[[], Awaitable[httpx.Response]]], size: int = 25
) -> list[httpx.Response]:
    """Run the calls `size` at a time (bounded concurrency, bounded count)."""
    out: list[httpx.Response] = []
    for i in range(0, len(calls), size):
        out.extend(await asyncio.gather(*(call() for call in calls[i : i + size])))
    return out


async def test_no_errors_across_the_api_when_rates_are_zero(
    backend_server: Any, frontend: Frontend
) -> None:
    backend = await backend_server(error_rate=0.0, instance="backend-it")
    client = await frontend(backend.target, error_rate=0.0)
    responses: list[httpx.Response] = []

    created = await in_batches(
        [
            partial(
                client.post,
                "/api/backend/data",
                json={"name": f"it-item-{i}", "value": i + 0.25, "metadata": {"i": i}},
            )
            for i in range(40)
        ]
    )
    responses += created
    ids = [r.json()["id"] for r in created]
    assert [r.json()["metadata"] for r in created] == [{"i": i} for i in range(40)]

    calls: list[Callable[[], Awaitable[httpx.Response]]] = []
    for n, item_id in enumerate(ids):
        calls += [
            partial(client.get, f"/api/backend/data/{item_id}"),
            partial(
                client.put,
                f"/api/backend/data/{item_id}",
                json={"value": n * 2.5, "status": "archived"},
            ),
            partial(client.get, "/api/backend/data", params={"limit": 20, "offset": n}),
            partial(client.get, "/api/backend/data", params={"nocache": "true", "limit": 5}),
            partial(client.get, "/api/backend/users", params={"page": 1 + n % 3, "limit": 5}),
            partial(
                client.post,
                "/api/backend/queue",
                json={"type": "it", "payload": {"n": n}, "priority": PRIORITIES[n % 3]},
            ),
        ]
    calls += [partial(client.get, "/api/backend/status")] * 10
    calls += [partial(client.get, "/api/backend/queue/stats")] * 10
    calls += [partial(client.get, "/api/data"), partial(client.get, "/api/users")] * 10
    calls += [partial(client.get, page) for page in ("/", "/data", "/users")] * 5
    responses += await in_batches(calls)
    responses += await in_batches(
        [partial(client.delete, f"/api/backend/data/{item_id}") for item_id in ids]
    )

    assert len(responses) >= 300
    failed = [
        (r.request.method, r.request.url.path, r.status_code) for r in responses if r.is_error
    ]
    assert failed == []
    gateway = [r for r in responses if r.request.url.path.startswith("/api/backend/")]
    assert {r.headers.get("x-backend-instance") for r in gateway} == {"backend-it"}

    status = (await client.get("/api/backend/status")).json()
    assert status["instance"] == "backend-it"
    assert status["connections"]["database"]["status"] == "connected"
    assert status["connections"]["cache"]["status"] == "connected"
    gone = await client.get(f"/api/backend/data/{ids[0]}")
    assert gone.status_code == 404 and set(gone.json()["error"]) == ERROR_KEYS
    assert gone.headers["x-backend-instance"] == "backend-it"


async def test_backend_error_rate_is_what_nginx_would_see(
    backend_server: Any, frontend: Frontend
) -> None:
    """Backend at 15% and the frontend's own rate at 0: the gateway adds and hides nothing."""
    backend = await backend_server(error_rate=0.15, seed=7, instance="backend-it")
    client = await frontend(backend.target, error_rate=0.0)
    responses = await in_batches(
        [partial(client.get, "/api/backend/data", params={"limit": 10})] * 2000
    )
    errors = [r for r in responses if r.is_error]
    fraction = len(errors) / len(responses)
    assert 0.12 <= fraction <= 0.18, fraction
    assert {r.status_code for r in errors} <= {502, 503, 504}
    assert all(r.headers.get("x-fault-injected") == "error_rate" for r in errors)
    assert all(r.headers.get("x-backend-instance") == "backend-it" for r in responses)
    assert all(set(r.json()["error"]) == ERROR_KEYS for r in errors)


async def test_frontend_rate_applies_to_its_own_routes_only(
    backend_server: Any, frontend: Frontend
) -> None:
    backend = await backend_server(error_rate=0.0, instance="backend-it")
    client = await frontend(backend.target, error_rate=0.5)
    gateway = await in_batches([partial(client.get, "/api/backend/data")] * 100)
    views = await in_batches([partial(client.get, "/api/data")] * 200)
    assert not any(r.is_error for r in gateway)
    view_errors = [r for r in views if r.is_error]
    assert 60 <= len(view_errors) <= 140  # 50% of 200, with a wide margin for a fixed seed
    assert all(r.headers.get("x-fault-injected") == "error_rate" for r in view_errors)


@pytest.mark.parametrize(
    ("method", "url", "kwargs", "status"),
    [
        ("POST", "/api/backend/data", {"content": b"{oops", "headers": JSON}, 422),
        ("POST", "/api/backend/data", {"json": {"name": ["x"], "value": 1}}, 422),
        ("POST", "/api/backend/data", {"content": b"x" * (2 * 1024 * 1024), "headers": JSON}, 413),
        ("GET", "/api/backend/data", {"params": {"limit": -1}}, 422),
        ("GET", "/api/backend/users", {"params": {"page": 0}}, 422),
        ("GET", "/api/backend/data/987654321", {}, 404),
        ("PUT", "/api/backend/data/987654321", {"json": {"value": 1}}, 404),
        ("DELETE", "/api/backend/data/987654321", {}, 404),
        ("POST", "/api/backend/queue", {"json": {"type": "t", "priority": "urgent"}}, 422),
        ("GET", "/error/teapot", {}, 400),
    ],
)  # fmt: skip
async def test_bad_input_is_a_4xx_with_the_json_error_body(
    backend_server: Any,
    frontend: Frontend,
    method: str,
    url: str,
    kwargs: dict[str, Any],
    status: int,
) -> None:
    backend = await backend_server(error_rate=0.0, instance="backend-it")
    client = await frontend(backend.target, error_rate=0.0)
    response = await client.request(method, url, **kwargs)
    assert response.status_code == status, response.text
    assert set(response.json()["error"]) == ERROR_KEYS
