"""Run Locust through its library API: one bounded run, then the report folder.

Importing this module imports Locust, which monkey-patches the interpreter with gevent: only the
load-test process itself (`python -m mockinfra.loadtest`) imports it, never a test process.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import gevent  # type: ignore[import-untyped]  # gevent ships no type information
from locust import LoadTestShape, events
from locust.env import Environment
from locust.html import get_html_report
from locust.runners import STATE_STOPPED
from locust.stats import PERCENTILES_TO_REPORT, StatsCSVFileWriter, stats_history

from mockinfra.common import topology
from mockinfra.loadtest import routes, summary
from mockinfra.loadtest.journeys import Visitor
from mockinfra.loadtest.plot import read_history, render
from mockinfra.loadtest.profile import ConfiguredProfile
from mockinfra.loadtest.recorder import Recorder
from mockinfra.loadtest.shapes import Shape, Tick

WEB_UI_PORT: Final = 8089  # Locust's own default
GRACE_SECONDS: Final = 15.0  # after the shape ends: users stopping, stats flushing
CSV_PREFIX: Final = "locust"


@dataclass(frozen=True, slots=True)
class RunOptions:
    """Everything one run needs."""

    host: str
    shape: Shape
    out: Path
    profile: ConfiguredProfile
    web: bool = False
    json_path: Path | None = None
    check_fidelity: bool = False


@dataclass(frozen=True, slots=True)
class RunResult:
    out: Path
    summary: dict[str, Any]
    files: dict[str, Path]


def _shape_class(shape: Shape) -> LoadTestShape:
    """Adapt a plain `Shape` to Locust's `LoadTestShape`."""

    class _Adapter(LoadTestShape):  # type: ignore[misc]  # Locust ships no type hints
        def tick(self) -> Tick | None:
            return shape.tick(self.get_run_time())  # type: ignore[no-untyped-call]

    return _Adapter()  # type: ignore[no-untyped-call]


def _listen(env: Environment, recorder: Recorder) -> None:
    """Feed every finished request to the recorder, grouped by endpoint and by service."""

    def on_request(
        request_type: str,
        name: str,
        response_time: float,
        response: Any = None,
        exception: BaseException | None = None,
        **_: Any,
    ) -> None:
        headers = getattr(response, "headers", None) or {}
        recorder.record(
            endpoint=f"{request_type} {name}",
            service=routes.service_for(name, headers),
            ms=float(response_time or 0.0),
            failed=exception is not None,
            injected=exception is not None and bool(headers.get(routes.FAULT_HEADER)),
            counts_for_fidelity=routes.counts_for_fidelity(name),
        )

    env.events.request.add_listener(on_request)  # type: ignore[no-untyped-call]


def run(opts: RunOptions) -> RunResult:
    """One bounded run: start the shape, stop when it ends (or at the deadline), write reports."""
    opts.out.mkdir(parents=True, exist_ok=True)
    recorder = Recorder()
    env = Environment(
        user_classes=[Visitor], shape_class=_shape_class(opts.shape), host=opts.host, events=events
    )
    _listen(env, recorder)
    runner = env.create_local_runner()
    csv_base = str(opts.out / CSV_PREFIX)
    writer = StatsCSVFileWriter(env, PERCENTILES_TO_REPORT, csv_base, full_history=True)
    greenlets = [gevent.spawn(writer.stats_writer), gevent.spawn(stats_history, runner)]
    if opts.web:
        # Locust's web UI re-parses sys.argv with its own parser on every page; our options
        # (already parsed) would make it exit, so it sees none.
        del sys.argv[1:]
        env.create_web_ui(host=topology.HOST, port=WEB_UI_PORT, stats_csv_writer=writer)
        print(f"Locust web UI: http://{topology.HOST}:{WEB_UI_PORT}", flush=True)

    started = time.monotonic()
    deadline = started + opts.shape.duration + GRACE_SECONDS
    runner.start_shape()
    gevent.sleep(1.0)  # the shape worker's first tick moves the runner out of its ready state
    while runner.state != STATE_STOPPED and time.monotonic() < deadline:
        gevent.sleep(0.5)
    seconds = min(time.monotonic() - started, opts.shape.duration)
    runner.stop()
    gevent.sleep(1.5)  # one more CSV write with the final numbers (the writer runs every 1 s)
    for greenlet in greenlets:
        greenlet.kill(block=True)
    writer.close_files()

    files = {
        "stats_csv": Path(f"{csv_base}_stats.csv"),
        "history_csv": Path(writer.stats_history_file_name()),
        "failures_csv": Path(f"{csv_base}_failures.csv"),
        "exceptions_csv": Path(f"{csv_base}_exceptions.csv"),
        "html": opts.out / "report.html",
        "plot": opts.out / "timeline.png",
        "json": opts.out / "summary.json",
    }
    html = get_html_report(env, show_download_link=False)  # type: ignore[no-untyped-call]
    files["html"].write_text(html)
    render(
        read_history(files["history_csv"]),
        files["plot"],
        title=f"{opts.shape.name} {opts.shape.users} users against {opts.host}",
    )
    run_info = {
        "host": opts.host,
        "shape": str(opts.shape.name),
        "users": opts.shape.users,
        "spawn_rate": opts.shape.spawn_rate,
        "duration": opts.shape.duration,
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - seconds)),
    }
    result = summary.build(
        recorder,
        seconds=seconds,
        profile=opts.profile,
        run=run_info,
        check_fidelity=opts.check_fidelity,
    )
    result["files"] = {key: str(path) for key, path in files.items()}
    text = json.dumps(result, indent=2)
    files["json"].write_text(text)
    if opts.json_path is not None:
        opts.json_path.parent.mkdir(parents=True, exist_ok=True)
        opts.json_path.write_text(text)
    runner.quit()
    if env.web_ui is not None:
        env.web_ui.stop()  # type: ignore[no-untyped-call]
    return RunResult(opts.out, result, files)
