"""The state folder: every file the running stack writes lives here, nowhere else.

`MOCKINFRA_STATE_DIR` or `<repo>/.state`. Data survives `down`/`up`; `clean` removes the folder.
"""

from __future__ import annotations

import grp
import os
import pwd
import secrets
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from logging.handlers import RotatingFileHandler
from pathlib import Path
from typing import Final

from mockinfra.common.logging import LOG_BACKUPS, LOG_MAX_BYTES

REPO: Final = Path(__file__).resolve().parents[5]
INFRA: Final = REPO / "infra"
FAULT_TOKEN_ENV: Final = "MOCKINFRA_FAULT_TOKEN"
# Every component's log (sizes from mockinfra.common.logging): supervisord rotates what programs
# write to stdout at LOG_MAX_BYTES and keeps LOG_BACKUPS old files; nginx writes its own files,
# which `up` and the log-rotation listener (`mockinfra.stack.logrotate`) rotate the same way.
SELF_WRITTEN_LOGS: Final = ("nginx", "nginx-error")  # files nginx writes itself


def self_written_logs(folder: Path) -> list[Path]:
    """nginx's own log files in a logs folder (the state's locally, the logs volume in compose)."""
    return [folder / f"{name}.log" for name in SELF_WRITTEN_LOGS]


def rotate_large(paths: Iterable[Path], max_bytes: int = LOG_MAX_BYTES) -> list[Path]:
    """Rotate each file that reached `max_bytes` (`.log` -> `.log.1` ... `.log.{LOG_BACKUPS}`,
    the oldest dropped); returns the rotated files. Whoever writes them must reopen them."""
    rotated = []
    for path in paths:
        if path.is_file() and path.stat().st_size >= max_bytes:
            # The standard library's rotation; delay=True: the handler never opens the file.
            handler = RotatingFileHandler(path, backupCount=LOG_BACKUPS, delay=True)
            handler.doRollover()
            handler.close()
            rotated.append(path)
    return rotated


@dataclass(frozen=True, slots=True)
class State:
    """Paths inside one state folder."""

    root: Path

    @classmethod
    def from_env(cls) -> State:
        raw = os.environ.get("MOCKINFRA_STATE_DIR")
        return cls(Path(raw).resolve() if raw else REPO / ".state")

    @property
    def config(self) -> Path:
        return self.root / "config"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def tls(self) -> Path:
        return self.root / "tls"

    @property
    def run(self) -> Path:
        """Sockets, pid files and nginx's temporary folders."""
        return self.root / "run"

    @property
    def alertsink(self) -> Path:
        return self.root / "alertsink"

    @property
    def fault_token_file(self) -> Path:
        return self.root / "fault-token"

    @property
    def supervisor_socket(self) -> Path:
        return self.run / "supervisor.sock"

    @property
    def supervisor_pidfile(self) -> Path:
        return self.run / "supervisord.pid"

    @property
    def supervisor_conf(self) -> Path:
        return self.config / "supervisord.conf"

    def data_dir(self, name: str) -> Path:
        return self.data / name

    def log_file(self, component: str) -> Path:
        return self.logs / f"{component}.log"

    def rotate_large_logs(self) -> list[Path]:
        """Rotate the logs nginx writes itself that reached LOG_MAX_BYTES (`.log` -> `.log.1`
        ... `.log.{LOG_BACKUPS}`, the oldest dropped), as supervisord does for the others.
        A running nginx keeps writing to the renamed file until it is told to reopen its logs
        (`SIGUSR1`). Returns the rotated files."""
        return rotate_large(self_written_logs(self.logs))

    def ensure(self) -> None:
        """Create the folders (the TLS folder private to this user)."""
        for folder in (self.config, self.logs, self.data, self.run, self.alertsink):
            folder.mkdir(parents=True, exist_ok=True)
        for name in ("valkey", "prometheus", "alertmanager"):  # postgres: made by initdb
            self.data_dir(name).mkdir(exist_ok=True)
        self.tls.mkdir(mode=0o700, parents=True, exist_ok=True)

    def blocked_for(self, user: str) -> Path | None:
        """The first ancestor of the data folder that `user` cannot traverse, if any.

        When root runs the stack, PostgreSQL runs as `postgres` and must traverse every folder
        above its data folder; temporary folders (pytest's, mkdtemp's) are often 0700.
        """
        entry = pwd.getpwnam(user)
        groups = {g.gr_gid for g in grp.getgrall() if user in g.gr_mem} | {entry.pw_gid}
        for folder in reversed((self.data, *self.data.parents)):
            info = folder.stat()
            if info.st_uid == entry.pw_uid:
                allowed = info.st_mode & stat.S_IXUSR
            elif info.st_gid in groups:
                allowed = info.st_mode & stat.S_IXGRP
            else:
                allowed = info.st_mode & stat.S_IXOTH
            if not allowed:
                return folder
        return None

    def fault_token(self) -> str:
        """The fault-control token: from the environment, or generated once (mode 0600)."""
        if token := os.environ.get(FAULT_TOKEN_ENV):
            return token
        return _generated_once(self.fault_token_file)

    def secret(self, name: str) -> str:
        """A password generated on first use and kept in `secrets/` (mode 0600)."""
        folder = self.root / "secrets"
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        return _generated_once(folder / name)


def _generated_once(path: Path) -> str:
    """Read a random token from `path`, creating it (0600, never overwritten) the first time."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            # No trailing newline: Grafana's $__file{} reads the file verbatim.
            out.write(secrets.token_urlsafe(32))
    return path.read_text().strip()
