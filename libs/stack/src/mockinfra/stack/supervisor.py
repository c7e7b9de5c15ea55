"""Talk to supervisord over its XML-RPC API on the unix socket in the state folder.

supervisord does the supervising (restart on exit with backoff, log files, start/stop one
program); this module only starts it, asks it things and tells it what to do. The XML-RPC
client is blocking, so every call runs in a worker thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import time
import xmlrpc.client
from dataclasses import dataclass
from typing import Any, Final

import psutil
from supervisor.xmlrpc import SupervisorTransport

from mockinfra.common import topology
from mockinfra.stack.state import State

START_TIMEOUT: Final = 15.0
STOP_TIMEOUT: Final = 60.0


@dataclass(frozen=True, slots=True)
class ProcessInfo:
    name: str
    state: str  # RUNNING, STARTING, BACKOFF, STOPPED, EXITED, FATAL, ...
    pid: int
    description: str


class Supervisor:
    """One supervisord, identified by its state folder."""

    def __init__(self, state: State) -> None:
        self.state = state

    def _proxy(self) -> Any:
        transport = SupervisorTransport(
            None, None, serverurl=f"unix://{self.state.supervisor_socket}"
        )
        # The host part is ignored: the transport always uses the unix socket.
        return xmlrpc.client.ServerProxy("http://127.0.0.1", transport=transport)

    async def call(self, method: str, *args: Any) -> Any:
        def run() -> Any:
            return getattr(self._proxy().supervisor, method)(*args)

        return await asyncio.to_thread(run)

    def pid(self) -> int | None:
        """supervisord's pid, when its pid file names a live supervisord."""
        try:
            pid = int(self.state.supervisor_pidfile.read_text().strip())
        except (OSError, ValueError):
            return None
        try:
            cmdline = " ".join(psutil.Process(pid).cmdline())
        except psutil.Error:
            return None
        return pid if "supervisord" in cmdline else None

    async def running(self) -> bool:
        """True when supervisord answers on its socket."""
        if self.pid() is None:
            return False
        try:
            state = await self.call("getState")
        except (OSError, xmlrpc.client.Error):
            return False
        return bool(state.get("statename") == "RUNNING")

    async def start_daemon(self) -> None:
        """Start supervisord (it daemonizes) and wait until its API answers."""
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "supervisor.supervisord", "-c", str(self.state.supervisor_conf),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
        output, _ = await asyncio.wait_for(proc.communicate(), timeout=START_TIMEOUT)
        if proc.returncode != 0:
            raise RuntimeError(f"supervisord failed to start: {output.decode(errors='replace')}")
        deadline = time.monotonic() + START_TIMEOUT
        while not await self.running():
            if time.monotonic() > deadline:
                raise TimeoutError(f"supervisord did not answer on {self.state.supervisor_socket}")
            await asyncio.sleep(0.05)

    async def processes(self) -> dict[str, ProcessInfo]:
        """The stack's components by name; supervisord's helpers (the log-rotation listener)
        are not components and are left out."""
        infos = await self.call("getAllProcessInfo")
        return {
            i["name"]: ProcessInfo(i["name"], i["statename"], int(i["pid"]), i["description"])
            for i in infos
            if i["name"] in topology.BY_NAME
        }

    async def info(self, name: str) -> ProcessInfo:
        i = await self.call("getProcessInfo", name)
        return ProcessInfo(i["name"], i["statename"], int(i["pid"]), i["description"])

    async def start(self, name: str) -> None:
        """Ask supervisord to start a program without waiting (readiness is checked apart)."""
        with contextlib.suppress(xmlrpc.client.Fault):  # ALREADY_STARTED
            await self.call("startProcess", name, False)

    async def stop(self, name: str) -> None:
        with contextlib.suppress(xmlrpc.client.Fault):  # NOT_RUNNING
            await self.call("stopProcess", name, True)

    async def shutdown(self) -> None:
        """Stop every program (reverse priority: data last), then supervisord itself."""
        pid = self.pid()
        with contextlib.suppress(xmlrpc.client.Fault):
            await self.call("stopAllProcesses", True)
        with contextlib.suppress(xmlrpc.client.Fault, OSError):
            await self.call("shutdown")
        if pid is None:
            return
        deadline = time.monotonic() + STOP_TIMEOUT
        while psutil.pid_exists(pid) and _not_zombie(pid):
            if time.monotonic() > deadline:
                raise TimeoutError(f"supervisord (pid {pid}) still running")
            await asyncio.sleep(0.05)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.state.supervisor_socket)


def _not_zombie(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False
