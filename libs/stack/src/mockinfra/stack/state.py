"""The state folder: every file the running stack writes lives here, nowhere else.

`MOCKINFRA_STATE_DIR` or `<repo>/.state`. Data survives `down`/`up`; `clean` removes the folder.
"""

from __future__ import annotations

import os
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Final

REPO: Final = Path(__file__).resolve().parents[5]
INFRA: Final = REPO / "infra"
FAULT_TOKEN_ENV: Final = "MOCKINFRA_FAULT_TOKEN"


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

    def ensure(self, *, traverse_for_others: bool) -> None:
        """Create the folders; with `traverse_for_others`, let PostgreSQL's own user reach its data.

        When root runs the stack PostgreSQL runs as `postgres`, which must be able to traverse
        every ancestor of its data folder. Temporary folders (pytest's, mkdtemp's) are 0700, so
        the execute (search) bit, and only it, is added on the ancestors this user owns.
        """
        for folder in (self.config, self.logs, self.data, self.run, self.alertsink):
            folder.mkdir(parents=True, exist_ok=True)
        for name in ("valkey", "prometheus", "alertmanager"):  # postgres: made by initdb
            self.data_dir(name).mkdir(exist_ok=True)
        self.tls.mkdir(mode=0o700, parents=True, exist_ok=True)
        if traverse_for_others:
            for folder in (self.data, self.run, self.logs, *self.root.parents, self.root):
                info = folder.stat()
                if info.st_uid == os.getuid() and not info.st_mode & stat.S_IXOTH:
                    folder.chmod(stat.S_IMODE(info.st_mode) | stat.S_IXOTH)

    def fault_token(self) -> str:
        """The fault-control token: from the environment, or generated once (mode 0600)."""
        if token := os.environ.get(FAULT_TOKEN_ENV):
            return token
        return _generated_once(self.fault_token_file)

    def secret(self, name: str) -> str:
        """A password generated on first use and kept in `secrets/` (mode 0600)."""
        folder = self.root / "secrets"
        folder.mkdir(mode=0o700, exist_ok=True)
        return _generated_once(folder / name)


def _generated_once(path: Path) -> str:
    """Read a random token from `path`, creating it (0600, never overwritten) the first time."""
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_urlsafe(32) + "\n")
    return path.read_text().strip()
