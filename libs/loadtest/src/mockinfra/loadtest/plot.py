"""One PNG of a run over time: throughput and users, latency percentiles, errors.

It reads Locust's `*_stats_history.csv` (the aggregated rows), so the picture always matches
the CSV a reader can open next to it.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: no display on a server, and no GUI toolkit import

import matplotlib.pyplot as plt

PERCENTILES = ("50%", "95%", "99%")


@dataclass(slots=True)
class History:
    """The aggregated time series of a run, seconds from its first sample."""

    seconds: list[float] = field(default_factory=list)
    users: list[float] = field(default_factory=list)
    rps: list[float] = field(default_factory=list)
    failures_per_s: list[float] = field(default_factory=list)
    percentiles: dict[str, list[float]] = field(
        default_factory=lambda: {p: [] for p in PERCENTILES}
    )


def _number(raw: str | None) -> float:
    try:
        return float(raw) if raw not in (None, "", "N/A") else float("nan")
    except ValueError:
        return float("nan")


def read_history(path: Path) -> History:
    """The aggregated rows of a Locust stats-history CSV."""
    history = History()
    with path.open(newline="") as handle:
        rows = [r for r in csv.DictReader(handle) if r.get("Name") == "Aggregated"]
    if not rows:
        return history
    start = _number(rows[0]["Timestamp"])
    for r in rows:
        history.seconds.append(_number(r["Timestamp"]) - start)
        history.users.append(_number(r["User Count"]))
        history.rps.append(_number(r["Requests/s"]))
        history.failures_per_s.append(_number(r["Failures/s"]))
        for p in PERCENTILES:
            history.percentiles[p].append(_number(r.get(p)))
    return history


def render(history: History, out: Path, *, title: str) -> Path:
    """Write the three-panel plot to `out` and return it."""
    fig, (ax_rps, ax_lat, ax_err) = plt.subplots(3, 1, figsize=(10, 9), sharex=True)
    try:
        ax_rps.plot(history.seconds, history.rps, label="requests/s", color="tab:blue")
        ax_users = ax_rps.twinx()
        ax_users.plot(history.seconds, history.users, label="users", color="tab:gray", ls="--")
        ax_users.set_ylabel("users")
        ax_rps.set_ylabel("requests/s")
        ax_rps.set_title(title)
        ax_rps.legend(loc="upper left")
        for p in PERCENTILES:
            ax_lat.plot(history.seconds, history.percentiles[p], label=f"p{p.rstrip('%')}")
        ax_lat.set_ylabel("latency (ms)")
        ax_lat.legend(loc="upper left")
        ax_err.plot(history.seconds, history.failures_per_s, color="tab:red", label="failures/s")
        ax_err.set_ylabel("failures/s")
        ax_err.set_xlabel("seconds")
        ax_err.legend(loc="upper left")
        for ax in (ax_rps, ax_lat, ax_err):
            ax.grid(alpha=0.3)
        fig.tight_layout()
        fig.savefig(out, dpi=100)
    finally:
        plt.close(fig)
    return out
