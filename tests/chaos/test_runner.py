"""The runner against fakes: detection, ground truth, and recovery on error and interruption."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from mockinfra.chaos import actions, groundtruth
from mockinfra.chaos.cli import parse_fault
from mockinfra.chaos.runner import Runner, RunOptions, run_many
from mockinfra.chaos.scenario import Scenario
from mockinfra.stack.state import State


def _scenario(**over: Any) -> Scenario:
    data: dict[str, Any] = {
        "name": "surge",
        "title": "surge on backend-2",
        "description": "backend-2 fails most calls",
        "target": {"kind": "instance", "name": "backend-2"},
        "inject": [
            {
                "action": "fault",
                "instances": ["backend-2"],
                "kind": "error_rate",
                "params": {"rate": 0.6},
            },
        ],
        "hold_seconds": 0.5,
        "detect_timeout_seconds": 5,
        "resolve_timeout_seconds": 5,
        "expected_alerts": ["BackendHighErrorRate"],
        "affected_services": ["backend"],
        "root_cause": {"level": "application", "type": "error_rate"},
        "remediation": {"text": "clear the fault", "command": "mockinfra faults clear backend-2"},
    }
    data.update(over)
    return Scenario.from_dict(data)


def _runner(
    control: Any, components: Any, alerts: Any, tmp_path: Path, http: httpx.AsyncClient
) -> Runner:
    async def healthy() -> list[str]:
        return []

    ctx = actions.Context(
        control=control, components=components, http=http, state=State(tmp_path), fault_ttl=60
    )
    opts = RunOptions(traffic_rps=0, runs_dir=tmp_path / "runs", json_path=tmp_path / "last.json")
    return Runner(ctx, alerts, health=healthy, options=opts, out=lambda _: None)


@pytest.fixture
async def http() -> Any:
    async with httpx.AsyncClient() as client:
        yield client


async def test_a_run_detects_recovers_and_writes_valid_ground_truth(
    fake_control: Any,
    fake_components: Any,
    fake_alerts: Any,
    tmp_path: Path,
    http: httpx.AsyncClient,
) -> None:
    runner = _runner(fake_control, fake_components, fake_alerts, tmp_path, http)
    [record] = await run_many(runner, [_scenario()])
    assert record["outcome"] == {"status": "passed", "reasons": []}
    assert [a["name"] for a in record["observed_alerts"]] == ["BackendHighErrorRate"]
    assert record["observed_alerts"][0]["resolved_at"] is not None
    assert record["time_to_detect_seconds"]["BackendHighErrorRate"] >= 0
    groundtruth.validate_record(record)
    written = json.loads((tmp_path / "last.json").read_text())
    assert written == json.loads((tmp_path / "runs" / f"{record['run_id']}.json").read_text())
    assert fake_control.active("error_rate") == set()  # baseline cleared at the end too


async def test_quiet_baseline_is_restored_after_the_fault(
    fake_control: Any,
    fake_components: Any,
    fake_alerts: Any,
    tmp_path: Path,
    http: httpx.AsyncClient,
) -> None:
    runner = _runner(fake_control, fake_components, fake_alerts, tmp_path, http)
    await runner.run(_scenario())
    assert fake_control.faults["backend-2"]["error_rate"].params == {"rate": "0.01"}
    await runner.clear_baseline()


async def test_missing_alert_fails_the_run(
    fake_control: Any,
    fake_components: Any,
    fake_alerts: Any,
    tmp_path: Path,
    http: httpx.AsyncClient,
) -> None:
    runner = _runner(fake_control, fake_components, fake_alerts, tmp_path, http)
    runner.options.timeout_seconds = 1
    record = await runner.run(_scenario(expected_alerts=["BackendHighLatency"]))
    assert record["outcome"]["status"] == "failed"
    assert "BackendHighLatency" in record["outcome"]["reasons"][0]
    assert record["time_to_detect_seconds"] == {"BackendHighLatency": None}


async def test_an_exception_mid_injection_still_recovers(
    fake_control: Any,
    fake_components: Any,
    fake_alerts: Any,
    tmp_path: Path,
    http: httpx.AsyncClient,
) -> None:
    fake_control.fail_on.add("frontend")
    scenario = _scenario(
        inject=[
            {
                "action": "fault",
                "instances": ["backend-2"],
                "kind": "error_rate",
                "params": {"rate": 0.6},
            },
            {"action": "stop", "component": "valkey"},
            {
                "action": "fault",
                "instances": ["frontend"],
                "kind": "latency",
                "params": {"mean_ms": 900},
            },
        ],
    )
    runner = _runner(fake_control, fake_components, fake_alerts, tmp_path, http)
    runner.options.baseline = "seed"
    record = await runner.run(scenario)
    assert record["outcome"]["status"] == "error"
    assert "unreachable" in record["outcome"]["reasons"][0]
    assert fake_control.active("error_rate") == set()
    assert fake_components.states["valkey"] == "RUNNING"
    events = [e["event"] for e in record["timeline"]]
    assert events.count("recover") == 3  # the failed step is reverted too: it may be half-applied
    groundtruth.validate_record(record)


async def test_cancellation_during_hold_recovers_and_records_abort(
    fake_control: Any,
    fake_components: Any,
    fake_alerts: Any,
    tmp_path: Path,
    http: httpx.AsyncClient,
) -> None:
    runner = _runner(fake_control, fake_components, fake_alerts, tmp_path, http)
    runner.options.baseline = "seed"
    task = asyncio.create_task(runner.run(_scenario(hold_seconds=600)))
    for _ in range(200):  # bounded: until the fault is in place
        if fake_control.active("error_rate"):
            break
        await asyncio.sleep(0.05)
    assert fake_control.active("error_rate") == {"backend-2"}
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert fake_control.active("error_rate") == set()
    [path] = (tmp_path / "runs").glob("*.json")
    record = json.loads(path.read_text())
    assert record["outcome"]["status"] == "aborted"
    groundtruth.validate_record(record)


def test_ground_truth_schema_rejects_a_broken_record(tmp_path: Path) -> None:
    with pytest.raises(groundtruth.GroundTruthError, match="run_id"):
        groundtruth.write_record({"scenario": "x"}, runs_dir=tmp_path)
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        (["error_rate=0.6"], ("error_rate", {"rate": "0.6"})),
        (["error_rate", "rate=0.6"], ("error_rate", {"rate": "0.6"})),
        (
            ["latency", "mean_ms=800", "p95_ms=3000"],
            ("latency", {"mean_ms": "800", "p95_ms": "3000"}),
        ),
        (["hang"], ("hang", {})),
    ],
)
def test_parse_fault(words: list[str], expected: tuple[str, dict[str, str]]) -> None:
    assert parse_fault(words) == expected


@pytest.mark.parametrize("words", [[], ["nope=1"], ["hang=1"], ["latency", "mean_ms"]])
def test_parse_fault_rejects(words: list[str]) -> None:
    with pytest.raises(ValueError):
        parse_fault(words)
