"""Chaos on the live stack (issue 6's acceptance tests), through the real runner.

Uses the session's shared stack (tests/conftest.py: quiet fault profile, fast rules). Scenarios
run as `python -m mockinfra.chaos` subprocesses with a short hold: the fast rules profile decides
how long an alert takes to fire and resolve. Every run must leave the stack as it found it, so
each test ends by checking no fault is active and every supervised program is RUNNING.
"""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any, Final

import grpc
import httpx
import pytest

from mockinfra.chaos import actions, groundtruth
from mockinfra.chaos.components import SupervisorComponents
from mockinfra.chaos.control import (
    FAULT_INSTANCES,
    RemoteFaultControl,
    UnauthenticatedError,
)
from mockinfra.common import topology
from mockinfra.common.faults import FaultKind
from mockinfra.stack.state import State
from mockinfra.v1 import faults_pb2, faults_pb2_grpc

pytestmark = [pytest.mark.stack, pytest.mark.integration]

HOLD: Final = "10"  # seconds: detection is what a test checks, not a long hold
# Detect and resolve waits. Generous: the machine has 2 cores shared with other test runs.
WAIT: Final = "150"
RUN_TIMEOUT: Final = 480.0  # a whole subprocess run: health, detect, hold, resolve, health
# Host-wide alerts: on a shared machine other tenants' load can raise them during any run.
HOST_ALERTS: Final = frozenset({"NodeHighCpuUsage", "NodeHighMemoryUsage"})
CHAOS: Final = (sys.executable, "-m", "mockinfra.chaos")


def _state(stack: Any) -> State:
    return State(Path(stack.state_dir))


def _chaos(
    stack: Any, tmp_path: Path, *args: str, timeout: float = RUN_TIMEOUT
) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    """Run one scenario; returns the process and its ground-truth record (`--json`)."""
    record_path = tmp_path / "record.json"
    result = subprocess.run(
        [*CHAOS, *args, "--runs-dir", str(tmp_path / "runs"), "--json", str(record_path)],
        env=stack.env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert record_path.is_file(), f"no record\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    record: dict[str, Any] = json.loads(record_path.read_text())
    groundtruth.validate_record(record)
    # The runs folder holds the same record under its run id.
    assert (tmp_path / "runs" / f"{record['run_id']}.json").read_text() == (record_path.read_text())
    return result, record


async def _active_faults(stack: Any) -> dict[str, list[str]]:
    """Every instance's active fault kinds, through ListFaults / GET /admin/faults."""
    control = RemoteFaultControl(load_token_for(stack))
    try:
        return {n: [f.kind for f in await control.list(n)] for n in FAULT_INSTANCES}
    finally:
        await control.aclose()


def load_token_for(stack: Any) -> str:
    token = (_state(stack).fault_token_file).read_text(encoding="utf-8").strip()
    assert token
    return token


async def _not_running(stack: Any) -> dict[str, str]:
    components = SupervisorComponents(_state(stack))
    states = {n: await components.state(n) for n in await components.names()}
    return {n: s for n, s in states.items() if s != "RUNNING"}


async def _assert_clean(stack: Any) -> None:
    """No fault on any instance and every supervised program RUNNING."""
    assert await _active_faults(stack) == {n: [] for n in FAULT_INSTANCES}
    assert await _not_running(stack) == {}


def _assert_detected_and_resolved(
    record: dict[str, Any], result: subprocess.CompletedProcess[str]
) -> None:
    output = f"{result.stdout[-4000:]}\n{result.stderr[-2000:]}"
    assert result.returncode == 0, output
    assert record["outcome"] == {"status": "passed", "reasons": []}, output
    stamps = {k: groundtruth_time(v) for k, v in record["timestamps"].items()}
    assert stamps["start"] <= stamps["injected"] <= stamps["recovered"] <= stamps["end"]
    observed = {a["name"]: a for a in record["observed_alerts"]}
    for name in record["expected_alerts"]:
        alert = observed[name]
        assert alert["expected"] is True
        assert alert["resolved_at"] is not None, alert
        assert groundtruth_time(alert["fired_at"]) < groundtruth_time(alert["resolved_at"])
        ttd = record["time_to_detect_seconds"][name]
        assert ttd is not None and ttd >= 0
        assert ttd == pytest.approx(
            (groundtruth_time(alert["fired_at"]) - stamps["injected"]).total_seconds(), abs=0.01
        )
    assert all(a["resolved_at"] is not None for a in record["observed_alerts"]), record


def groundtruth_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@pytest.mark.timeout(600)
@pytest.mark.parametrize(
    ("scenario", "instance"),
    [
        ("backend-error-surge", "backend-2"),
        ("cache-down", "valkey"),
        ("backend-crash", "backend-1"),
    ],
)
async def test_scenario_fires_resolves_and_records_ground_truth(
    stack: Any, tmp_path: Path, scenario: str, instance: str
) -> None:
    result, record = await asyncio.to_thread(
        _chaos, stack, tmp_path, scenario, "--hold", HOLD, "--timeout", WAIT
    )
    _assert_detected_and_resolved(record, result)
    assert record["scenario"] == scenario
    assert record["parameters"]["hold_seconds"] == float(HOLD)
    for name in record["expected_alerts"]:
        labels = next(a["labels"] for a in record["observed_alerts"] if a["name"] == name)
        assert labels["instance"] == instance, labels
    await _assert_clean(stack)


@pytest.mark.timeout(600)
async def test_no_fault_control_sees_no_alert(stack: Any, tmp_path: Path) -> None:
    result, record = await asyncio.to_thread(
        _chaos, stack, tmp_path, "no-fault-control", "--hold", "30", "--timeout", WAIT
    )
    assert record["expected_alerts"] == [] and record["time_to_detect_seconds"] == {}
    names = {a["name"] for a in record["observed_alerts"]}
    if names and names <= HOST_ALERTS:
        # The host is busy with other work: a true alert, not one the stack made up.
        assert record["outcome"]["status"] == "failed" and result.returncode == 1
    else:
        assert names == set(), record["observed_alerts"]
        assert result.returncode == 0, result.stdout[-4000:]
        assert record["outcome"]["status"] == "passed"
    await _assert_clean(stack)


async def _wait_for(
    check: Callable[[], Awaitable[bool]], what: str, proc: asyncio.subprocess.Process
) -> None:
    deadline = time.monotonic() + 120
    while not await check():
        if proc.returncode is not None:
            out, err = await proc.communicate()
            pytest.fail(f"runner exited {proc.returncode} before {what}\n{out!r}\n{err!r}")
        if time.monotonic() > deadline:
            pytest.fail(f"{what} not seen within 120 s")
        await asyncio.sleep(0.5)


async def _listed_rate(stack: Any, instance: str) -> list[str]:
    """The error_rate faults `mockinfra faults list <instance> --json` reports, by rate."""
    proc = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).parent / "mockinfra"), "faults", "list", instance, "--json",
        env=stack.env, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, _ = await asyncio.wait_for(proc.communicate(), timeout=30)
    assert proc.returncode == 0
    listed = json.loads(out)[instance]
    return [f["params"]["rate"] for f in listed if f["kind"] == FaultKind.ERROR_RATE.value]


@pytest.mark.timeout(300)
@pytest.mark.parametrize("scenario", ["backend-error-surge", "cache-down"])
async def test_sigint_mid_injection_recovers_everything(
    stack: Any, tmp_path: Path, scenario: str
) -> None:
    record_path = tmp_path / "record.json"
    proc = await asyncio.create_subprocess_exec(
        *CHAOS, scenario, "--hold", "300", "--timeout", "300",
        "--runs-dir", str(tmp_path / "runs"), "--json", str(record_path),
        env=stack.env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        if scenario == "backend-error-surge":

            async def injected() -> bool:  # the scenario's 60%, not the quiet baseline's 1%
                return await _listed_rate(stack, "backend-2") == ["0.6"]

            await _wait_for(injected, "the error_rate fault", proc)
        else:

            async def stopped() -> bool:
                return (await _not_running(stack)).get("valkey") == "STOPPED"

            await _wait_for(stopped, "valkey stopped", proc)
        proc.send_signal(signal.SIGINT)
        out, err = await asyncio.wait_for(proc.communicate(), timeout=180)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.communicate()
    assert proc.returncode == 130, f"{out.decode()[-3000:]}\n{err.decode()[-3000:]}"
    record = json.loads(record_path.read_text())
    groundtruth.validate_record(record)
    assert record["outcome"] == {"status": "aborted", "reasons": ["interrupted"]}
    assert record["timestamps"]["recovered"] is not None
    await _assert_clean(stack)


@pytest.mark.parametrize("token", [None, "not-the-token"])
async def test_fault_control_refuses_a_missing_or_wrong_token(
    stack: Any, token: str | None
) -> None:
    good = load_token_for(stack)
    assert token != good
    backend = topology.component("backend-1")
    metadata = (("authorization", f"Bearer {token}"),) if token else ()
    async with grpc.aio.insecure_channel(f"{topology.HOST}:{backend.port}") as channel:
        stub = faults_pb2_grpc.FaultServiceStub(channel)
        fault = faults_pb2.Fault(kind="error_rate", params={"rate": "1"}, ttl_seconds=30)
        calls: list[Callable[[], Awaitable[object]]] = [
            lambda: stub.ListFaults(faults_pb2.ListFaultsRequest(), metadata=metadata, timeout=10),
            lambda: stub.SetFault(
                faults_pb2.SetFaultRequest(fault=fault), metadata=metadata, timeout=10
            ),
            lambda: stub.ClearFaults(
                faults_pb2.ClearFaultsRequest(), metadata=metadata, timeout=10
            ),
        ]
        for call in calls:
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await call()
            assert refused.value.code() is grpc.StatusCode.UNAUTHENTICATED
        # The right token is accepted on the same channel.
        reply = await stub.ListFaults(
            faults_pb2.ListFaultsRequest(),
            metadata=(("authorization", f"Bearer {good}"),),
            timeout=10,
        )
        assert reply.instance == "backend-1"
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    url = f"{topology.url('frontend')}/admin/faults"
    async with httpx.AsyncClient(timeout=10) as client:
        body = {"kind": "error_rate", "params": {"rate": "1"}, "ttl_seconds": 30}
        for method, payload in (("GET", None), ("PUT", body), ("DELETE", None)):
            resp = await client.request(method, url, headers=headers, json=payload)
            assert resp.status_code == 401, (method, resp.text)
            error = resp.json()["error"]
            assert set(error) == {"code", "message", "details", "timestamp", "request_id"}
        ok = await client.get(url, headers={"Authorization": f"Bearer {good}"})
        assert ok.status_code == 200
    # The client library reports the refusal as such.
    control = RemoteFaultControl(token)
    try:
        for name in ("backend-2", "frontend"):
            with pytest.raises(UnauthenticatedError):
                await control.list(name)
    finally:
        await control.aclose()
    assert await _active_faults(stack) == {n: [] for n in FAULT_INSTANCES}


@pytest.mark.timeout(300)
async def test_recover_all_clears_faults_and_restores_components(
    stack: Any, tmp_path: Path
) -> None:
    state = _state(stack)
    control = RemoteFaultControl(load_token_for(stack))
    components = SupervisorComponents(state)
    try:
        await control.set("backend-2", FaultKind.LATENCY.value, {"mean_ms": "50"}, 600)
        await control.set("frontend", FaultKind.ERROR_RATE.value, {"rate": "0.02"}, 600)
        await components.stop("redis-exporter")
        # A journaled change without a TTL: Valkey's maxmemory squeezed, as a dead runner leaves it.
        async with httpx.AsyncClient() as http:
            ctx = actions.Context(control, components, http, state, fault_ttl=600)
            await actions.CacheMemoryPressureStep(fill_mb=1, used_ratio=0.95).apply(ctx)
        assert (await _active_faults(stack))["backend-2"] == ["latency"]
        assert (await _not_running(stack)) == {"redis-exporter": "STOPPED"}
    finally:
        await control.aclose()
    result = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "mockinfra.chaos", "--recover-all"],
        env=stack.env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
    assert "recovered" in result.stdout.splitlines()[-1]
    await _assert_clean(stack)
    redis = actions._redis()
    try:
        maxmemory = int((await redis.config_get("maxmemory"))["maxmemory"] or 0)
        fillers = [k async for k in redis.scan_iter(match=f"{actions.CHAOS_MARKER}:fill:*")]
    finally:
        await redis.aclose()
    assert maxmemory == 256 * 1024 * 1024
    assert fillers == []
    assert not (state.root / "chaos" / "journal.json").exists() or "valkey_maxmemory" not in (
        (state.root / "chaos" / "journal.json").read_text()
    )
