"""Sessions: the one entry point for every task, the same on a laptop and in CI.

Each session installs from `uv.lock` and calls a package entry point; the logic lives in the
packages (`mockinfra.stack`, ...), not here.
"""

from __future__ import annotations

import nox

nox.needs_version = ">=2024.10.9"
nox.options.default_venv_backend = "uv"
nox.options.error_on_missing_interpreters = True
nox.options.reuse_venv = "yes"  # sessions are re-run often (status, logs); uv sync keeps them exact
nox.options.sessions = ["lint", "test"]

PYTHON = "3.11"


def _sync(session: nox.Session, *groups: str) -> None:
    """Install the whole workspace into the session's venv, exactly as locked."""
    session.run_install(
        "uv",
        "sync",
        "--frozen",
        "--all-packages",
        *(f"--group={group}" for group in groups),
        env={"UV_PROJECT_ENVIRONMENT": session.virtualenv.location},
        silent=True,
    )


def _stack(session: nox.Session, command: str, *default: str) -> None:
    """Run one `python -m mockinfra.stack` command with the session's arguments."""
    _sync(session)
    session.run("python", "-m", "mockinfra.stack", command, *(session.posargs or default))


@nox.session(python=PYTHON)
def build(session: nox.Session) -> None:
    """Generate the gRPC stubs from proto/ with the pinned grpcio-tools."""
    _sync(session, "build")
    session.run("python", "scripts/gen_protos.py", *session.posargs)


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """Check formatting, lint and types (ruff, mypy)."""
    _sync(session, "lint", "test")
    session.run("ruff", "format", "--check", ".")
    session.run("ruff", "check", ".")
    session.run("mypy", "libs", "services", *session.posargs)


@nox.session(python=PYTHON)
def test(session: nox.Session) -> None:
    """Run the whole test suite: unit, integration against real servers, and the live stack."""
    _sync(session, "test", "build")
    session.run("pytest", *(session.posargs or ("-q",)))


@nox.session(python=PYTHON, default=False)
def unit(session: nox.Session) -> None:
    """The fast tests: everything but the live stack (real PostgreSQL/Valkey servers included)."""
    _sync(session, "test", "build")
    session.run("pytest", *(session.posargs or ("-q", "-m", "not stack")))


@nox.session(python=PYTHON, default=False)
def deps(session: nox.Session) -> None:
    """Install the missing system binaries (apt, as root or through sudo)."""
    _stack(session, "deps")


@nox.session(python=PYTHON, default=False)
def up(session: nox.Session) -> None:
    """Start every component of the stack, in dependency order, and print the URLs."""
    _stack(session, "up")


@nox.session(python=PYTHON, default=False)
def down(session: nox.Session) -> None:
    """Stop everything `up` started; every port is free afterwards."""
    _stack(session, "down")


@nox.session(python=PYTHON, default=False)
def status(session: nox.Session) -> None:
    """Show each component's pid, port, health and resident memory."""
    _stack(session, "status")


@nox.session(python=PYTHON, default=False)
def health(session: nox.Session) -> None:
    """The seed's health check: every endpoint answers."""
    _stack(session, "health")


@nox.session(python=PYTHON, default=False)
def logs(session: nox.Session) -> None:
    """Follow one component's log: `nox -s logs -- backend-1`."""
    _stack(session, "logs")


@nox.session(python=PYTHON, default=False)
def restart(session: nox.Session) -> None:
    """Restart one component: `nox -s restart -- frontend`."""
    _stack(session, "restart")


@nox.session(python=PYTHON, default=False)
def clean(session: nox.Session) -> None:
    """Remove the state folder (database, logs, certificates); the stack must be down."""
    _stack(session, "clean")


@nox.session(python=PYTHON, default=False)
def loadtest(session: nox.Session) -> None:
    """Drive realistic traffic through nginx with Locust: `-- --shape spike --users 50`."""
    _sync(session)
    session.run("python", "-m", "mockinfra.loadtest", *session.posargs)


@nox.session(python=PYTHON, default=False)
def bench(session: nox.Session) -> None:
    """Measure the cached read path's throughput against a bare chain of the same shape."""
    _sync(session)
    session.run("python", "-m", "mockinfra.loadtest.bench", *session.posargs)


@nox.session(python=PYTHON, default=False)
def chaos(session: nox.Session) -> None:
    """Run chaos scenarios with ground truth: `-- --list`, `-- cache-down`, `-- --recover-all`."""
    _sync(session)
    session.run("python", "-m", "mockinfra.chaos", *(session.posargs or ("--list",)))


@nox.session(python=PYTHON, default=False)
def eval(session: nox.Session) -> None:
    """Evaluate an agent on blind incidents: `-- --agent "COMMAND" --scenarios a,b`."""
    _sync(session)
    session.run("python", "-m", "mockinfra.eval", "run", *session.posargs)
