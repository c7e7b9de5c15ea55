"""Fault injection: the one list of fault names, latency distributions, and the injector.

A service has a base error rate and latency profile (from its settings) and, on top, run-time
faults set through the fault API, each with a TTL so it always clears by itself. The injector is
driven by the interceptors and the middleware (`before_call`) and by the data layer
(`check_dependency`). Randomness comes from `random.Random(seed)`: the same seed and the same
sequence of calls give the same decisions.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import math
import os
import random
import threading
import time
from collections.abc import Awaitable, Callable, Mapping
from contextvars import ContextVar, Token
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Final

import grpc

if TYPE_CHECKING:
    from mockinfra.common.metrics import Metrics


class FaultKind(StrEnum):
    """The single list of fault names (metrics labels, logs, the fault API, chaos scenarios)."""

    ERROR_RATE = "error_rate"
    LATENCY = "latency"
    TIMEOUT = "timeout"
    HANG = "hang"
    DB_FAILURE = "db_failure"
    CACHE_FAILURE = "cache_failure"
    CPU_BURN = "cpu_burn"
    MEMORY_SPIKE = "memory_spike"
    MEMORY_LEAK = "memory_leak"
    CRASH = "crash"


MAX_TTL_SECONDS: Final = 24 * 3600.0
MAX_MEMORY_MB: Final = 2048
_MIB: Final = 1024 * 1024
_ERROR_STATUSES: Final = (500, 502, 503)
_GRPC_FOR_HTTP: Final = {
    500: grpc.StatusCode.INTERNAL,
    502: grpc.StatusCode.UNAVAILABLE,
    503: grpc.StatusCode.UNAVAILABLE,
    504: grpc.StatusCode.DEADLINE_EXCEEDED,
}


class InjectedFault(Exception):
    """A deliberately injected failure, with the status a server should answer with."""

    def __init__(
        self,
        kind: FaultKind,
        message: str,
        *,
        http_status: int = 503,
        grpc_code: grpc.StatusCode | None = None,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.http_status = http_status
        self.grpc_code = grpc_code or _GRPC_FOR_HTTP.get(http_status, grpc.StatusCode.UNAVAILABLE)


class DependencyFault(InjectedFault):
    """An injected database or cache failure (a `db_failure` / `cache_failure` fault)."""

    def __init__(self, kind: FaultKind, dependency: str) -> None:
        super().__init__(
            kind,
            f"injected {dependency} failure: connection refused",
            http_status=503,
            grpc_code=grpc.StatusCode.UNAVAILABLE,
        )
        self.dependency = dependency


# --- latency distribution -------------------------------------------------------------------


def _lower_gamma_p(a: float, x: float) -> float:
    """Regularized lower incomplete gamma P(a, x), by its power series (converges for all x)."""
    if x <= 0.0:
        return 0.0
    term = total = 1.0 / a
    n = a
    for _ in range(100_000):
        n += 1.0
        term *= x / n
        total += term
        if term < total * 1e-15:
            break
    return min(1.0, total * math.exp(-x + a * math.log(x) - math.lgamma(a)))


def _gamma_quantile(shape: float, p: float) -> float:
    """The p-quantile of Gamma(shape, scale=1), by bisection on P."""
    lo, hi = 0.0, max(1.0, shape)
    while _lower_gamma_p(shape, hi) < p:
        hi *= 2.0
    for _ in range(80):
        mid = (lo + hi) / 2.0
        if _lower_gamma_p(shape, mid) < p:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2.0


def _p95_ratio(shape: float) -> float:
    return _gamma_quantile(shape, 0.95) / shape


# p95/mean of a gamma rises as the shape falls from +inf (ratio 1) to ~0.1 (ratio ~5.8), then
# falls again (most mass collapses onto 0), so we search on the monotonic branch only.
_PEAK_SHAPE: Final = 0.1
_MAX_SHAPE: Final = 10_000.0  # ratio ~1.017: practically constant


@dataclass(frozen=True, slots=True)
class LatencyProfile:
    """A gamma distribution of added latency with a given mean and 95th percentile.

    The seed's p95/mean ratios (4 for the frontend, 5 for the backends) are beyond any
    lognormal (at most ~3.9); a gamma reaches ~5.8. Fitted once per profile change.
    """

    mean_ms: float = 0.0
    p95_ms: float = 0.0
    shape: float = 1.0
    scale_s: float = 0.0

    @property
    def enabled(self) -> bool:
        return self.mean_ms > 0.0

    @classmethod
    def fit(cls, mean_ms: float, p95_ms: float) -> LatencyProfile:
        """Find the shape whose p95/mean matches; ratios beyond the gamma's reach are clamped."""
        if mean_ms < 0 or p95_ms < 0:
            raise ValueError("latency mean and p95 must be >= 0")
        if mean_ms == 0:
            return cls()
        ratio = p95_ms / mean_ms
        if ratio <= _p95_ratio(_MAX_SHAPE):
            shape = _MAX_SHAPE
        elif ratio >= _p95_ratio(_PEAK_SHAPE):
            shape = _PEAK_SHAPE
        else:
            lo, hi = math.log(_PEAK_SHAPE), math.log(_MAX_SHAPE)  # ratio falls as shape rises
            for _ in range(60):
                mid = (lo + hi) / 2.0
                if _p95_ratio(math.exp(mid)) > ratio:
                    lo = mid
                else:
                    hi = mid
            shape = math.exp((lo + hi) / 2.0)
        return cls(mean_ms, p95_ms, shape, mean_ms / 1000.0 / shape)

    def sample(self, rng: random.Random) -> float:
        """One delay in seconds (0 when disabled)."""
        if self.mean_ms <= 0.0:
            return 0.0
        return rng.gammavariate(self.shape, self.scale_s)


NO_LATENCY: Final = LatencyProfile()


class LatencyBudget:
    """Per-call accumulator of time spent in downstream calls (see `FaultInjector.pad`)."""

    __slots__ = ("downstream",)

    def __init__(self) -> None:
        self.downstream = 0.0


_budget_var: ContextVar[LatencyBudget | None] = ContextVar("latency_budget", default=None)


def open_budget() -> Token[LatencyBudget | None]:
    """Start accounting downstream time for the current call (reset with `close_budget`)."""
    return _budget_var.set(LatencyBudget())


def close_budget(token: Token[LatencyBudget | None]) -> None:
    _budget_var.reset(token)


def add_downstream(seconds: float) -> None:
    """A client records the time a call took, when the calling request has a budget."""
    budget = _budget_var.get()
    if budget is not None:
        budget.downstream += seconds


# --- the latency anchor: where a callee's injected latency starts counting ----------------------
#
# A caller sends, with each downstream call, the time it became ready to make that call (its own
# request's arrival, or the end of its previous downstream call) as `x-latency-anchor` (epoch
# seconds). The callee's injected delay counts from there, so the transport and queueing on the
# way in are part of the configured latency instead of added to it: a gateway call through
# nginx and the frontend shows the backend's configured latency at nginx (fault-model.md).

LATENCY_ANCHOR_METADATA: Final = "x-latency-anchor"
MAX_ANCHOR_AGE: Final = 1.0  # seconds; an older (or future) anchor is a clock jump, not transport
_anchor_var: ContextVar[float] = ContextVar("latency_anchor", default=0.0)


def set_anchor(epoch_seconds: float) -> Token[float]:
    """The current request is ready to call downstream from `epoch_seconds` (reset the token)."""
    return _anchor_var.set(epoch_seconds)


def reset_anchor(token: Token[float]) -> None:
    _anchor_var.reset(token)


def anchor_metadata() -> tuple[str, str] | None:
    """The metadata pair for an outgoing call, inside a request that set an anchor."""
    anchor = _anchor_var.get()
    return (LATENCY_ANCHOR_METADATA, f"{anchor:.6f}") if anchor else None


def advance_anchor() -> None:
    """A downstream call finished: the next one's latency counts from now."""
    if _anchor_var.get():
        _anchor_var.set(time.time())


def anchor_age(value: str | bytes | None) -> float:
    """Seconds since a received anchor (0 when absent, malformed or beyond MAX_ANCHOR_AGE)."""
    if not value:
        return 0.0
    try:
        age = time.time() - float(value)
    except ValueError:
        return 0.0
    return age if 0.0 < age <= MAX_ANCHOR_AGE else 0.0


# --- run-time faults --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Fault:
    """One run-time fault; it expires by itself at `expires_at` (wall clock, epoch seconds)."""

    kind: FaultKind
    params: Mapping[str, str]
    ttl_seconds: float
    created_at: float
    expires_at: float

    def param(self, name: str, default: float) -> float:
        value = self.params.get(name)
        return default if value is None or value == "" else float(value)

    def to_dict(self) -> dict[str, object]:
        return {
            "kind": self.kind.value,
            "params": dict(self.params),
            "ttl_seconds": self.ttl_seconds,
            "created_at": self.created_at,
            "expires_at": self.expires_at,
            "remaining_seconds": max(0.0, round(self.expires_at - time.time(), 3)),
        }


def _number(params: Mapping[str, str], name: str, default: float, lo: float, hi: float) -> float:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"param {name!r} must be a number, got {raw!r}") from None
    if not (lo <= value <= hi) or math.isnan(value):
        raise ValueError(f"param {name!r} must be within [{lo}, {hi}], got {value}")
    return value


# Allowed parameters per kind: name -> (default, min, max); None default = required.
_PARAMS: Final[dict[FaultKind, dict[str, tuple[float | None, float, float]]]] = {
    FaultKind.ERROR_RATE: {"rate": (None, 0.0, 1.0)},
    FaultKind.LATENCY: {"mean_ms": (None, 0.0, 600_000.0), "p95_ms": (0.0, 0.0, 600_000.0)},
    FaultKind.TIMEOUT: {"seconds": (10.0, 0.0, 600.0)},
    FaultKind.HANG: {},
    FaultKind.DB_FAILURE: {},
    FaultKind.CACHE_FAILURE: {},
    FaultKind.CPU_BURN: {"cores": (1.0, 1.0, 64.0), "seconds": (0.0, 0.0, MAX_TTL_SECONDS)},
    FaultKind.MEMORY_SPIKE: {"mb": (100.0, 1.0, MAX_MEMORY_MB), "seconds": (30.0, 0.0, 3600.0)},
    FaultKind.MEMORY_LEAK: {
        "mb_per_minute": (10.0, 0.1, 10_000.0),
        "max_mb": (256.0, 1.0, MAX_MEMORY_MB),
    },
    FaultKind.CRASH: {"delay_seconds": (0.0, 0.0, 3600.0), "exit_code": (1.0, 1.0, 255.0)},
}


def validate_params(kind: FaultKind, params: Mapping[str, object]) -> dict[str, str]:
    """Check a fault's parameters; return them as canonical strings (the proto's map)."""
    spec = _PARAMS[kind]
    raw = {str(k): str(v) for k, v in params.items()}
    unknown = sorted(set(raw) - set(spec))
    if unknown:
        allowed = ", ".join(spec) or "none"
        raise ValueError(f"unknown params for {kind}: {', '.join(unknown)}; allowed: {allowed}")
    out: dict[str, str] = {}
    for name, (default, lo, hi) in spec.items():
        if default is None and not raw.get(name):
            raise ValueError(f"fault {kind} needs param {name!r}")
        value = _number(raw, name, default if default is not None else 0.0, lo, hi)
        out[name] = repr(value) if not value.is_integer() else str(int(value))
    if kind is FaultKind.LATENCY and float(out["p95_ms"]) == 0.0:
        out["p95_ms"] = (
            out["mean_ms"] if float(out["mean_ms"]) == 0 else str(4 * float(out["mean_ms"]))
        )
    return out


@dataclass(slots=True)
class _Effect:
    """A background effect (CPU burn, memory) of a fault, stoppable when the fault clears."""

    stop: threading.Event = field(default_factory=threading.Event)
    hold: list[bytes] = field(default_factory=list)


def _burn(stop: threading.Event, until: float) -> None:
    # hashlib releases the GIL on large buffers: real CPU load without starving the event loop.
    block = b"\x5a" * _MIB
    while not stop.is_set() and time.monotonic() < until:
        hashlib.sha256(block).digest()


def _leak(effect: _Effect, mb_per_minute: float, max_mb: int, until: float) -> None:
    interval = 60.0 / mb_per_minute
    while len(effect.hold) < max_mb and time.monotonic() < until:
        effect.hold.append(b"\x01" * _MIB)  # filled, so the pages are really resident
        if effect.stop.wait(interval):
            break
    effect.stop.wait(max(0.0, until - time.monotonic()))
    effect.hold.clear()


class FaultInjector:
    """Decides, applies, counts and logs injected faults for one service instance."""

    def __init__(
        self,
        service: str,
        instance: str,
        metrics: Metrics,
        logger: logging.Logger,
        error_rate: float = 0.0,
        latency: LatencyProfile = NO_LATENCY,
        seed: int | None = None,
    ) -> None:
        self.service = service
        self.instance = instance
        self.metrics = metrics
        self.logger = logger
        self.base_error_rate = error_rate
        self.base_latency = latency
        # Separate streams, so error decisions do not shift when the latency profile changes.
        self._error_rng = random.Random(seed)
        self._latency_rng = random.Random(None if seed is None else seed + 1)
        self._faults: dict[FaultKind, Fault] = {}
        self._fitted: dict[FaultKind, LatencyProfile] = {}
        self._effects: dict[FaultKind, _Effect] = {}
        self._hang_released: asyncio.Event | None = None
        self._next_expiry = math.inf
        self._error_rate = error_rate
        self._latency = latency
        # Called by TriggerFault(DATABASE); a service registers one (else db_failure is set).
        self.on_database_trigger: Callable[[], Awaitable[None] | None] | None = None
        for kind in FaultKind:
            gauge = metrics.labels_for(metrics.fault_active, fault=kind.value)
            gauge.set_function(self._active_function(kind))

    # -- configuration ----------------------------------------------------------------------

    def set_base(
        self, *, error_rate: float | None = None, latency: LatencyProfile | None = None
    ) -> None:
        """Change the base error rate or latency (what applies without run-time faults)."""
        if error_rate is not None:
            if not 0.0 <= error_rate <= 1.0:
                raise ValueError("error_rate must be within [0, 1]")
            self.base_error_rate = error_rate
        if latency is not None:
            self.base_latency = latency
        self._recompute()

    @property
    def error_rate(self) -> float:
        """The error rate in force (a run-time fault overrides the base)."""
        self._expire()
        return self._error_rate

    @property
    def latency(self) -> LatencyProfile:
        self._expire()
        return self._latency

    def set(
        self, kind: FaultKind | str, params: Mapping[str, object] | None, ttl_seconds: float
    ) -> Fault:
        """Set (or replace) a run-time fault; raises ValueError on bad input."""
        try:
            kind = FaultKind(kind)
        except ValueError:
            raise ValueError(
                f"unknown fault kind {kind!r}; known: {', '.join(FaultKind)}"
            ) from None
        if not (0.0 < ttl_seconds <= MAX_TTL_SECONDS) or math.isnan(ttl_seconds):
            raise ValueError(f"ttl_seconds must be within (0, {MAX_TTL_SECONDS:.0f}]")
        clean = validate_params(kind, params or {})
        fitted = (
            LatencyProfile.fit(float(clean["mean_ms"]), float(clean["p95_ms"]))
            if kind is FaultKind.LATENCY
            else None
        )
        self._drop(kind)
        if fitted is not None:
            self._fitted[kind] = fitted
        now = time.time()
        fault = Fault(kind, clean, ttl_seconds, now, now + ttl_seconds)
        self._faults[kind] = fault
        if kind is FaultKind.HANG:
            self._hang_released = asyncio.Event()
        self._recompute()
        self.logger.warning(
            "fault set: %s %s for %.0f s",
            kind.value,
            clean,
            ttl_seconds,
            extra={"fault": kind.value, "fault_params": clean, "ttl_seconds": ttl_seconds},
        )
        self._start_effect(fault)
        return fault

    def clear(self, kind: FaultKind | str | None = None) -> int:
        """Clear one kind of fault, or all; returns how many were cleared."""
        kinds = list(self._faults) if kind is None or kind == "" else [FaultKind(kind)]
        cleared = 0
        for k in kinds:
            if k in self._faults:
                self._drop(k)
                cleared += 1
                self.logger.info("fault cleared: %s", k.value, extra={"fault": k.value})
        self._recompute()
        return cleared

    def active(self) -> list[Fault]:
        """Run-time faults in force, oldest first."""
        self._expire()
        return sorted(self._faults.values(), key=lambda f: f.created_at)

    def _active_function(self, kind: FaultKind) -> Callable[[], float]:
        """The `fault_active` gauge is read at scrape time, so expiry shows without traffic."""
        return lambda: 1.0 if self.is_active(kind) else 0.0

    def is_active(self, kind: FaultKind) -> bool:
        fault = self._faults.get(kind)
        return fault is not None and fault.expires_at > time.time()

    # -- hot path ---------------------------------------------------------------------------

    async def before_call(self) -> InjectedFault | None:
        """Apply hang, timeout and latency, then decide a random error (None: proceed)."""
        fault, delay = await self.admit()
        if delay > 0.0:
            await asyncio.sleep(delay)
        return fault

    async def admit(self, already: float = 0.0) -> tuple[InjectedFault | None, float]:
        """Like `before_call`, but a proceeding call gets its latency back instead of a sleep.

        Returns (fault, delay): with a fault the delay has been slept already (0 is returned);
        without one the caller runs its handler, then `pad`s to the delay, so the latency a
        client observes is the sampled one rather than the sample plus the service's own work.
        `already`: seconds of the call's latency spent before it got here (`anchor_age`); an
        injected error sleeps only what is left of the delay.
        """
        if time.time() >= self._next_expiry:
            self._expire()
        faults = self._faults
        if faults:
            if FaultKind.HANG in faults:
                await self._hang()
            timeout = faults.get(FaultKind.TIMEOUT)
            if timeout is not None:
                seconds = timeout.param("seconds", 10.0)
                self._record(FaultKind.TIMEOUT, f"injected timeout after {seconds:g} s")
                await asyncio.sleep(seconds)
                return (
                    InjectedFault(
                        FaultKind.TIMEOUT,
                        f"injected timeout: no answer within {seconds:g} s",
                        http_status=504,
                        grpc_code=grpc.StatusCode.DEADLINE_EXCEEDED,
                    ),
                    0.0,
                )
        delay = 0.0
        latency = self._latency
        if latency.mean_ms > 0.0:
            delay = latency.sample(self._latency_rng)
            if FaultKind.LATENCY in faults:
                # Counted, logged at debug only: one line per delayed call would drown the logs.
                self.metrics.fault_injected(FaultKind.LATENCY)
        rate = self._error_rate
        if rate > 0.0 and self._error_rng.random() < rate:
            status = self._error_rng.choice(_ERROR_STATUSES)
            if delay > already:
                await asyncio.sleep(delay - already)
            message = f"injected error ({status})"
            self._record(FaultKind.ERROR_RATE, message)
            return InjectedFault(FaultKind.ERROR_RATE, message, http_status=status), 0.0
        return None, delay

    @staticmethod
    async def pad(started: float, delay: float) -> None:
        """Sleep what is left of `delay` since `started` (`time.perf_counter()`), if anything.

        Time the handler spent waiting on downstream calls (`LatencyBudget.downstream`,
        added by the gRPC client) does not count: a caller's latency is its own delay plus
        what its dependencies took, as the fault model composes them.
        """
        budget = _budget_var.get()
        spent = time.perf_counter() - started - (budget.downstream if budget else 0.0)
        if delay > spent:
            await asyncio.sleep(delay - spent)

    def check_dependency(self, dependency: str) -> None:
        """Raise DependencyFault while the dependency's failure fault is set."""
        kind = FaultKind.DB_FAILURE if dependency == "database" else FaultKind.CACHE_FAILURE
        if kind in self._faults and self.is_active(kind):
            fault = DependencyFault(kind, dependency)
            self._record(kind, fault.message)
            raise fault

    # -- one-shot faults --------------------------------------------------------------------

    def trigger(self, kind: FaultKind | str, params: Mapping[str, object] | None = None) -> None:
        """Immediate one-shot faults: `crash`, `memory_spike`, `cpu_burn`."""
        kind = FaultKind(kind)
        if kind not in (FaultKind.CRASH, FaultKind.MEMORY_SPIKE, FaultKind.CPU_BURN):
            raise ValueError(f"{kind} cannot be triggered; set it with a TTL instead")
        clean = validate_params(kind, params or {})
        now = time.time()
        seconds = float(clean.get("seconds", "0")) or 30.0
        self._start_effect(Fault(kind, clean, seconds, now, now + seconds), one_shot=True)

    def close(self) -> None:
        """Stop every background effect (tests, shutdown)."""
        for kind in list(self._faults):
            self._drop(kind)
        for effect in self._effects.values():
            effect.stop.set()
        self._recompute()

    # -- internals --------------------------------------------------------------------------

    def _record(self, kind: FaultKind, message: str) -> None:
        self.metrics.fault_injected(kind)
        self.logger.warning(message, extra={"fault": kind.value})

    async def _hang(self) -> None:
        fault = self._faults.get(FaultKind.HANG)
        released = self._hang_released
        if fault is None or released is None:
            return
        self._record(FaultKind.HANG, "injected hang: holding the call until the fault clears")
        remaining = fault.expires_at - time.time()
        if remaining > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(released.wait(), remaining)

    def _expire(self) -> None:
        now = time.time()
        if now < self._next_expiry:
            return
        for kind, fault in list(self._faults.items()):
            if fault.expires_at <= now:
                self._drop(kind)
                self.logger.info("fault expired: %s", kind.value, extra={"fault": kind.value})
        self._recompute()

    def _drop(self, kind: FaultKind) -> None:
        self._faults.pop(kind, None)
        self._fitted.pop(kind, None)
        effect = self._effects.pop(kind, None)
        if effect is not None:
            effect.stop.set()
        if kind is FaultKind.HANG and self._hang_released is not None:
            self._hang_released.set()
            self._hang_released = None

    def _recompute(self) -> None:
        rate_fault = self._faults.get(FaultKind.ERROR_RATE)
        self._error_rate = (
            rate_fault.param("rate", 0.0) if rate_fault is not None else self.base_error_rate
        )
        self._latency = self._fitted.get(FaultKind.LATENCY, self.base_latency)
        self._next_expiry = min((f.expires_at for f in self._faults.values()), default=math.inf)

    def _start_effect(self, fault: Fault, *, one_shot: bool = False) -> None:
        kind = fault.kind
        if kind not in (
            FaultKind.CPU_BURN,
            FaultKind.MEMORY_SPIKE,
            FaultKind.MEMORY_LEAK,
            FaultKind.CRASH,
        ):
            return
        self._record(kind, f"injected {kind.value} {dict(fault.params)}")
        effect = _Effect()
        if not one_shot:
            self._effects[kind] = effect
        until = time.monotonic() + fault.ttl_seconds
        if kind is FaultKind.CPU_BURN:
            seconds = fault.param("seconds", 0.0)
            if seconds > 0:
                until = min(until, time.monotonic() + seconds)
            for i in range(int(fault.param("cores", 1))):
                threading.Thread(
                    target=_burn, args=(effect.stop, until), name=f"cpu-burn-{i}", daemon=True
                ).start()
        elif kind is FaultKind.MEMORY_SPIKE:
            seconds = min(fault.param("seconds", 30.0) or fault.ttl_seconds, fault.ttl_seconds)
            effect.hold.append(b"\x01" * (int(fault.param("mb", 100)) * _MIB))

            def release() -> None:
                effect.stop.wait(seconds)
                effect.hold.clear()

            threading.Thread(target=release, name="memory-spike", daemon=True).start()
        elif kind is FaultKind.MEMORY_LEAK:
            threading.Thread(
                target=_leak,
                args=(
                    effect,
                    fault.param("mb_per_minute", 10.0),
                    int(fault.param("max_mb", 256)),
                    until,
                ),
                name="memory-leak",
                daemon=True,
            ).start()
        elif kind is FaultKind.CRASH:
            crash(int(fault.param("exit_code", 1)), fault.param("delay_seconds", 0.0))


def crash(exit_code: int = 1, delay_seconds: float = 0.0) -> None:
    """Exit the process abruptly (after flushing logs), now or after a delay on a thread."""
    from mockinfra.common.logging import flush_logs

    def die() -> None:
        if delay_seconds > 0:
            time.sleep(delay_seconds)
        logging.getLogger(__name__).critical(
            "injected crash: exiting with %d", exit_code, extra={"fault": FaultKind.CRASH.value}
        )
        flush_logs()
        os._exit(exit_code)

    if delay_seconds > 0:
        threading.Thread(target=die, name="crash", daemon=True).start()
    else:
        die()
