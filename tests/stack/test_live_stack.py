"""The whole stack, real processes, standard ports (issue 3's acceptance tests).

Uses the session's live stack (tests/conftest.py: quiet fault profile, fast rules). The tests
that take it down bring it back up, so the order of the other stack-level tests does not matter.
Under the quiet profile each instance injects about 1% errors; such responses carry
`X-Fault-Injected` and are told apart from real failures.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import ssl
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from mockinfra.common import topology
from mockinfra.common.gc_tuning import YOUNG_THRESHOLD
from mockinfra.stack import logrotate, ports, readiness
from mockinfra.stack.report import process_tree
from mockinfra.stack.state import State
from mockinfra.stack.supervisor import Supervisor

pytestmark = [pytest.mark.stack, pytest.mark.integration]

NGINX = topology.url("nginx")
INSTANCE_HEADER = "x-backend-instance"
INJECTED_HEADER = "x-fault-injected"


def _supervisor(stack: Any) -> Supervisor:
    return Supervisor(State(Path(stack.state_dir)))


def _injected(resp: httpx.Response) -> bool:
    return resp.status_code >= 500 and INJECTED_HEADER in resp.headers


async def _instances(client: httpx.AsyncClient, n: int) -> tuple[Counter[str], list[int]]:
    """Who answered `n` backend calls through nginx, and the status of real failures."""
    seen: Counter[str] = Counter()
    failures: list[int] = []
    for _ in range(n):
        resp = await client.get(f"{NGINX}/api/backend/status")
        if resp.status_code == 200:
            seen[resp.headers[INSTANCE_HEADER]] += 1
        elif not _injected(resp):
            failures.append(resp.status_code)
    return seen, failures


async def test_requests_through_nginx_reach_both_backends(stack: Any) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        seen, failures = await _instances(client, 40)
    assert set(seen) == set(topology.BACKEND_INSTANCES), seen
    assert failures == []


async def test_nginx_answers_health_headers_and_tls(stack: Any) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        health = await client.get(f"{NGINX}/health")
        assert health.json()["service"] == "nginx"
        resp = await client.get(f"{NGINX}/api/data", headers={"X-Request-ID": "test-req-42"})
        status = await client.get(f"{NGINX}/nginx_status")
    assert resp.headers["x-request-id"] == "test-req-42"
    for header in ("x-content-type-options", "x-frame-options", "content-security-policy",
                   "referrer-policy", "x-request-time", "x-upstream-response-time"):  # fmt: skip
        assert header in resp.headers, header
    float(resp.headers["x-upstream-response-time"])  # a time in seconds, not nginx's "-"
    assert "Active connections" in status.text
    cert = Path(stack.state_dir) / "tls" / "cert.pem"
    https = f"https://{topology.HOST}:{topology.component('nginx').extra_ports['https']}"
    trust = ssl.create_default_context(cafile=str(cert))
    async with httpx.AsyncClient(verify=trust, timeout=10) as tls_client:
        secure = await tls_client.get(f"{https}/health")
    assert secure.status_code == 200
    assert secure.headers["strict-transport-security"].startswith("max-age=")


async def test_prometheus_reports_every_target_up(stack: Any) -> None:
    expected = {
        topology.EXPORTS.get(c.name, c.name)
        for c in topology.COMPONENTS
        if c.scraped and not c.optional
    }
    url = f"{topology.url('prometheus')}/api/v1/query"
    health: dict[str, str] = {}
    async with httpx.AsyncClient(timeout=10) as client:
        # The first scrapes happen within one 15 s interval of the start; bounded wait.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            result = (await client.get(url, params={"query": "up"})).json()["data"]["result"]
            health = {r["metric"]["instance"]: r["value"][1] for r in result}
            if expected <= set(health) and all(v == "1" for v in health.values()):
                break
            await asyncio.sleep(1)
    assert expected <= set(health), health
    assert all(v == "1" for v in health.values()), health
    for instance in topology.BACKEND_INSTANCES:
        assert instance in health  # each backend instance is its own target


def test_services_run_with_the_tuned_garbage_collector(stack: Any) -> None:
    """Each Python service's entry point calls `tune_gc` once its app is built, which logs
    what it set (common/gc_tuning.py)."""
    state = State(Path(stack.state_dir))
    for name in ("frontend", *topology.BACKEND_INSTANCES, "alertsink"):
        log = state.log_file(name)
        # Oldest first: the line is written at start, and the log may have been rotated since.
        rotated = [p for p in log.parent.glob(f"{log.name}.*") if p.suffix[1:].isdigit()]
        rotated.sort(key=lambda p: int(p.suffix[1:]), reverse=True)
        lines = [
            json.loads(line)
            for path in (*rotated, log)
            for line in path.read_text().splitlines()
            if '"logger":"mockinfra.gc"' in line
        ]
        assert lines, f"no garbage collector line in {name}'s log"
        assert lines[-1]["gc_thresholds"][0] == YOUNG_THRESHOLD, lines[-1]
        assert lines[-1]["gc_frozen"] > 10_000, lines[-1]  # the app's modules and routes


async def test_webhook_receiver_accepts_and_lists_an_alert(stack: Any) -> None:
    sink = topology.url("alertsink")
    name = f"StackTestAlert{os.getpid()}"
    payload = {
        "version": "4",
        "status": "firing",
        "receiver": "alertsink",
        "alerts": [
            {
                "status": "firing",
                "labels": {"alertname": name, "instance": "backend-2", "severity": "warning"},
                "annotations": {"summary": "test"},
                "startsAt": "2026-01-01T00:00:00Z",
                "fingerprint": "f00",
            }
        ],
    }
    async with httpx.AsyncClient(timeout=10) as client:
        assert (await client.post(f"{sink}/webhook", json=payload)).status_code == 200
        bad = await client.post(f"{sink}/webhook", json={"alerts": "nope"})
        listed = (await client.get(f"{sink}/alerts", params={"alertname": name})).json()
    assert bad.status_code == 422
    assert [a["instance"] for a in listed["alerts"]] == ["backend-2"]


async def test_killed_backend_is_bypassed_and_restarted(stack: Any) -> None:
    sup = _supervisor(stack)
    before = await sup.info("backend-1")
    assert before.state == "RUNNING"
    os.kill(before.pid, signal.SIGKILL)
    async with httpx.AsyncClient(timeout=10) as client:
        seen, failures = await _instances(client, 30)
        # A call already in flight on the killed process may fail; nginx retries the rest.
        assert len(failures) <= 1, failures
        assert seen["backend-2"] >= 25, seen
        deadline = time.monotonic() + 10
        ok = False
        while time.monotonic() < deadline:
            info = await sup.info("backend-1")
            ok, _ = await readiness.check("backend-1")
            if ok and info.pid != before.pid:
                break
            await asyncio.sleep(0.2)
    assert ok, "backend-1 did not come back within 10 s"


async def test_crash_trigger_comes_back_by_itself(stack: Any) -> None:
    sup = _supervisor(stack)
    before = {name: (await sup.info(name)).pid for name in topology.BACKEND_INSTANCES}
    async with httpx.AsyncClient(timeout=20) as client:
        await client.get(f"{NGINX}/api/backend/error/crash")  # the answering backend exits
    deadline = time.monotonic() + 10
    restarted: list[str] = []
    while time.monotonic() < deadline:
        now = {name: (await sup.info(name)).pid for name in topology.BACKEND_INSTANCES}
        restarted = [n for n in now if now[n] not in (0, before[n])]
        checks = [await readiness.check(n) for n in topology.BACKEND_INSTANCES]
        if restarted and all(ok for ok, _ in checks):
            break
        await asyncio.sleep(0.2)
    assert len(restarted) == 1, f"no backend restarted within 10 s: {before}"
    assert all(ok for ok, _ in checks)


def _pids(stack: Any) -> dict[str, int]:
    sup = _supervisor(stack)
    return {name: info.pid for name, info in asyncio.run(sup.processes()).items()}


def test_second_up_changes_nothing(stack: Any) -> None:
    before = _pids(stack)
    result = stack.up()
    assert "nothing changed" in result.stdout
    assert _pids(stack) == before


def test_logs_and_restart_one_component(stack: Any) -> None:
    lines = stack.run("logs", "alertsink", "--no-follow", "-n", "3").stdout.splitlines()
    assert 0 < len(lines) <= 3
    before = _pids(stack)["alertsink"]
    stack.run("restart", "alertsink")
    assert _pids(stack)["alertsink"] != before
    assert stack.run("health").returncode == 0


def test_nginx_access_lines_reach_its_log_as_json(stack: Any) -> None:
    """nginx's buffered access log (flushed at least once a second) has whole JSON lines."""
    log = State(Path(stack.state_dir)).log_file("nginx")
    ids = [f"nginx-log-test-{os.getpid()}-{i}" for i in range(20)]
    for rid in ids:
        # A path nobody serves: the frontend's 404, and nginx's line for it.
        httpx.get(f"{NGINX}/nginx-log-test", headers={"X-Request-ID": rid}, timeout=10)
    found: dict[str, dict[str, Any]] = {}
    deadline = time.monotonic() + 10
    while len(found) < len(ids) and time.monotonic() < deadline:
        time.sleep(0.5)
        for line in log.read_text().splitlines():
            if "nginx-log-test-" in line:
                entry = json.loads(line)  # whole lines: the workers' writes never interleave
                found[entry["request_id"]] = entry
    assert set(ids) <= set(found)
    assert {(found[rid]["uri"], found[rid]["status"]) for rid in ids} == {("/nginx-log-test", 404)}
    assert all(found[rid]["service"] == "nginx" for rid in ids)


def test_log_rotation_listener_runs_beside_the_components(stack: Any) -> None:
    """supervisord runs the listener that rotates nginx's own logs (tests/stack/test_logrotate.py
    drives it); it is not a component, so `status` and the component list leave it out."""
    sup = _supervisor(stack)
    info = asyncio.run(sup.call("getProcessInfo", logrotate.NAME))
    assert info["statename"] == "RUNNING"
    assert logrotate.NAME not in asyncio.run(sup.processes())
    assert logrotate.NAME not in stack.run("status").stdout


def _stack_processes(stack: Any) -> list[psutil.Process]:
    return process_tree(_supervisor(stack).pid() or 0)


def _call(method: str, path: str, **kwargs: Any) -> httpx.Response:
    """One call through nginx, repeated (at most 5 times) only while the failure is injected."""
    for _ in range(5):
        resp = httpx.request(method, f"{NGINX}{path}", timeout=10, **kwargs)
        if not _injected(resp):
            return resp
    return resp


def test_down_frees_everything_and_up_refuses_a_taken_port(stack: Any) -> None:
    name = f"survives-down-{os.getpid()}"
    created = _call("POST", "/api/backend/data", json={"name": name, "value": 1.5})
    assert created.status_code == 201, created.text
    processes = _stack_processes(stack)
    assert len(processes) > len(topology.COMPONENTS) // 2
    stack.down()
    alive = [p for p in processes if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert alive == []
    every = ports.stack_ports(c.name for c in topology.COMPONENTS)
    assert ports.busy(every) == []

    http = topology.component("nginx").port
    with socket.socket() as blocker:
        # Like any server: the port may still have TIME_WAIT connections from the tests above.
        blocker.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        blocker.bind((topology.HOST, http))
        blocker.listen()
        result = stack.run("up", check=False)
        assert result.returncode != 0
        assert f"port {http}" in result.stderr
        assert str(os.getpid()) in result.stderr  # names the process holding it
        assert _supervisor(stack).pid() is None  # nothing was started
    stack.up()  # the other stack-level tests expect it up
    kept = _call("GET", f"/api/backend/data/{created.json()['id']}")
    assert kept.status_code == 200 and kept.json()["name"] == name  # PostgreSQL data survived
