"""The bench's fallback load generator: Locust FastHttpUser, zero wait, one JSON line out.

Run as a subprocess (`python -m mockinfra.loadtest.bench.fastload URL`) so gevent's monkey
patching stays out of the bench process.
"""

from __future__ import annotations

import argparse
import json
import time
from urllib.parse import urlsplit

import gevent  # type: ignore[import-untyped]  # gevent ships no type information
from locust import FastHttpUser, constant, task
from locust.env import Environment

from mockinfra.loadtest.bench.loadgen import SYNTHETIC


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("url")
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--users", type=int, default=64)
    args = p.parse_args()
    parts = urlsplit(args.url)
    path = parts.path + (f"?{parts.query}" if parts.query else "")

    class Hammer(FastHttpUser):
        host = f"{parts.scheme}://{parts.netloc}"
        wait_time = constant(0)

        @task
        def get(self) -> None:
            self.client.get(path, headers=dict([SYNTHETIC]))

    env = Environment(user_classes=[Hammer])
    runner = env.create_local_runner()
    runner.start(args.users, spawn_rate=args.users)
    gevent.sleep(1.0)  # let every user connect before counting
    env.stats.reset_all()
    started = time.monotonic()
    gevent.sleep(args.seconds)
    elapsed = time.monotonic() - started
    total = env.stats.total
    runner.quit()
    print(
        json.dumps(
            {
                "tool": "locust",
                "url": args.url,
                "seconds": round(elapsed, 2),
                "connections": args.users,
                "requests": total.num_requests,
                "errors": total.num_failures,
                "rps": round((total.num_requests - total.num_failures) / elapsed, 1),
                "p50_ms": total.get_response_time_percentile(0.5) or 0.0,
                "p99_ms": total.get_response_time_percentile(0.99) or 0.0,
            }
        )
    )


if __name__ == "__main__":
    main()
