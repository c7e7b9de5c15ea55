"""A small stand-in for nginx :8080 speaking the seed's contract, for tests without the stack.

It answers every route the journeys use, names a backend instance on gateway routes, and fails
a fixed share of requests with `X-Fault-Injected`, so reports and summaries have both kinds.
Run it as `python standin.py PORT`.
"""

from __future__ import annotations

import itertools
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

FAIL_EVERY = 10  # every tenth request is an injected 500


class Handler(BaseHTTPRequestHandler):
    counter = itertools.count(1)
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def _send(self, status: int, body: Any, headers: dict[str, str]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        n = next(self.counter)
        path = self.path.split("?", 1)[0]
        headers: dict[str, str] = {}
        if path.startswith("/api/backend/"):
            headers["X-Backend-Instance"] = "backend-1" if n % 2 else "backend-2"
        if path.startswith("/error/"):
            code = path.rsplit("/", 1)[1]
            headers["X-Fault-Injected"] = "error_page"
            return self._send(int(code), {"error": {"code": code}}, headers)
        if n % FAIL_EVERY == 0:
            headers["X-Fault-Injected"] = "error_rate"
            return self._send(500, {"error": {"code": "injected"}}, headers)
        body: dict[str, Any] = {"ok": True}
        if self.command == "POST" and path == "/api/backend/data":
            body = {"id": n, "name": "x"}
        return self._send(201 if self.command == "POST" else 200, body, headers)

    do_GET = do_POST = do_PUT = do_DELETE = _handle


def main() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler)
    print("ready", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
