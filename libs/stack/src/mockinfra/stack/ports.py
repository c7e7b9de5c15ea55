"""Which topology ports are free, and who holds the ones that are not."""

from __future__ import annotations

import errno
import socket
from collections.abc import Iterable
from dataclasses import dataclass

import psutil

from mockinfra.common import topology


@dataclass(frozen=True, slots=True)
class Conflict:
    component: str
    port: int
    holder: str  # "pid 1234 (python3)" or "unknown process"

    def __str__(self) -> str:
        return f"port {self.port} ({self.component}) is already in use by {self.holder}"


def stack_ports(names: Iterable[str]) -> list[tuple[str, int]]:
    """(component, port) for every port of the named components."""
    return [(name, port) for name in names for port in topology.component(name).ports.values()]


def _bindable(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((topology.HOST, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return False
            raise
    return True


def holders() -> dict[int, int | None]:
    """Listening TCP port -> pid (None when the OS does not tell us, e.g. another user's)."""
    found: dict[int, int | None] = {}
    try:
        conns = psutil.net_connections(kind="tcp")
    except psutil.AccessDenied:
        return found
    for conn in conns:
        if conn.status == psutil.CONN_LISTEN and conn.laddr:
            found.setdefault(conn.laddr.port, conn.pid)
    return found


def describe(pid: int | None) -> str:
    if pid is None:
        return "an unknown process"
    try:
        proc = psutil.Process(pid)
        return f"pid {pid} ({proc.name()}: {' '.join(proc.cmdline())[:120]})"
    except psutil.Error:
        return f"pid {pid}"


def conflicts(ports: Iterable[tuple[str, int]]) -> list[Conflict]:
    """Ports someone is listening on (checked by psutil and by trying to bind)."""
    listening = holders()
    result = []
    for name, port in ports:
        if port in listening or not _bindable(port):
            result.append(Conflict(name, port, describe(listening.get(port))))
    return result


def busy(ports: Iterable[tuple[str, int]]) -> list[tuple[str, int]]:
    """Ports still listened on (used by `down` to wait until everything is free)."""
    listening = holders()
    return [(n, p) for n, p in ports if p in listening or not _bindable(p)]
