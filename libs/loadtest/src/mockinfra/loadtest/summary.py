"""The run's machine-readable summary, the fidelity check and the tables printed at the end."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final

from mockinfra.loadtest import composition
from mockinfra.loadtest.baselines import BASELINES, baseline_for
from mockinfra.loadtest.profile import APP_INSTANCES, ConfiguredProfile
from mockinfra.loadtest.recorder import Accumulator, Recorder

ERROR_RATE_TOLERANCE_PP: Final = 1.5  # issue 5: within ±1.5 percentage points of the setting
LATENCY_TOLERANCE: Final = 0.15  # issue 5: mean and p95 within ±15% of the profile
MIN_SAMPLES: Final = 200  # fewer requests than this cannot tell 1.5 pp apart


def row(acc: Accumulator, seconds: float) -> dict[str, float | int]:
    """One table row: counts, error rate, throughput and latency (ms)."""
    return {
        "requests": acc.requests,
        "failures": acc.failures,
        "injected_failures": acc.injected,
        "error_rate": round(acc.error_rate, 4),
        "rps": round(acc.requests / seconds, 2) if seconds > 0 else 0.0,
        "p50_ms": acc.percentile(0.50),
        "p95_ms": acc.percentile(0.95),
        "p99_ms": acc.percentile(0.99),
        "mean_ms": round(acc.mean_ms, 2),
    }


@dataclass(frozen=True, slots=True)
class FidelityResult:
    """One service's observed behaviour against its configured profile."""

    instance: str
    requests: int
    expected_error_rate: float
    observed_error_rate: float
    expected_mean_ms: float
    observed_mean_ms: float
    expected_p95_ms: float
    observed_p95_ms: float
    error_rate_ok: bool
    latency_ok: bool | None  # None: the profile injects no latency, nothing to compare
    enough_samples: bool

    @property
    def passed(self) -> bool:
        return self.enough_samples and self.error_rate_ok and self.latency_ok is not False

    def as_dict(self) -> dict[str, Any]:
        return {
            "instance": self.instance,
            "requests": self.requests,
            "expected_error_rate": self.expected_error_rate,
            "observed_error_rate": round(self.observed_error_rate, 4),
            "expected_mean_ms": self.expected_mean_ms,
            "observed_mean_ms": round(self.observed_mean_ms, 2),
            "expected_p95_ms": self.expected_p95_ms,
            "observed_p95_ms": self.observed_p95_ms,
            "error_rate_ok": self.error_rate_ok,
            "latency_ok": self.latency_ok,
            "enough_samples": self.enough_samples,
            "passed": self.passed,
        }


def _within(observed: float, expected: float) -> bool:
    return abs(observed - expected) <= LATENCY_TOLERANCE * expected


def fidelity(recorder: Recorder, profile: ConfiguredProfile) -> list[FidelityResult]:
    """Each application instance's error rate and latency against its profile, composed.

    What an instance should show comes from `composition` (the frontend's own routes add a
    backend's error rate and latency to the frontend's). Error rate counts every request the
    instance answered on the routes that measure it (not `/error/...`). Latency is taken over
    successful requests only: an injected error is answered without the injected delay, so
    mixing both would understate the configured mean.
    """
    route_counts = {name.split(" ", 1)[1]: acc.requests for name, acc in recorder.endpoints.items()}
    results = []
    for instance in APP_INSTANCES:
        acc = recorder.fidelity.get(instance, Accumulator())
        expected = composition.expectation(profile, instance, route_counts)
        rate_ok = abs(acc.error_rate - expected.error_rate) * 100 <= ERROR_RATE_TOLERANCE_PP
        mean, p95 = acc.ok_mean_ms, acc.percentile(0.95, ok_only=True)
        latency_ok = (
            None
            if expected.mean_ms == 0
            else _within(mean, expected.mean_ms) and _within(p95, expected.p95_ms)
        )
        results.append(
            FidelityResult(
                instance=instance,
                requests=acc.requests,
                expected_error_rate=round(expected.error_rate, 4),
                observed_error_rate=acc.error_rate,
                expected_mean_ms=round(expected.mean_ms, 1),
                observed_mean_ms=mean,
                expected_p95_ms=round(expected.p95_ms, 1),
                observed_p95_ms=p95,
                error_rate_ok=rate_ok,
                latency_ok=latency_ok,
                enough_samples=acc.requests >= MIN_SAMPLES,
            )
        )
    return results


def build(
    recorder: Recorder,
    *,
    seconds: float,
    profile: ConfiguredProfile,
    run: dict[str, Any],
    check_fidelity: bool = False,
) -> dict[str, Any]:
    """The JSON summary: run settings, per endpoint, per service, total, profile, baselines."""
    summary: dict[str, Any] = {
        "run": {**run, "seconds": round(seconds, 2)},
        "profile": profile.as_dict(),
        "baselines": {name: b.as_dict() for name, b in BASELINES.items()},
        "endpoints": {name: row(acc, seconds) for name, acc in sorted(recorder.endpoints.items())},
        "services": {name: row(acc, seconds) for name, acc in sorted(recorder.services.items())},
        "total": row(recorder.total(), seconds),
    }
    if check_fidelity:
        results = fidelity(recorder, profile)
        summary["fidelity"] = {
            "passed": all(r.passed for r in results),
            "tolerance": {"error_rate_pp": ERROR_RATE_TOLERANCE_PP, "latency": LATENCY_TOLERANCE},
            "services": [r.as_dict() for r in results],
        }
    return summary


_COLUMNS: Final = ("requests", "failures", "error_rate", "rps", "p50_ms", "p95_ms", "p99_ms")


def _table(title: str, rows: Iterable[tuple[str, dict[str, Any], str]]) -> list[str]:
    head = f"{title:<38}{'reqs':>8}{'fails':>7}{'err%':>7}{'rps':>8}"
    head += f"{'p50':>7}{'p95':>7}{'p99':>7}{'mean':>8}  baseline"
    lines = [head, "-" * len(head)]
    for name, r, note in rows:
        lines.append(
            f"{name:<38}{r['requests']:>8}{r['failures']:>7}{r['error_rate'] * 100:>7.1f}"
            f"{r['rps']:>8.1f}{r['p50_ms']:>7.0f}{r['p95_ms']:>7.0f}{r['p99_ms']:>7.0f}"
            f"{r['mean_ms']:>8.1f}  {note}"
        )
    return lines


def _baseline_note(instance: str) -> str:
    base = baseline_for(instance)
    if base is None:
        return ""
    return f"avg {base.mean_ms:.0f} / p95 {base.p95_ms:.0f} ms, {base.rps:.0f} req/s"


def format_tables(summary: dict[str, Any]) -> str:
    """The human-readable end of a run: endpoints, services with baselines, profile, fidelity."""
    prof = summary["profile"]
    lines = _table(
        "endpoint",
        ((name, r, "") for name, r in summary["endpoints"].items()),
    )
    lines.append("")
    services = [(name, r, _baseline_note(name)) for name, r in summary["services"].items()]
    lines += _table("service (by X-Backend-Instance)", services)
    lines += ["", "TOTAL " + " ".join(f"{k}={summary['total'][k]}" for k in _COLUMNS), ""]
    lines.append(f"fault profile: {prof['name']} ({prof['source']})")
    for name, inst in prof["instances"].items():
        lines.append(
            f"  {name:<10} error rate {inst['error_rate'] * 100:5.1f}%  latency mean "
            f"{inst['latency_mean_ms']:.0f} ms / p95 {inst['latency_p95_ms']:.0f} ms"
        )
    if fid := summary.get("fidelity"):
        lines += ["", "fidelity (error rate ±1.5 pp; successful requests' mean and p95 ±15%):"]
        for r in fid["services"]:
            verdict = "PASS" if r["passed"] else "FAIL"
            if not r["enough_samples"]:
                verdict += " (too few requests)"
            latency = "n/a" if r["latency_ok"] is None else ("ok" if r["latency_ok"] else "off")
            lines.append(
                f"  {verdict:<6} {r['instance']:<10} n={r['requests']:<6} error "
                f"{r['observed_error_rate'] * 100:5.1f}% vs {r['expected_error_rate'] * 100:4.1f}%"
                f"  mean {r['observed_mean_ms']:6.1f} vs {r['expected_mean_ms']:.0f} ms"
                f"  p95 {r['observed_p95_ms']:5.0f} vs {r['expected_p95_ms']:.0f} ms"
                f"  latency {latency}"
            )
        lines.append(f"fidelity: {'PASS' if fid['passed'] else 'FAIL'}")
    return "\n".join(lines)
