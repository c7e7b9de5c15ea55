"""The rendered configuration is valid for the real programs that read it (no server started)."""

from __future__ import annotations

import shlex
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from mockinfra.common import topology
from mockinfra.common.logging import LOG_BACKUPS, LOG_MAX_BYTES
from mockinfra.common.profiles import ProfileName
from mockinfra.stack.programs import Options, RulesProfile, programs
from mockinfra.stack.render import (
    ACCESS_LOG_BUFFER,
    render_nginx,
    render_prometheus,
    render_supervisord,
    supervisor_command,
    supervisor_environment,
)
from mockinfra.stack.state import State


@pytest.fixture
def state(tmp_path: Path) -> State:
    st = State(tmp_path / "state")
    st.ensure()
    return st


def test_prometheus_targets_carry_logical_names(state: State) -> None:
    running = {c.name for c in topology.COMPONENTS if not c.optional}
    config = yaml.safe_load(render_prometheus(state, running))
    assert config["global"]["scrape_interval"] == "15s"
    seen: dict[str, tuple[str, str, bool]] = {}
    for job in config["scrape_configs"]:
        for group in job["static_configs"]:
            (address,) = group["targets"]
            seen[address] = (group["labels"]["__logical_instance"], group["labels"]["service"],
                             job.get("honor_labels", False))  # fmt: skip
        assert job["relabel_configs"] == [
            {"source_labels": ["__logical_instance"], "target_label": "instance"}
        ]
    expected = {
        f"{topology.HOST}:{c.scrape_port}": (
            topology.EXPORTS.get(c.name, c.name),
            c.service,
            c.role is topology.Role.APP,
        )
        for c in topology.COMPONENTS
        if c.scraped and c.name in running
    }
    assert seen == expected
    assert seen[f"{topology.HOST}:9187"][:2] == ("postgres", "postgres")
    assert seen[f"{topology.HOST}:9121"][:2] == ("valkey", "valkey")


def test_promtool_accepts_the_prometheus_config(
    state: State, system_binary: Callable[[str], str]
) -> None:
    promtool = system_binary("promtool")
    running = {c.name for c in topology.COMPONENTS if not c.optional}
    (state.config / "rules").mkdir()
    path = state.config / "prometheus.yml"
    path.write_text(render_prometheus(state, running))
    result = subprocess.run(
        [promtool, "check", "config", "--syntax-only", str(path)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


def test_nginx_accepts_its_config(
    state: State, tmp_path: Path, system_binary: Callable[[str], str]
) -> None:
    nginx = system_binary("nginx")
    openssl = system_binary("openssl")
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost",
         "-keyout", str(state.tls / "key.pem"), "-out", str(state.tls / "cert.pem")],
        capture_output=True, timeout=60, check=True,
    )  # fmt: skip
    (state.run / "nginx").mkdir()
    conf = state.config / "nginx.conf"
    text = render_nginx(state)
    conf.write_text(text)
    result = subprocess.run(
        [nginx, "-t", "-p", str(state.run / "nginx"), "-e", str(state.logs / "nginx-error.log"),
         "-c", str(conf)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    grpc = topology.component("nginx").extra_ports["grpc"]
    assert f"listen {topology.HOST}:{grpc} http2;" in text
    for name in topology.BACKEND_INSTANCES:
        port = topology.component(name).port
        assert f"server {topology.HOST}:{port} max_fails=3 fail_timeout=30s;" in text
    # Both servers write one buffered access log.
    access_logs = [line.strip() for line in text.splitlines() if "access_log /" in line]
    log = state.log_file("nginx")
    assert access_logs == [f"access_log {log} json buffer={ACCESS_LOG_BUFFER} flush=1s;"] * 2


def test_supervisor_values_survive_its_parser() -> None:
    from supervisor.datatypes import dict_of_key_value_pairs

    argv = ["redis-server", "--save", "", "--dir", "/tmp/a b", "--x=50%"]
    assert shlex.split(supervisor_command(argv).replace("%%", "%")) == argv
    env = {"A": 'pa"ss%word', "B": "postgresql://u:p@127.0.0.1:5433/db"}
    parsed = dict_of_key_value_pairs(supervisor_environment(env).replace("%%", "%"))
    assert parsed == env


def test_supervisord_config_has_one_program_per_component(state: State) -> None:
    progs, skipped = programs(state, Options(ProfileName.QUIET, RulesProfile.FAST))
    text = render_supervisord(state, progs)
    names = {p.name for p in progs} | {s.name for s in skipped}
    assert names == set(topology.BY_NAME)
    for prog in progs:
        assert f"[program:{prog.name}]" in text
        assert f"stdout_logfile={state.log_file(prog.name)}" in text
    assert text.count("autorestart=true") == len(progs) + 1  # + the log-rotation listener
    assert text.count(f"stdout_logfile_maxbytes={LOG_MAX_BYTES}\n") == len(progs)
    assert text.count(f"stdout_logfile_backups={LOG_BACKUPS}\n") == len(progs)
    backend = next(p for p in progs if p.name == "backend-2")
    assert backend.environment["MOCKINFRA_PROFILE"] == "quiet"
    assert backend.environment["MOCKINFRA_INSTANCE"] == "backend-2"
    assert "mockinfra_app" in backend.environment["MOCKINFRA_DATABASE_URL"]


def test_logs_nginx_writes_itself_are_rotated_like_supervisords(state: State) -> None:
    big, small = state.log_file("nginx"), state.log_file("nginx-error")
    big.write_bytes(b"x" * LOG_MAX_BYTES)
    older = big.with_name("nginx.log.1")
    older.write_text("older\n")
    small.write_text("a few lines\n")
    assert state.rotate_large_logs() == [big]
    assert not big.exists()
    assert big.with_name("nginx.log.1").stat().st_size == LOG_MAX_BYTES
    assert big.with_name("nginx.log.2").read_text() == "older\n"
    assert small.read_text() == "a few lines\n"  # under the size: left as it is
    assert state.rotate_large_logs() == []
