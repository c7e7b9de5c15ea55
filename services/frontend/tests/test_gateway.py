"""The /api/backend gateway over a fake backend: shapes, headers, and gRPC -> HTTP mapping."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from mockinfra.v1 import faults_pb2

INSTANCE = "fake-1"


def assert_error_body(response: httpx.Response, status: int, code: str | None = None) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()["error"]
    assert set(error) == {"code", "message", "details", "timestamp", "request_id"}
    assert error["request_id"] == response.headers["x-request-id"]
    if code is not None:
        assert error["code"] == code


async def test_data_crud_round_trip(client: httpx.AsyncClient) -> None:
    created = await client.post(
        "/api/backend/data", json={"name": "widget", "value": 12.5, "metadata": {"n": 3}}
    )
    assert created.status_code == 201, created.text
    assert created.headers["x-backend-instance"] == INSTANCE
    item = created.json()
    assert item["name"] == "widget" and item["value"] == 12.5 and item["metadata"] == {"n": 3}
    assert item["created_at"].endswith("Z")

    got = await client.get(f"/api/backend/data/{item['id']}")
    assert got.status_code == 200 and got.json() == item

    updated = await client.put(
        f"/api/backend/data/{item['id']}", json={"value": 99.99, "status": "archived"}
    )
    assert updated.status_code == 200
    assert updated.json()["value"] == 99.99 and updated.json()["status"] == "archived"
    assert updated.json()["name"] == "widget"

    listing = await client.get("/api/backend/data", params={"limit": 10, "nocache": "true"})
    assert listing.status_code == 200
    body = listing.json()
    assert body["total"] == 1 and body["source"] == "cache" and body["data"][0]["id"] == item["id"]
    assert listing.headers["x-backend-instance"] == INSTANCE

    deleted = await client.delete(f"/api/backend/data/{item['id']}")
    assert deleted.json() == {"id": item["id"], "deleted": True}
    gone = await client.get(f"/api/backend/data/{item['id']}")
    assert_error_body(gone, 404, "NOT_FOUND")
    assert gone.headers["x-backend-instance"] == INSTANCE


async def test_status_has_the_seed_shape(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/backend/status")
    assert response.status_code == 200
    body = response.json()
    assert body["instance"] == INSTANCE and body["uptime"] == 12.5
    assert body["connections"]["database"] == {
        "status": "connected",
        "latency": 1.5,
        "pool_size": 10,
        "active_connections": 2,
    }
    assert body["connections"]["cache"] == {
        "status": "connected",
        "latency": 0.3,
        "memory_usage": 1024,
    }
    assert body["metrics"] == {
        "requests_per_minute": 60.0,
        "error_rate": 0.15,
        "average_response_time": 100.0,
    }


async def test_users_pagination(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/backend/users", params={"page": 3, "limit": 20})
    body = response.json()
    assert (body["total"], body["page"], body["limit"]) == (45, 3, 20)
    assert [u["id"] for u in body["users"]] == list(range(41, 46))
    assert body["users"][0]["email"] == "user41@example.com"


async def test_queue_enqueue_and_stats(
    client: httpx.AsyncClient, fake_backend: tuple[Any, str]
) -> None:
    response = await client.post(
        "/api/backend/queue", json={"type": "email", "payload": {"to": 1}, "priority": "high"}
    )
    assert response.status_code == 202
    assert response.json()["queue"] == "high-priority"
    assert fake_backend[0].enqueued[0].payload["to"] == 1
    stats = await client.get("/api/backend/queue/stats")
    assert stats.json()["sizes"] == {"high-priority": 2, "dead-letter": 1}


@pytest.mark.parametrize(
    ("name", "status", "code"),
    [("bad", 400, "INVALID_ARGUMENT"), ("taken", 409, "ALREADY_EXISTS"), ("boom", 502, "INTERNAL")],
)
async def test_grpc_codes_map_to_http(
    client: httpx.AsyncClient, name: str, status: int, code: str
) -> None:
    response = await client.post("/api/backend/data", json={"name": name, "value": 1})
    assert_error_body(response, status, code)
    assert response.headers["x-backend-instance"] == INSTANCE


async def test_injected_backend_error_is_marked(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/backend/data", json={"name": "boom", "value": 1})
    assert response.headers["x-fault-injected"] == "error_rate"
    assert response.json()["error"]["details"]["injected"] == "error_rate"
    plain = await client.post("/api/backend/data", json={"name": "bad", "value": 1})
    assert "x-fault-injected" not in plain.headers


async def test_deadline_exceeded_is_504(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/backend/data/777")
    assert_error_body(response, 504, "DEADLINE_EXCEEDED")


async def test_unreachable_backend_is_503(frontend: Any) -> None:
    client = await frontend("127.0.0.1:1")
    response = await client.get("/api/backend/status")
    assert_error_body(response, 503, "UNAVAILABLE")
    assert "x-backend-instance" not in response.headers


@pytest.mark.parametrize(
    ("kind", "trigger"),
    [
        ("crash", faults_pb2.TRIGGER_TYPE_CRASH),
        ("memory", faults_pb2.TRIGGER_TYPE_MEMORY),
        ("database", faults_pb2.TRIGGER_TYPE_DATABASE),
    ],
)
async def test_fault_triggers(
    client: httpx.AsyncClient, fake_backend: tuple[Any, str], kind: str, trigger: int
) -> None:
    response = await client.get(f"/api/backend/error/{kind}")
    assert response.status_code == 200
    assert response.json() == {"message": "triggered", "instance": INSTANCE}
    assert fake_backend[0].triggered == [trigger]


async def test_timeout_trigger_is_an_injected_504(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/backend/error/timeout")
    assert_error_body(response, 504, "DEADLINE_EXCEEDED")
    assert response.headers["x-fault-injected"] == "timeout"


async def test_frontend_views(client: httpx.AsyncClient) -> None:
    await client.post("/api/backend/data", json={"name": "a", "value": 1})
    data = (await client.get("/api/data")).json()
    assert data["backend"] == INSTANCE and data["total"] == 1 and data["limit"] == 20
    users = (await client.get("/api/users", params={"page": 2})).json()
    assert users["backend"] == INSTANCE and users["page"] == 2
    assert all("email" not in u for u in users["users"])  # the view shows no personal data
