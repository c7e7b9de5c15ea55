"""Run real PostgreSQL and Valkey/Redis servers: for the test fixtures and for the stack runner.

The pieces are separate (init a cluster, the argv to run it, readiness, schema) so the stack
runner can hand the argv to its supervisor, while tests use the `PostgresServer` and
`ValkeyServer` context managers, which start the same argv as child processes in a temporary
folder and stop them by pid. Everything is synchronous: it runs before any event loop exists.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Self
from urllib.parse import quote

from mockinfra.common import topology
from mockinfra.stack import binaries

APP_ROLE: Final = "mockinfra_app"
ADMIN_ROLE: Final = "postgres"
DATABASE: Final = "mockinfra"
POSTGRES_OS_USER: Final = "postgres"  # PostgreSQL refuses to run as root


def _schema_dir() -> Path:
    """`infra/postgres` of the checkout this module runs from (an editable workspace install)."""
    if env := os.environ.get("MOCKINFRA_POSTGRES_INIT_DIR"):
        return Path(env)
    for parent in Path(__file__).resolve().parents:
        if (candidate := parent / "infra" / "postgres" / "schema.sql").is_file():
            return candidate.parent
    raise FileNotFoundError("infra/postgres/schema.sql not found above " + __file__)


# ---------------------------------------------------------------- generic helpers


def free_port() -> int:
    """A TCP port free on the loopback interface right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((topology.HOST, 0))
        return int(sock.getsockname()[1])


def wait_for_port(host: str, port: int, timeout: float = 30.0) -> None:
    """Block until something accepts TCP connections on host:port, or raise TimeoutError."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host, port), timeout=1.0):
                return
        except OSError as exc:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{host}:{port} not accepting connections: {exc}") from exc
            time.sleep(0.05)


def run_as_kwargs(user: str | None) -> dict[str, Any]:
    """`subprocess` keyword arguments that drop privileges to `user` (None: stay who we are)."""
    if user is None:
        return {}
    entry = pwd.getpwnam(user)
    env = {**os.environ, "HOME": entry.pw_dir, "USER": user, "LOGNAME": user}
    return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": [], "env": env}


def default_postgres_user() -> str | None:
    """The OS user PostgreSQL must run as: `postgres` when we are root, else ourselves."""
    return POSTGRES_OS_USER if os.geteuid() == 0 else None


def _terminate(proc: subprocess.Popen[bytes], sig: int, timeout: float) -> None:
    """Stop one child by pid: `sig`, then SIGKILL if it outlives `timeout`."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(proc.pid, sig)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


# ---------------------------------------------------------------- PostgreSQL


def postgres_bin(name: str) -> str:
    """Absolute path of a PostgreSQL program (initdb, postgres, pg_ctl, pg_isready, psql)."""
    if (binary := binaries.BY_KEY.get(name)) is not None and (found := binary.find()):
        return found
    if found := shutil.which(name):
        return found
    pg = binaries.BY_KEY["postgres"]
    for pattern in pg.extra_dirs:
        for folder in sorted(Path("/").glob(pattern.lstrip("/")), reverse=True):
            if found := shutil.which(name, path=str(folder)):
                return found
    raise FileNotFoundError(f"PostgreSQL program {name!r} not found on PATH or in {pg.extra_dirs}")


def init_postgres_cluster(
    datadir: Path,
    port: int,
    *,
    admin_password: str,
    run_as: str | None = None,
) -> None:
    """Create a cluster in `datadir` (which must not hold one yet), reachable on 127.0.0.1 only.

    TCP connections need a SCRAM password; the Unix socket lives inside `datadir` and trusts
    only the cluster's own OS user. When we are root, initdb runs as `run_as` (default
    `postgres`), who then owns `datadir`; its parent folders must let that user through.
    """
    run_as = run_as or default_postgres_user()
    datadir.mkdir(parents=True, exist_ok=True)
    if run_as is not None:
        entry = pwd.getpwnam(run_as)
        os.chown(datadir, entry.pw_uid, entry.pw_gid)
    datadir.chmod(0o700)
    # The password file is readable by the cluster's user only and removed right after initdb.
    fd, pwfile = tempfile.mkstemp(prefix="pgpw-", dir=datadir.parent)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(admin_password + "\n")
        if run_as is not None:
            os.chown(pwfile, pwd.getpwnam(run_as).pw_uid, -1)
        subprocess.run(
            [
                postgres_bin("initdb"),
                "--pgdata",
                str(datadir),
                "--username",
                ADMIN_ROLE,
                "--pwfile",
                pwfile,
                "--auth-host=scram-sha-256",
                "--auth-local=peer",
                "--encoding=UTF8",
                "--locale=C",
                "--no-instructions",
            ],
            check=True,
            capture_output=True,
            timeout=120,
            **run_as_kwargs(run_as),
        )
    finally:
        Path(pwfile).unlink(missing_ok=True)
    (datadir / "pg_hba.conf").write_text(
        "# written by mockinfra.stack.servers: socket for the owner, TCP on loopback only\n"
        "local all all peer\n"
        "host all all 127.0.0.1/32 scram-sha-256\n"
    )
    with (datadir / "postgresql.conf").open("a") as conf:
        conf.write(
            "\n# mockinfra\n"
            "listen_addresses = '127.0.0.1'\n"
            f"port = {port}\n"
            f"unix_socket_directories = '{datadir}'\n"
            "max_connections = 100\n"
            "log_min_duration_statement = 1000\n"
        )


def postgres_command(
    datadir: Path, port: int, *, settings: Mapping[str, str] | None = None
) -> list[str]:
    """argv that runs the server in the foreground (it must run as the cluster's OS user)."""
    argv = [
        postgres_bin("postgres"),
        "-D",
        str(datadir),
        "-p",
        str(port),
        "-c",
        "listen_addresses=127.0.0.1",
        "-c",
        f"unix_socket_directories={datadir}",
    ]
    for key, value in (settings or {}).items():
        argv += ["-c", f"{key}={value}"]
    return argv


def dsn(
    port: int, *, user: str, password: str, database: str = DATABASE, host: str = topology.HOST
) -> str:
    """A libpq URL (`postgresql://`); the backend turns it into its driver's form."""
    return (
        f"postgresql://{quote(user, safe='')}:{quote(password, safe='')}@{host}:{port}/{database}"
    )


def postgres_ready(host: str, port: int) -> bool:
    """True when the server accepts connections (pg_isready; no credentials needed)."""
    result = subprocess.run(
        [postgres_bin("pg_isready"), "-q", "-h", host, "-p", str(port), "-t", "2"],
        check=False,
        capture_output=True,
        timeout=10,
    )
    return result.returncode == 0


def wait_for_postgres(host: str, port: int, timeout: float = 60.0) -> None:
    """Block until PostgreSQL accepts connections, or raise TimeoutError."""
    deadline = time.monotonic() + timeout
    while not postgres_ready(host, port):
        if time.monotonic() > deadline:
            raise TimeoutError(f"PostgreSQL on {host}:{port} not ready after {timeout} s")
        time.sleep(0.1)


def psql(admin_dsn: str, *, sql: str | None = None, file: Path | None = None) -> str:
    """Run SQL through psql, stopping at the first error; returns stdout."""
    argv = [postgres_bin("psql"), "--no-psqlrc", "-q", "-v", "ON_ERROR_STOP=1", "-X", "-At"]
    argv += ["-d", admin_dsn]
    argv += ["-c", sql] if sql is not None else ["-f", str(file)]
    result = subprocess.run(argv, check=False, capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        raise RuntimeError(f"psql failed ({result.returncode}): {result.stderr.strip()}")
    return result.stdout


def create_database(maintenance_dsn: str, name: str = DATABASE) -> None:
    """Create database `name` unless it exists (the DSN points at an existing database)."""
    exists = psql(maintenance_dsn, sql=f"SELECT 1 FROM pg_database WHERE datname = '{name}'")
    if not exists.strip():
        psql(maintenance_dsn, sql=f'CREATE DATABASE "{name}"')


def apply_schema(admin_dsn: str, *, app_password: str) -> None:
    """Apply schema.sql, then roles.sql and the app role's password. Idempotent.

    The one function the stack runner and the test fixtures both use to prepare a database.
    """
    folder = _schema_dir()
    psql(admin_dsn, file=folder / "schema.sql")
    psql(admin_dsn, file=folder / "roles.sql")
    literal = app_password.replace("'", "''")
    psql(admin_dsn, sql=f"ALTER ROLE {APP_ROLE} WITH LOGIN PASSWORD '{literal}'")


def bootstrap_database(
    port: int, *, admin_password: str, app_password: str, database: str = DATABASE
) -> tuple[str, str]:
    """Create the database and apply the schema; returns (admin DSN, app DSN)."""
    create_database(dsn(port, user=ADMIN_ROLE, password=admin_password, database="postgres"))
    admin = dsn(port, user=ADMIN_ROLE, password=admin_password, database=database)
    apply_schema(admin, app_password=app_password)
    return admin, dsn(port, user=APP_ROLE, password=app_password, database=database)


# ---------------------------------------------------------------- Valkey / Redis


def valkey_bin() -> str:
    """valkey-server when installed, else redis-server (the same protocol)."""
    if found := binaries.BY_KEY["valkey"].find():
        return found
    raise FileNotFoundError("neither valkey-server nor redis-server is on PATH")


def valkey_command(port: int, datadir: Path, *, maxmemory: str = "256mb") -> list[str]:
    """argv that runs Valkey in the foreground as the seed configures it (LRU, no persistence)."""
    return [
        valkey_bin(),
        "--bind",
        topology.HOST,
        "--port",
        str(port),
        "--maxmemory",
        maxmemory,
        "--maxmemory-policy",
        "allkeys-lru",
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        str(datadir),
        "--daemonize",
        "no",
    ]


def valkey_ping(host: str, port: int) -> bool:
    """True when the server answers PING with PONG (not merely accepts the connection)."""
    try:
        with socket.create_connection((host, port), timeout=1.0) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def wait_for_valkey(host: str, port: int, timeout: float = 30.0) -> None:
    """Block until Valkey answers PING, or raise TimeoutError."""
    deadline = time.monotonic() + timeout
    while not valkey_ping(host, port):
        if time.monotonic() > deadline:
            raise TimeoutError(f"Valkey on {host}:{port} not answering PING after {timeout} s")
        time.sleep(0.05)


# ---------------------------------------------------------------- test-side process handles


class _Process:
    """One server child process in its own folder, started from an argv and stopped by its pid."""

    def __init__(self, name: str, root: Path) -> None:
        self.name = name
        self.root = root
        self.log = root / f"{name}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> object:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def cleanup(self) -> None:
        """Stop the server and remove its folder."""
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.cleanup()

    def _spawn(self, argv: Sequence[str], **kwargs: Any) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                list(argv), stdout=out, stderr=subprocess.STDOUT, start_new_session=True, **kwargs
            )

    def _check_alive(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            tail = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
            raise RuntimeError(f"{self.name} exited early:\n{tail}")

    def _stop(self, sig: int) -> None:
        if self.proc is not None:
            _terminate(self.proc, sig, timeout=30)
            self.proc = None

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


@dataclass(frozen=True, slots=True)
class PostgresInfo:
    """What a test needs to reach a started PostgreSQL."""

    port: int
    admin_dsn: str
    app_dsn: str
    app_password: str  # for re-applying the schema, which sets it again


class PostgresServer(_Process):
    """A throwaway PostgreSQL cluster with the schema applied, for tests.

    Its folder is made with `tempfile.mkdtemp` (not pytest's 0700 tmp folder), because the
    server runs as the unprivileged `postgres` user, who must be able to reach it.
    """

    def __init__(self, *, port: int | None = None, root: Path | None = None) -> None:
        folder = Path(root or tempfile.mkdtemp(prefix="mockinfra-pg-"))
        folder.chmod(0o755)
        super().__init__("postgres", folder)
        self.port = port or free_port()
        self.datadir = self.root / "data"
        self.run_as = default_postgres_user()
        self.admin_password = secrets.token_urlsafe(16)
        self.app_password = secrets.token_urlsafe(16)
        self.info: PostgresInfo | None = None

    def start(self) -> PostgresInfo:
        if not (self.datadir / "PG_VERSION").exists():
            init_postgres_cluster(
                self.datadir, self.port, admin_password=self.admin_password, run_as=self.run_as
            )
        if self.run_as is not None:
            entry = pwd.getpwnam(self.run_as)
            self.log.touch()
            os.chown(self.log, entry.pw_uid, entry.pw_gid)
        # fsync off: a test database need not survive a power cut, and this is much faster.
        argv = postgres_command(self.datadir, self.port, settings={"fsync": "off"})
        self._spawn(argv, **run_as_kwargs(self.run_as))
        deadline = time.monotonic() + 60
        while not postgres_ready(topology.HOST, self.port):
            self._check_alive()
            if time.monotonic() > deadline:
                raise TimeoutError(f"PostgreSQL on port {self.port} not ready")
            time.sleep(0.1)
        if self.info is None:
            admin, app = bootstrap_database(
                self.port, admin_password=self.admin_password, app_password=self.app_password
            )
            self.info = PostgresInfo(self.port, admin, app, self.app_password)
        return self.info

    def stop(self) -> None:
        """Fast shutdown (SIGINT): aborts open sessions, like a crash the app must survive."""
        self._stop(signal.SIGINT)


class ValkeyServer(_Process):
    """A throwaway Valkey/Redis server for tests; `stop()` and `start()` keep its port."""

    def __init__(self, *, port: int | None = None, root: Path | None = None) -> None:
        super().__init__("valkey", Path(root or tempfile.mkdtemp(prefix="mockinfra-valkey-")))
        self.port = port or free_port()

    @property
    def url(self) -> str:
        return f"redis://{topology.HOST}:{self.port}/0"

    def start(self) -> str:
        self._spawn(valkey_command(self.port, self.root))
        deadline = time.monotonic() + 30
        while not valkey_ping(topology.HOST, self.port):
            self._check_alive()
            if time.monotonic() > deadline:
                raise TimeoutError(f"Valkey on port {self.port} not answering PING")
            time.sleep(0.05)
        return self.url

    def stop(self) -> None:
        self._stop(signal.SIGTERM)


@contextlib.contextmanager
def running_postgres() -> Iterator[PostgresInfo]:
    """A started, schema-applied PostgreSQL for the duration of the block."""
    with PostgresServer() as server:
        assert server.info is not None
        yield server.info


@contextlib.contextmanager
def running_valkey() -> Iterator[ValkeyServer]:
    """A started Valkey for the duration of the block."""
    with ValkeyServer() as server:
        yield server
