"""The alert receiver: storage and filters, bad input, and forwarding with retries."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from mockinfra.alertsink.app import create_app
from mockinfra.alertsink.config import Settings
from mockinfra.alertsink.schemas import WebhookPayload
from mockinfra.alertsink.store import AlertStore
from mockinfra.common.runtime import Runtime


def notification(
    status: str = "firing", alertname: str = "BackendHighErrorRate", instance: str = "backend-2"
) -> dict[str, Any]:
    return {
        "version": "4",
        "groupKey": f'{{}}:{{alertname="{alertname}"}}',
        "status": status,
        "receiver": "alertsink",
        "groupLabels": {"alertname": alertname},
        "commonLabels": {"alertname": alertname},
        "commonAnnotations": {},
        "externalURL": "http://127.0.0.1:9093",
        "alerts": [
            {
                "status": status,
                "labels": {
                    "alertname": alertname,
                    "instance": instance,
                    "service": "backend",
                    "severity": "warning",
                },
                "annotations": {"summary": "High error rate", "runbook_url": "file:///x.md"},
                "startsAt": "2026-01-01T10:00:00Z",
                "endsAt": "0001-01-01T00:00:00Z" if status == "firing" else "2026-01-01T10:05:00Z",
                "generatorURL": "http://127.0.0.1:9090/graph",
                "fingerprint": "abc123",
            }
        ],
    }


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[AlertStore]:
    s = await AlertStore.open(tmp_path / "alerts.db")
    yield s
    await s.close()


async def test_store_lists_newest_first_and_filters(store: AlertStore) -> None:
    await store.add(WebhookPayload.model_validate(notification("firing", "A", "backend-1")))
    await store.add(WebhookPayload.model_validate(notification("firing", "B", "backend-2")))
    await store.add(WebhookPayload.model_validate(notification("resolved", "A", "backend-1")))

    every = await store.list()
    assert [(a.alertname, a.status) for a in every] == [
        ("A", "resolved"),
        ("B", "firing"),
        ("A", "firing"),
    ]
    assert [a.status for a in await store.list(alertname="A")] == ["resolved", "firing"]
    assert [a.alertname for a in await store.list(status="firing")] == ["B", "A"]
    assert [a.alertname for a in await store.list(instance="backend-2")] == ["B"]
    assert len(await store.list(limit=1)) == 1
    first = every[0]
    assert first.labels["severity"] == "warning" and first.service == "backend"
    assert first.annotations["summary"] == "High error rate"
    assert first.fingerprint == "abc123" and first.receiver == "alertsink"


async def test_store_since_and_durability(tmp_path: Path) -> None:
    path = tmp_path / "alerts.db"
    first = await AlertStore.open(path)
    old = datetime.now(UTC) - timedelta(hours=1)
    await first.add(WebhookPayload.model_validate(notification(alertname="Old")), received_at=old)
    await first.add(WebhookPayload.model_validate(notification(alertname="New")))
    await first.close()

    reopened = await AlertStore.open(path)
    try:
        assert {a.alertname for a in await reopened.list()} == {"Old", "New"}
        recent = await reopened.list(since=datetime.now(UTC) - timedelta(minutes=5))
        assert [a.alertname for a in recent] == ["New"]
    finally:
        await reopened.close()


def _settings(tmp_path: Path, **extra: Any) -> Settings:
    return Settings(database_path=tmp_path / "alerts.db", state_dir=tmp_path, **extra)


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(Runtime.create(_settings(tmp_path), configure_log=False))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://sink") as c:
            yield c


async def test_webhook_stores_and_lists(client: httpx.AsyncClient) -> None:
    resp = await client.post("/webhook", json=notification())
    assert resp.status_code == 200
    assert resp.json() == {"stored": 1, "forwarded": False}
    await client.post("/webhook", json=notification("resolved"))

    listed = (await client.get("/alerts", params={"status": "firing"})).json()
    assert listed["count"] == 1
    alert = listed["alerts"][0]
    assert alert["alertname"] == "BackendHighErrorRate" and alert["instance"] == "backend-2"
    both = (await client.get("/alerts", params={"alertname": "BackendHighErrorRate"})).json()
    assert [a["status"] for a in both["alerts"]] == ["resolved", "firing"]
    none = (await client.get("/alerts", params={"instance": "backend-1"})).json()
    assert none == {"alerts": [], "count": 0}

    metrics = (await client.get("/metrics")).text
    series = 'alertsink_alerts_received_total{instance="alertsink",service="alertsink"'
    assert f'{series},status="firing"}} 1.0' in metrics


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"{not json", "INVALID_JSON"),
        (b'{"status": "firing", "alerts": []}', "VALIDATION_ERROR"),
        (
            b'{"status": "burning", "alerts": [{"status": "firing", "labels": {},'
            b' "startsAt": "2026-01-01T00:00:00Z"}]}',
            "VALIDATION_ERROR",
        ),
        (
            b'{"status": "firing", "alerts": [{"status": "firing", "labels": {"a": 1},'
            b' "startsAt": "x"}]}',
            "VALIDATION_ERROR",
        ),
    ],
)
async def test_bad_webhook_input_is_a_4xx_with_the_error_body(
    client: httpx.AsyncClient, body: bytes, code: str
) -> None:
    resp = await client.post("/webhook", content=body, headers={"content-type": "application/json"})
    assert resp.status_code == 422
    error = resp.json()["error"]
    assert error["code"] == code
    assert set(error) == {"code", "message", "details", "timestamp", "request_id"}
    assert (await client.get("/alerts")).json()["count"] == 0


async def test_bad_list_query_is_a_4xx(client: httpx.AsyncClient) -> None:
    for params in ({"status": "burning"}, {"limit": "0"}, {"since": "yesterday"}):
        resp = await client.get("/alerts", params=params)
        assert resp.status_code == 422, params
        assert resp.json()["error"]["code"] == "VALIDATION_ERROR"


class Downstream:
    """A real HTTP server that fails the first `failures` posts with 503."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.received: list[dict[str, Any]] = []
        self.attempts = 0
        self.done = asyncio.Event()
        app = FastAPI()

        @app.post("/hook")
        async def hook(request: Request) -> Response:
            self.attempts += 1
            if self.attempts <= self.failures:
                return Response(status_code=503)
            self.received.append(await request.json())
            self.done.set()
            return JSONResponse({"ok": True})

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=self.port, log_config=None, lifespan="off")
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"


@pytest.fixture
async def downstream(request: pytest.FixtureRequest) -> AsyncIterator[Downstream]:
    ds = Downstream(failures=request.param)
    task = asyncio.create_task(ds.server.serve())
    async with asyncio.timeout(10):
        while not ds.server.started:  # noqa: ASYNC110 (uvicorn offers a flag, not an event)
            await asyncio.sleep(0.01)
    yield ds
    ds.server.should_exit = True
    await asyncio.wait_for(task, 10)


async def _sink(tmp_path: Path, url: str, attempts: int) -> tuple[FastAPI, Runtime]:
    settings = _settings(
        tmp_path, forward_url=url, forward_attempts=attempts, forward_backoff_max_seconds=0.05
    )
    rt = Runtime.create(settings, configure_log=False)
    return create_app(rt), rt


@pytest.mark.parametrize("downstream", [2], indirect=True)
async def test_forward_retries_until_the_downstream_accepts(
    tmp_path: Path, downstream: Downstream
) -> None:
    app, rt = await _sink(tmp_path, downstream.url, attempts=5)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://sink") as c:
            resp = await c.post("/webhook", json=notification())
            assert resp.json() == {"stored": 1, "forwarded": True}
            await asyncio.wait_for(downstream.done.wait(), 10)
    assert downstream.attempts == 3
    assert downstream.received[0]["alerts"][0]["labels"]["instance"] == "backend-2"
    assert downstream.received[0]["groupKey"].startswith("{}")
    text = rt.metrics.expose()[0].decode()
    assert 'outcome="retried",service="alertsink"} 2.0' in text
    assert 'outcome="forwarded",service="alertsink"} 1.0' in text


@pytest.mark.parametrize("downstream", [100], indirect=True)
async def test_forward_gives_up_after_the_bounded_attempts(
    tmp_path: Path, downstream: Downstream
) -> None:
    app, rt = await _sink(tmp_path, downstream.url, attempts=3)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://sink") as c:
            assert (await c.post("/webhook", json=notification())).status_code == 200
            # The webhook answered; the forward keeps going in the background.
            forwarder = app.state.forwarder
            await forwarder.drain(10)
    assert downstream.attempts == 3
    assert downstream.received == []
    assert 'outcome="failed",service="alertsink"} 1.0' in rt.metrics.expose()[0].decode()
