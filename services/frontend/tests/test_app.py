"""Frontend-owned routes: /error/{code}, health, metrics, pages, OpenAPI, fault composition."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from mockinfra.frontend import convert
from mockinfra.frontend.faultpolicy import inject_faults


@pytest.mark.parametrize("code", [404, 500, 502, 503])
async def test_error_endpoint(client: httpx.AsyncClient, code: int) -> None:
    response = await client.get(f"/error/{code}")
    assert response.status_code == code
    assert set(response.json()["error"]) == {
        "code",
        "message",
        "details",
        "timestamp",
        "request_id",
    }
    assert ("x-fault-injected" in response.headers) == (code >= 500)


async def test_error_timeout_waits_then_504(fake_backend: tuple[Any, str], frontend: Any) -> None:
    client = await frontend(fake_backend[1], error_timeout_seconds=0.05)
    response = await client.get("/error/timeout")
    assert response.status_code == 504
    assert response.json()["error"]["code"] == "GATEWAY_TIMEOUT"
    assert response.headers["x-fault-injected"] == "timeout"


async def test_health_reports_the_channel(client: httpx.AsyncClient) -> None:
    await client.get("/api/backend/status")  # the channel connects on first use
    body = (await client.get("/health")).json()
    assert body["status"] == "healthy" and body["service"] == "frontend"
    assert body["backend"]["ready"] is True and body["backend"]["state"] == "ready"


async def test_health_without_backend_is_degraded_not_failed(frontend: Any) -> None:
    client = await frontend("127.0.0.1:1")
    response = await client.get("/health")
    assert response.status_code == 200
    assert response.json()["status"] == "degraded"
    assert response.json()["backend"]["ready"] is False


async def test_metrics_by_route_template(client: httpx.AsyncClient) -> None:
    await client.get("/api/backend/data/12345")
    await client.get("/")
    text = (await client.get("/metrics")).text
    assert 'route="/api/backend/data/{id}"' in text
    assert "12345" not in text
    assert 'page_views_total{instance="frontend",page="home",service="frontend"} 1.0' in text
    assert 'page_views_total{instance="frontend",page="users",service="frontend"} 0.0' in text
    assert 'grpc_client_handled_total{grpc_code="NOT_FOUND"' in text


async def test_pages_render(client: httpx.AsyncClient) -> None:
    await client.post("/api/backend/data", json={"name": "<script>x</script>", "value": 3})
    home = await client.get("/")
    assert home.status_code == 200 and "text/html" in home.headers["content-type"]
    assert "fake-1" in home.text and home.headers["x-backend-instance"] == "fake-1"
    data = await client.get("/data")
    assert "&lt;script&gt;" in data.text and "<script>x" not in data.text  # escaped
    users = await client.get("/users", params={"page": 2})
    assert "user21" in users.text and "@example.com" not in users.text
    assert 'href="/users?page=3"' in users.text


async def test_home_renders_the_outage(frontend: Any) -> None:
    client = await frontend("127.0.0.1:1")
    home = await client.get("/")
    assert home.status_code == 200
    assert "No backend answered" in home.text and "UNAVAILABLE" in home.text
    data = await client.get("/data")
    assert data.status_code == 503 and "text/html" in data.headers["content-type"]


async def test_openapi_document(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    ops = {op["operationId"] for path in spec["paths"].values() for op in path.values()}
    assert {
        "list_data",
        "create_data",
        "get_backend_status",
        "list_users",
        "enqueue_message",
    } <= ops
    assert "/api/backend/data/{id}" in spec["paths"]
    assert (await client.get("/docs")).status_code == 200


async def test_fault_admin_needs_the_token(client: httpx.AsyncClient) -> None:
    assert (await client.get("/admin/faults")).status_code == 401
    ok = await client.get("/admin/faults", headers={"authorization": "Bearer secret-token"})
    assert ok.status_code == 200 and ok.json()["instance"] == "frontend"


def test_fault_policy_covers_frontend_routes_only() -> None:
    assert all(inject_faults(r) for r in ("/", "/data", "/users", "/api/data", "/api/users"))
    assert not any(
        inject_faults(r)
        for r in ("/api/backend/data", "/api/backend/data/{id}", "/health", "/error/{code}")
    )


async def test_frontend_faults_skip_the_gateway(
    fake_backend: tuple[Any, str], frontend: Any
) -> None:
    client = await frontend(fake_backend[1], error_rate=1.0)
    for _ in range(5):
        gateway = await client.get("/api/backend/data")
        assert gateway.status_code == 200
        view = await client.get("/api/data")
        assert view.status_code in {500, 502, 503}
        assert view.headers["x-fault-injected"] == "error_rate"


def test_struct_conversion_keeps_json_types() -> None:
    from mockinfra.frontend.client import to_struct

    value = {"n": 3, "f": 2.5, "s": "x", "b": True, "z": None, "l": [1, {"k": [2.0]}]}
    assert convert.struct(to_struct(value)) == {
        "n": 3, "f": 2.5, "s": "x", "b": True, "z": None, "l": [1, {"k": [2]}],
    }  # fmt: skip
