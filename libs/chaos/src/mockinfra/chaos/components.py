"""Component control for scenarios that stop, kill, freeze or reload a process.

The stack runner's supervisord does the supervising; this module asks it (over the stack's own
`Supervisor` client) for pids and to stop or start programs, and sends signals to the pids it
reports, so a killed process is restarted by supervisord exactly as after a real crash.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
import xmlrpc.client
from typing import Final, Protocol

from mockinfra.stack.state import State
from mockinfra.stack.supervisor import Supervisor

RUNNING_STATES: Final = frozenset({"RUNNING", "STARTING"})
READY_TIMEOUT: Final = 60.0


class ComponentControl(Protocol):
    """What scenarios need from the process supervisor; a fake implements it in unit tests."""

    async def state(self, name: str) -> str: ...

    async def pid(self, name: str) -> int: ...

    async def stop(self, name: str) -> None: ...

    async def start(self, name: str) -> None: ...

    async def signal(self, name: str, sig: signal.Signals) -> int: ...

    async def ensure_running(self, name: str, within: float = READY_TIMEOUT) -> None: ...

    async def names(self) -> list[str]: ...


class SupervisorComponents:
    """`ComponentControl` over the stack's supervisord (state folder from the environment)."""

    def __init__(self, state: State | None = None) -> None:
        self._sup = Supervisor(state or State.from_env())

    async def state(self, name: str) -> str:
        return (await self._sup.info(name)).state

    async def pid(self, name: str) -> int:
        return (await self._sup.info(name)).pid

    async def names(self) -> list[str]:
        return list(await self._sup.processes())

    async def stop(self, name: str) -> None:
        await self._sup.stop(name)

    async def start(self, name: str) -> None:
        await self._sup.start(name)

    async def signal(self, name: str, sig: signal.Signals) -> int:
        """Send `sig` to the program's pid; 0 when it has none (already down)."""
        pid = await self.pid(name)
        if pid > 0:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        return pid

    async def ensure_running(self, name: str, within: float = READY_TIMEOUT) -> None:
        """Bring a program back to RUNNING: thaw it, and restart it when stopped or failing.

        A crash loop leaves it in BACKOFF (or FATAL after `startretries`), where supervisord
        refuses `start`; stop-then-start resets its backoff.
        """
        pid = await self.pid(name)
        if pid > 0:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)  # harmless unless it was frozen
        current = await self.state(name)
        if current not in RUNNING_STATES:
            with contextlib.suppress(xmlrpc.client.Fault):
                await self._sup.stop(name)
            await self._sup.start(name)
        deadline = time.monotonic() + within
        while (current := await self.state(name)) != "RUNNING":
            if time.monotonic() > deadline:
                raise TimeoutError(f"{name} is {current}, not RUNNING, after {within:.0f} s")
            await asyncio.sleep(0.25)
