"""One chaos run: healthy -> baseline -> inject -> alerts fire -> hold -> recover -> resolve.

Recovery sits in a `finally`, so an exception, a timeout or Ctrl-C (task cancellation) still
reverts every step; faults also carry TTLs, so even a SIGKILLed runner leaves nothing for long.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Final, Protocol

from mockinfra.chaos import actions, groundtruth, traffic
from mockinfra.chaos.actions import Context, Step
from mockinfra.chaos.alerts import Alert
from mockinfra.chaos.control import FAULT_INSTANCES
from mockinfra.chaos.groundtruth import now, rfc3339
from mockinfra.chaos.scenario import Scenario
from mockinfra.common import topology
from mockinfra.common.faults import FaultKind
from mockinfra.common.profiles import QUIET_ERROR_RATE

POLL_SECONDS: Final = 2.0
HEALTH_TIMEOUT: Final = 90.0
# Components whose health a run checks before and after (the optional ones may be absent).
HEALTH_COMPONENTS: Final = tuple(c.name for c in topology.COMPONENTS if not c.optional)


class AlertSource(Protocol):
    async def firing(self) -> list[Alert]: ...


class Annotator(Protocol):
    async def annotate(self, text: str, tags: list[str], at: datetime) -> bool: ...


HealthCheck = Callable[[], Awaitable[list[str]]]  # -> the unhealthy components, with why


@dataclass(slots=True)
class RunOptions:
    baseline: str = "quiet"
    hold_seconds: float | None = None  # None: the scenario's
    timeout_seconds: float | None = None  # None: the scenario's detect/resolve timeouts
    fault_ttl: float = 900.0
    traffic_rps: float = 4.0
    seed: int | None = None
    runs_dir: Path = Path("runs")
    json_path: Path | None = None


@dataclass(slots=True)
class Observed:
    name: str
    labels: dict[str, str]
    fired_at: datetime
    resolved_at: datetime | None = None
    expected: bool = False


@dataclass(slots=True)
class Run:
    """The mutable state of one run, turned into the ground-truth record at the end."""

    scenario: Scenario
    options: RunOptions
    run_id: str
    start: datetime
    injected: datetime | None = None
    recovered: datetime | None = None
    baseline_fps: set[str] = field(default_factory=set)
    baseline_names: list[str] = field(default_factory=list)
    observed: dict[str, Observed] = field(default_factory=dict)
    timeline: list[dict[str, str]] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    status: str = "passed"

    def ttd(self) -> dict[str, float | None]:
        out: dict[str, float | None] = {}
        for name in self.scenario.expected_alerts:
            times = [o.fired_at for o in self.observed.values() if o.name == name]
            out[name] = (
                round((min(times) - self.injected).total_seconds(), 3)
                if times and self.injected
                else None
            )
        return out

    def record(self, end: datetime) -> dict[str, Any]:
        s = self.scenario
        hold = self.options.hold_seconds or s.hold_seconds
        return {
            "schema_version": groundtruth.SCHEMA_VERSION,
            "run_id": self.run_id,
            "scenario": s.name,
            "title": s.title,
            "parameters": {
                "hold_seconds": hold,
                "baseline": self.options.baseline,
                "inject": [dict(a.spec) for a in s.inject],
                "detect_timeout_seconds": self.options.timeout_seconds or s.detect_timeout_seconds,
                "resolve_timeout_seconds": self.options.timeout_seconds
                or s.resolve_timeout_seconds,
                "fault_ttl_seconds": self.options.fault_ttl,
            },
            "seed": self.options.seed,
            "timestamps": {
                "start": rfc3339(self.start),
                "injected": rfc3339(self.injected),
                "recovered": rfc3339(self.recovered),
                "end": rfc3339(end),
            },
            "target": dict(s.target),
            "root_cause": dict(s.root_cause),
            "affected_services": list(s.affected_services),
            "expected_alerts": list(s.expected_alerts),
            "baseline_alerts": sorted(set(self.baseline_names)),
            "observed_alerts": [
                {
                    "name": o.name,
                    "labels": o.labels,
                    "fired_at": rfc3339(o.fired_at),
                    "resolved_at": rfc3339(o.resolved_at),
                    "expected": o.expected,
                }
                for o in sorted(self.observed.values(), key=lambda o: o.fired_at)
            ],
            "time_to_detect_seconds": self.ttd(),
            "remediation": dict(s.remediation),
            "outcome": {"status": self.status, "reasons": self.reasons},
            "timeline": self.timeline,
        }


class Runner:
    """Runs scenarios against a stack reached through injected clients (fakes in unit tests)."""

    def __init__(
        self,
        ctx: Context,
        alerts: AlertSource,
        *,
        health: HealthCheck,
        annotator: Annotator | None = None,
        options: RunOptions | None = None,
        out: Callable[[str], None] = print,
    ) -> None:
        self.ctx = ctx
        self.alerts = alerts
        self.health = health
        self.annotator = annotator
        self.options = options or RunOptions()
        self.out = out
        self._baseline_set = False

    # ------------------------------------------------------------ helpers

    def _event(self, run: Run, event: str, detail: str = "") -> None:
        at = now()
        run.timeline.append({"at": rfc3339(at) or "", "event": event, "detail": detail})
        elapsed = (at - run.start).total_seconds()
        self.out(f"[{elapsed:7.1f}s] {event:<10} {detail}")

    async def _annotate(self, run: Run, text: str, tag: str) -> None:
        if self.annotator is None:
            return
        with contextlib.suppress(Exception):  # annotations are a courtesy, never a failure
            await self.annotator.annotate(
                f"chaos {run.scenario.name}: {text}", ["chaos", run.scenario.name, tag], now()
            )

    async def _wait_healthy(self, run: Run, phase: str) -> None:
        deadline = time.monotonic() + HEALTH_TIMEOUT
        while bad := await self.health():
            if time.monotonic() > deadline:
                raise RuntimeError(f"stack not healthy {phase}: {'; '.join(bad)}")
            await asyncio.sleep(POLL_SECONDS)
        self._event(run, "healthy", phase)

    async def _poll(self, run: Run) -> set[str]:
        """Record newly firing alerts and resolutions; return the fingerprints firing now."""
        try:
            firing = await self.alerts.firing()
        except Exception as err:  # Alertmanager briefly unreachable: try again next poll
            self._event(run, "warning", f"alertmanager: {type(err).__name__}: {err}")
            return {fp for fp, o in run.observed.items() if o.resolved_at is None}
        current = {a.fingerprint for a in firing if a.fingerprint not in run.baseline_fps}
        for alert in firing:
            if alert.fingerprint in run.baseline_fps:
                continue
            seen = run.observed.get(alert.fingerprint)
            if seen is None or seen.resolved_at is not None:
                expected = alert.name in run.scenario.expected_alerts
                run.observed[alert.fingerprint] = Observed(
                    alert.name, dict(alert.labels), now(), None, expected
                )
                labels = ",".join(
                    f"{k}={v}" for k, v in sorted(alert.labels.items()) if k != "alertname"
                )
                self._event(run, "firing", f"{alert.name} {{{labels}}}")
        for fp, seen in run.observed.items():
            if seen.resolved_at is None and fp not in current:
                seen.resolved_at = now()
                self._event(run, "resolved", seen.name)
        return current

    def _fired(self, run: Run, name: str) -> bool:
        return any(o.name == name for o in run.observed.values())

    async def set_baseline(self) -> None:
        """Quiet baseline: every app instance with a seed error rate gets 1% (with a TTL)."""
        if self.options.baseline != "quiet" or self._baseline_set:
            return
        params = {"rate": str(QUIET_ERROR_RATE)}
        for name in FAULT_INSTANCES:
            if topology.component(name).error_rate > 0:
                await self.ctx.control.set(
                    name, FaultKind.ERROR_RATE.value, params, self.options.fault_ttl
                )
                self.ctx.baseline[name] = [(FaultKind.ERROR_RATE.value, params)]
        self._baseline_set = True

    async def clear_baseline(self) -> None:
        for name, faults in self.ctx.baseline.items():
            for kind, _ in faults:
                with contextlib.suppress(Exception):
                    await self.ctx.control.clear(name, kind)
        self.ctx.baseline.clear()
        self._baseline_set = False

    # ------------------------------------------------------------ the run

    async def run(self, scenario: Scenario) -> dict[str, Any]:
        """Run one scenario; always recovers and writes a validated ground-truth record."""
        start = now()
        run = Run(scenario, self.options, groundtruth.new_run_id(scenario.name, start), start)
        self.ctx.run_id = run.run_id
        self.out(f"== {scenario.name}: {scenario.title} (run {run.run_id})")
        stop_traffic = asyncio.Event()
        traffic_task = asyncio.create_task(
            traffic.generate(self.options.traffic_rps, stop_traffic, seed=self.options.seed)
        )
        steps: list[Step] = []
        try:
            await self._wait_healthy(run, "before")
            await self.set_baseline()
            firing = await self.alerts.firing()
            run.baseline_fps = {a.fingerprint for a in firing}
            run.baseline_names = [a.name for a in firing]
            self._event(run, "baseline", ", ".join(sorted(set(run.baseline_names))) or "quiet")
            await self._inject_hold_recover(run, steps)
            await self._wait_resolved(run)
            await self._wait_healthy(run, "after")
        except asyncio.CancelledError:
            run.status = "aborted"
            run.reasons.append("interrupted")
            await self._recover(run, steps)
            raise
        except Exception as err:
            run.status = "error"
            run.reasons.append(f"{type(err).__name__}: {err}")
            self._event(run, "error", f"{type(err).__name__}: {err}")
            await self._recover(run, steps)
        finally:
            stop_traffic.set()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(traffic_task, timeout=30)
            await self._finish(run)
        return run.record(now())

    async def _inject_hold_recover(self, run: Run, steps: list[Step]) -> None:
        scenario = run.scenario
        repeaters: list[asyncio.Task[None]] = []
        try:
            run.injected = now()
            for action in scenario.inject:
                step = actions.build(action.action, action.spec)
                steps.append(step)
                self._event(run, "inject", await step.apply(self.ctx))
                if action.every_seconds:
                    repeaters.append(asyncio.create_task(self._repeat(step, action.every_seconds)))
            if not scenario.inject:
                self._event(run, "inject", "nothing (control)")
            await self._annotate(run, "injected", "inject")
            await self._wait_fired(run)
            hold = self.options.hold_seconds or scenario.hold_seconds
            self._event(run, "hold", f"{hold:g}s")
            deadline = time.monotonic() + hold
            while time.monotonic() < deadline:
                await self._poll(run)
                await asyncio.sleep(min(POLL_SECONDS, max(0.0, deadline - time.monotonic())))
        finally:
            for task in repeaters:
                task.cancel()
            await asyncio.gather(*repeaters, return_exceptions=True)
        await self._recover(run, steps)

    async def _repeat(self, step: Step, every: float) -> None:
        while True:
            await asyncio.sleep(every)
            with contextlib.suppress(Exception):  # a failed re-apply is retried next period
                await step.apply(self.ctx)

    async def _wait_fired(self, run: Run) -> None:
        expected = run.scenario.expected_alerts
        timeout = self.options.timeout_seconds or run.scenario.detect_timeout_seconds
        deadline = time.monotonic() + timeout
        while True:
            await self._poll(run)
            missing = [n for n in expected if not self._fired(run, n)]
            if not missing:
                if expected:
                    self._event(run, "detected", ", ".join(expected))
                return
            if time.monotonic() > deadline:
                run.status = "failed"
                run.reasons.append(f"did not fire within {timeout:g}s: {', '.join(missing)}")
                self._event(run, "timeout", f"not firing: {', '.join(missing)}")
                return
            await asyncio.sleep(POLL_SECONDS)

    async def _recover(self, run: Run, steps: list[Step]) -> None:
        """Revert every applied step, newest first; each failure is recorded, none stops it."""
        while steps:
            step = steps.pop()
            try:
                # Shielded: a second Ctrl-C must not leave a half-reverted step behind.
                detail = await asyncio.shield(step.revert(self.ctx))
                self._event(run, "recover", detail)
            except Exception as err:
                run.status = "error"
                run.reasons.append(f"recovery failed: {type(err).__name__}: {err}")
                self._event(run, "error", f"recovery: {type(err).__name__}: {err}")
        if run.recovered is None and run.injected is not None:
            run.recovered = now()
            await self._annotate(run, "recovered", "recover")

    async def _wait_resolved(self, run: Run) -> None:
        timeout = self.options.timeout_seconds or run.scenario.resolve_timeout_seconds
        deadline = time.monotonic() + timeout
        while await self._poll(run):
            if time.monotonic() > deadline:
                still = sorted({o.name for o in run.observed.values() if o.resolved_at is None})
                run.status = "failed"
                run.reasons.append(f"did not resolve within {timeout:g}s: {', '.join(still)}")
                self._event(run, "timeout", f"still firing: {', '.join(still)}")
                return
            await asyncio.sleep(POLL_SECONDS)
        self._event(run, "resolved", "no alert of this run is firing")

    async def _finish(self, run: Run) -> None:
        scenario = run.scenario
        if not scenario.expected_alerts and scenario.target.get("kind") == "none":
            extra = sorted({o.name for o in run.observed.values()})
            if extra and run.status == "passed":
                run.status = "failed"
                run.reasons.append(f"control run, yet alerts fired: {', '.join(extra)}")
        end = now()
        self._event(
            run, "end", run.status + (f" ({'; '.join(run.reasons)})" if run.reasons else "")
        )
        record = run.record(end)
        path = await asyncio.to_thread(
            groundtruth.write_record,
            record,
            runs_dir=self.options.runs_dir,
            extra_path=self.options.json_path,
        )
        self.out(f"ground truth: {path}")


async def run_many(runner: Runner, scenarios: Sequence[Scenario]) -> list[dict[str, Any]]:
    """Run scenarios one after the other; the quiet baseline is cleared at the end."""
    records = []
    try:
        for scenario in scenarios:
            records.append(await runner.run(scenario))
    finally:
        await asyncio.shield(runner.clear_baseline())
    return records
