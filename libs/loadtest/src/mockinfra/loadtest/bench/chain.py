"""Start and stop the bare chain: nginx -> minimal FastAPI -> nginx gRPC upstream -> grpc.aio
-> Valkey (the cache hit's one GET).

Everything on 127.0.0.1, on free ports, in a temporary folder; every process is started here
and stopped here by its pid. The nginx configuration mirrors the stack's proxy settings
(`mockinfra.stack.proxy`'s upstream keepalive and requests per connection, `least_conn` over as
many gRPC servers as the stack has backends) without its access log, rate limit or security
headers.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import httpx

from mockinfra.common import topology
from mockinfra.stack import binaries, proxy, servers

READY_TIMEOUT: Final = 30.0
STOP_TIMEOUT: Final = 10.0

NGINX_CONF: Final = """\
daemon off;
worker_processes auto;
pid {root}/nginx.pid;
error_log {root}/nginx-error.log warn;
{user}
events {{ worker_connections 2048; }}
http {{
    access_log off;
    client_body_temp_path {root}/client_body;
    proxy_temp_path {root}/proxy;
    fastcgi_temp_path {root}/fastcgi;
    uwsgi_temp_path {root}/uwsgi;
    scgi_temp_path {root}/scgi;
    keepalive_timeout 65s;
    upstream app {{ server {host}:{app}; keepalive {frontend_keepalive}; }}
    upstream grpcs {{
        least_conn;
{grpc_servers}
        keepalive {backend_keepalive};
    }}
    server {{
        listen {host}:{http};
        location = /health {{ return 200 '{{"status":"healthy"}}'; }}
        location / {{
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_pass http://app;
        }}
    }}
    server {{
        listen {host}:{grpc} http2;
        keepalive_requests {keepalive_requests};
        location / {{ grpc_pass grpc://grpcs; }}
    }}
}}
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((topology.HOST, 0))
        return int(sock.getsockname()[1])


@dataclass
class BareChain:
    """The running bare chain: its URL and the processes to measure and stop."""

    root: Path
    url: str = ""
    valkey: str = ""  # HOST:PORT of its own Valkey
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)  # by program name

    @property
    def programs(self) -> dict[str, int]:
        """Program name -> pid (the CPU meter's input)."""
        return {name: proc.pid for name, proc in self.procs.items()}

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.procs.values()]

    def _spawn(self, name: str, argv: list[str]) -> subprocess.Popen[bytes]:
        with (self.root / f"{name}.log").open("wb") as log:
            proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
        self.procs[name] = proc
        return proc

    def start(self, backends: int) -> None:
        nginx = binaries.BY_KEY["nginx"].require()
        ports = {"http": free_port(), "grpc": free_port(), "app": free_port()}
        grpc_ports = [free_port() for _ in range(backends)]
        valkey_port = free_port()
        (self.root / "valkey").mkdir()
        self._spawn("valkey", servers.valkey_command(valkey_port, self.root / "valkey"))
        servers.wait_for_valkey(topology.HOST, valkey_port, timeout=READY_TIMEOUT)
        bare = [sys.executable, "-m", "mockinfra.loadtest.bench.bare"]
        valkey = self.valkey = f"{topology.HOST}:{valkey_port}"
        for i, port in enumerate(grpc_ports, 1):
            self._spawn(
                f"grpc-{i}",
                [*bare, "grpc", "--port", str(port), "--instance", f"bare-{i}", "--valkey", valkey],
            )
        target = f"{topology.HOST}:{ports['grpc']}"
        self._spawn("app", [*bare, "http", "--port", str(ports["app"]), "--target", target])
        conf = self.root / "nginx.conf"
        conf.write_text(
            NGINX_CONF.format(
                root=self.root,
                host=topology.HOST,
                # As root, workers would default to `nobody`; keep them as the caller, the
                # temporary folder's owner (the bench only talks to 127.0.0.1).
                user="user root;" if os.geteuid() == 0 else "",
                frontend_keepalive=proxy.FRONTEND_KEEPALIVE,
                backend_keepalive=proxy.BACKEND_KEEPALIVE,
                keepalive_requests=proxy.GRPC_KEEPALIVE_REQUESTS,
                grpc_servers="\n".join(f"        server {topology.HOST}:{p};" for p in grpc_ports),
                **ports,
            )
        )
        self._spawn("nginx", [nginx, "-p", str(self.root), "-c", str(conf), "-e", "stderr"])
        self.url = f"http://{topology.HOST}:{ports['http']}"
        self._wait_ready()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT
        last = "no answer"
        with httpx.Client(timeout=2.0) as client:
            while time.monotonic() < deadline:
                dead = [p.args for p in self.procs.values() if p.poll() is not None]
                if dead:
                    raise RuntimeError(f"bare chain program exited: {dead}; logs in {self.root}")
                try:
                    resp = client.get(f"{self.url}/api/backend/data?limit=100")
                    if resp.status_code == 200:
                        return
                    last = f"HTTP {resp.status_code}"
                except httpx.HTTPError as exc:
                    last = repr(exc)
                time.sleep(0.2)  # readiness poll interval, bounded by READY_TIMEOUT
        raise TimeoutError(f"bare chain not ready in {READY_TIMEOUT:.0f} s: {last}")

    def stop(self) -> None:
        """SIGTERM every program (nginx: SIGQUIT, graceful), then SIGKILL what is left."""
        for name, proc in self.procs.items():
            if proc.poll() is None:
                proc.send_signal(signal.SIGQUIT if name == "nginx" else signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT
        for proc in self.procs.values():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=STOP_TIMEOUT)


@contextlib.contextmanager
def bare_chain(backends: int = len(topology.BACKEND_INSTANCES)) -> Iterator[BareChain]:
    """A running bare chain, stopped (and its folder removed) on exit."""
    root = Path(tempfile.mkdtemp(prefix="mockinfra-bare-"))
    chain = BareChain(root)
    try:
        chain.start(backends)
        yield chain
    finally:
        chain.stop()
        shutil.rmtree(root, ignore_errors=True)
