"""The configuration compose.yaml's `config` job renders, checked without a Docker engine.

`python -m mockinfra.stack render --mode compose --out DIR` runs with no server binary on PATH
(only openssl, as in the image), writes what the compose services mount, names hosts by compose
service, and the real checkers (promtool, amtool, nginx -t) accept it. compose.yaml's commands,
volumes and the Dockerfile's entry points are checked against the same layout.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from mockinfra.common import topology
from mockinfra.stack import binaries, cli, dashboards, layout, render, rules

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "compose.yaml"
CONFIG_MOUNT = Path("/config")  # where every compose service mounts the `config` volume
RUNBOOK_BASE = "https://runbooks.example/mockinfra"
# Services built from the repository's Dockerfile.
IMAGE = "mockinfra:latest"


@pytest.fixture(scope="module")
def compose() -> dict[str, dict[str, Any]]:
    services: dict[str, dict[str, Any]] = yaml.safe_load(COMPOSE_FILE.read_text())["services"]
    return services


@pytest.fixture(scope="module")
def out(
    tmp_path_factory: pytest.TempPathFactory, system_binary: Callable[[str], str]
) -> Iterator[Path]:
    """The compose render, made through the CLI with openssl alone on PATH."""
    dest = tmp_path_factory.mktemp("compose") / "config"
    only_openssl = tmp_path_factory.mktemp("bin")
    openssl = system_binary("openssl")
    (only_openssl / "openssl").symlink_to(openssl)
    find = binaries.Binary.find

    def openssl_only(self: binaries.Binary) -> str | None:
        if self.key != "openssl":
            raise AssertionError(f"compose render looked up {self.key}")
        return find(self)

    def no_programs(*_: object) -> None:
        raise AssertionError("compose render must not plan local programs")

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PATH", str(only_openssl))
        mp.setenv(render.RUNBOOK_BASE_ENV, RUNBOOK_BASE)
        mp.setattr(binaries.Binary, "find", openssl_only)
        mp.setattr(render, "programs", no_programs)
        code = cli.main(["render", "--mode", "compose", "--out", str(dest), "--rules", "fast"])
    assert code == 0
    yield dest


def _load(path: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(path.read_text())
    return loaded


def _config_paths(svc: dict[str, Any]) -> list[Path]:
    """Every /config/... path in a service's command and environment."""
    words = [str(w) for w in svc.get("command", [])]
    words += [str(v) for v in svc.get("environment", {}).values()]
    found = []
    for word in words:
        for match in re.finditer(rf"{CONFIG_MOUNT}/[\w./-]+", word):
            found.append(Path(match.group(0)).relative_to(CONFIG_MOUNT))
    return found


def _mounts(svc: dict[str, Any]) -> dict[str, str]:
    """Container path -> source of each short-syntax volume."""
    return {v.split(":")[1]: v.split(":")[0] for v in svc.get("volumes", [])}


def _host(address: str) -> str:
    return address.rsplit(":", 1)[0]


def test_writes_the_files_of_the_contract(out: Path) -> None:
    expected = {
        "nginx.conf", "prometheus.yml", "alertmanager.yml", "loki.yaml", "promtail.yaml",
        "tls/cert.pem", "tls/key.pem",
        "grafana/provisioning/datasources/datasources.yml",
        "grafana/provisioning/dashboards/dashboards.yml",
    }  # fmt: skip
    written = {str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()}
    assert expected <= written
    assert {p.name for p in (out / "rules").glob("*.yml")} == {
        Path(t).name.removesuffix(".j2") for t in rules.rule_templates()
    }
    copied = {p.name for p in (out / "grafana" / "dashboards").glob("*.json")}
    assert copied == {p.name for p in dashboards.DASHBOARDS_DIR.glob("*.json")}


def test_every_file_compose_reads_from_the_config_volume_exists(
    out: Path, compose: dict[str, dict[str, Any]]
) -> None:
    readers = {
        n
        for n, svc in compose.items()
        if _mounts(svc).get(str(CONFIG_MOUNT)) == "config" and n != "config"  # config writes it
    }
    assert readers >= {"nginx", "prometheus", "alertmanager", "loki", "promtail", "grafana"}
    for name in readers:
        paths = _config_paths(compose[name])
        assert paths, f"{name} mounts the config volume but reads nothing from it"
        for rel in paths:
            assert (out / rel).exists(), f"{name} reads /config/{rel}, not rendered"


def test_absolute_paths_in_the_render_point_into_it(out: Path) -> None:
    """Paths to configuration resolve inside DIR, which every container mounts at /config."""
    for path in out.rglob("*"):
        if path.suffix not in {".conf", ".yml", ".yaml"}:
            continue
        for ref in re.findall(rf"{re.escape(str(out))}/[\w./*-]+", path.read_text()):
            assert list(out.parent.glob(str(Path(ref).relative_to(out.parent)))), (path, ref)
    assert f"{out}/rules/*.yml" in _load(out / "prometheus.yml")["rule_files"]


def test_hosts_are_compose_service_names(out: Path, compose: dict[str, dict[str, Any]]) -> None:
    prom = _load(out / "prometheus.yml")
    targets = {
        t: g["labels"]["__logical_instance"]
        for job in prom["scrape_configs"]
        for g in job["static_configs"]
        for t in g["targets"]
    }
    # Every scraped component, by its service name and scrape port (Loki and Promtail included:
    # they always run in compose).
    assert set(targets) == {f"{c.name}:{c.scrape_port}" for c in topology.COMPONENTS if c.scraped}
    assert targets["postgres-exporter:9187"] == "postgres"
    assert prom["global"]["external_labels"]["environment"] == "compose"
    (am,) = prom["alerting"]["alertmanagers"]
    assert am["static_configs"] == [{"targets": ["alertmanager:9093"]}]

    receivers = _load(out / "alertmanager.yml")["receivers"]
    urls = {c["url"] for r in receivers for c in r["webhook_configs"]}
    assert urls == {"http://alertsink:9095/webhook"}

    promtail = _load(out / "promtail.yaml")
    assert promtail["clients"] == [{"url": "http://loki:3100/loki/api/v1/push"}]
    sources = _load(out / "grafana/provisioning/datasources/datasources.yml")["datasources"]
    assert {s["uid"]: s["url"] for s in sources} == {
        "prometheus": "http://prometheus:9090",
        "loki": "http://loki:3100",
        "alertmanager": "http://alertmanager:9093",
    }
    nginx = (out / "nginx.conf").read_text()
    upstreams = re.findall(r"^\s*server (\S+?)[ ;]", nginx, flags=re.MULTILINE)
    assert upstreams == ["frontend:3001", *(f"{b}:{topology.component(b).port}"
                                            for b in topology.BACKEND_INSTANCES)]  # fmt: skip
    every_host = {_host(t) for t in targets} | {_host(u) for u in upstreams}
    every_host |= {"alertmanager", "alertsink", "loki", "prometheus"}
    assert every_host <= set(compose), every_host - set(compose)
    assert topology.HOST + ":" not in (out / "prometheus.yml").read_text()


def test_servers_listen_on_every_interface_of_their_container(out: Path) -> None:
    nginx = (out / "nginx.conf").read_text()
    listens = re.findall(r"^\s*listen ([^\s;]+)", nginx, flags=re.MULTILINE)
    assert listens == [f"0.0.0.0:{p}" for p in (8080, 8443, 4000)]
    assert set(listens) == {f"0.0.0.0:{p}" for p in topology.component("nginx").ports.values()}
    loki = _load(out / "loki.yaml")["server"]
    assert loki["http_listen_address"] == loki["grpc_listen_address"] == "0.0.0.0"
    assert _load(out / "promtail.yaml")["server"]["http_listen_address"] == "0.0.0.0"


def test_nginx_runs_in_the_foreground_with_scratch_in_tmp(out: Path) -> None:
    nginx = (out / "nginx.conf").read_text()
    assert re.search(r"^daemon off;$", nginx, flags=re.MULTILINE)
    assert re.search(r"^pid /tmp/[\w.]+;$", nginx, flags=re.MULTILINE)
    temps = re.findall(r"^\s*\w+_temp_path (\S+);", nginx, flags=re.MULTILINE)
    assert len(temps) == 5 and all(t.startswith("/tmp/") for t in temps)
    assert not re.search(r"^user ", nginx, flags=re.MULTILINE)  # the image's build default
    # stub_status for nginx-exporter, which scrapes it from another container.
    status = nginx[nginx.index("location = /nginx_status") :]
    status = status[: status.index("}")]
    assert set(re.findall(r"allow (\S+);", status)) >= set(layout.COMPOSE_NETWORKS)
    assert "deny all;" in status


def test_promtool_accepts_the_config_with_its_rules(
    out: Path, system_binary: Callable[[str], str]
) -> None:
    promtool = system_binary("promtool")
    done = subprocess.run(
        [promtool, "check", "config", str(out / "prometheus.yml")],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"{len(list((out / 'rules').glob('*.yml')))} rule files found" in done.stdout


def test_amtool_accepts_alertmanager_config(out: Path, system_binary: Callable[[str], str]) -> None:
    amtool = system_binary("amtool")
    done = subprocess.run(
        [amtool, "check-config", str(out / "alertmanager.yml")],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr


def test_runbook_links_use_the_configured_base(out: Path) -> None:
    text = "".join(p.read_text() for p in (out / "rules").glob("*.yml"))
    links = re.findall(r"runbook_url: (\S+)", text)
    assert links and all(link.startswith(RUNBOOK_BASE + "/") for link in links)


def test_nginx_accepts_the_compose_config(
    out: Path, tmp_path: Path, system_binary: Callable[[str], str]
) -> None:
    """`nginx -t` with the compose service names resolving through a private /etc/hosts.

    nginx resolves upstream names when it loads its config, so the check runs in a private mount
    namespace whose /etc/hosts names the services. The container-only paths (logs volume, /tmp)
    are moved into tmp_path in a copy; everything else is the rendered file.
    """
    nginx = system_binary("nginx")
    unshare = shutil.which("unshare")
    if unshare is None or os.geteuid() != 0:
        pytest.skip("needs root and unshare for a private /etc/hosts with the service names")
    logs, run = tmp_path / "logs", tmp_path / "run"
    logs.mkdir()
    run.mkdir()
    text = (out / "nginx.conf").read_text().replace(str(layout.COMPOSE_LOGS), str(logs))
    text = re.sub(
        rf"^(\s*(?:pid|\w+_temp_path) ){layout.COMPOSE_NGINX_RUN}/",
        rf"\g<1>{run}/",
        text,
        flags=re.MULTILINE,
    )
    conf = tmp_path / "nginx.conf"
    conf.write_text(text)
    hosts = tmp_path / "hosts"
    names = " ".join(c.name for c in topology.COMPONENTS)
    hosts.write_text(f"127.0.0.1 localhost\n127.0.0.1 {names}\n")
    script = 'mount --bind "$1" /etc/hosts && exec "$2" -t -c "$3" -e "$4"'
    argv = [unshare, "--mount", "sh", "-c", script, "sh", str(hosts), nginx, str(conf),
            str(logs / "nginx-error.log")]  # fmt: skip
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    if "mount" in done.stderr and "nginx" not in done.stderr:
        pytest.skip(f"no private mount namespace here: {done.stderr.strip()}")
    assert done.returncode == 0, done.stderr


def test_compose_commands_and_volumes_agree_with_the_layout(
    out: Path, compose: dict[str, dict[str, Any]]
) -> None:
    config = compose["config"]
    command = [str(w) for w in config["command"]]
    assert command[:3] == ["python", "-m", "mockinfra.stack"]
    args = [re.sub(r"\$\{MOCKINFRA_RULES:-(\w+)\}", r"\1", w) for w in command[3:]]
    parsed = cli._parser().parse_args(args)
    assert (parsed.command, parsed.mode, parsed.out) == ("render", "compose", CONFIG_MOUNT)
    assert _mounts(config)[str(CONFIG_MOUNT)] == "config"  # read-write for the one writer
    assert "MOCKINFRA_RUNBOOK_BASE" in config["environment"]

    logs = str(layout.COMPOSE_LOGS)
    nginx = compose["nginx"]
    assert nginx["command"] == ["nginx", "-c", f"{CONFIG_MOUNT}/nginx.conf",
                                "-e", f"{logs}/nginx-error.log"]  # fmt: skip
    assert _mounts(nginx)[logs] == "logs"
    assert _mounts(compose["loki"])[str(layout.COMPOSE_LOKI_DATA)] == "loki-data"
    promtail = _mounts(compose["promtail"])
    assert (promtail[logs], promtail[str(layout.COMPOSE_PROMTAIL_DATA)]) == (
        "logs", "promtail-data"
    )  # fmt: skip
    for name in ("nginx", "prometheus", "alertmanager", "loki", "promtail", "grafana"):
        mount = next(v for v in compose[name]["volumes"] if v.startswith("config:"))
        assert mount == f"config:{CONFIG_MOUNT}:ro", name

    # The Python services write the log files Promtail ships, under the names it expects.
    shipped = {
        job["static_configs"][0]["labels"]["__path__"]
        for job in _load(out / "promtail.yaml")["scrape_configs"]
    }
    for comp in topology.COMPONENTS:
        if comp.role is topology.Role.APP:
            svc = compose[comp.name]
            log_file = svc["environment"]["MOCKINFRA_LOG_FILE"]
            assert log_file == f"{logs}/{comp.name}.log"
            assert log_file in shipped
            assert _mounts(svc)[logs] == "logs"
    assert f"{logs}/nginx.log" in shipped and f"{logs}/nginx-error.log" in shipped
    assert f"access_log {logs}/nginx.log json buffer=" in (out / "nginx.conf").read_text()


def test_dockerfile_installs_from_the_lock() -> None:
    text = (ROOT / "Dockerfile").read_text()
    builder = text[: text.index("AS runtime")]
    syncs = re.findall(r"uv sync [^\n]*", builder)
    assert syncs and all("--frozen" in s for s in syncs), syncs
    assert re.search(r"source=uv\.lock|COPY [^\n]*uv\.lock|^COPY \. ", builder, re.MULTILINE)
    assert not re.search(r"\b(pip install|uv pip install|uv lock)\b", text)
    runtime = text[text.index("AS runtime") :]
    assert re.search(r"apt-get install [^\n]*\bopenssl\b", runtime)  # the config job's one tool
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    ignored = {line.strip() for line in lines if line.strip() and not line.startswith("#")}
    needed = {"uv.lock", "pyproject.toml", "libs", "services", "infra"}
    assert not {p for p in ignored if p.strip("/") in needed}


def test_image_entry_points_exist(compose: dict[str, dict[str, Any]]) -> None:
    """Every command the image runs is a module of the workspace with a __main__."""
    text = (ROOT / "Dockerfile").read_text()
    (cmd,) = re.findall(r"^CMD (\[.*\])", text, flags=re.MULTILINE)
    commands = [yaml.safe_load(cmd)]
    commands += [
        [str(w) for w in svc["command"]] for svc in compose.values() if svc.get("image") == IMAGE
    ]
    modules = set()
    for command in commands:
        assert command[:2] == ["python", "-m"], command
        modules.add(command[2])
    assert modules == {
        "mockinfra.frontend", "mockinfra.backend", "mockinfra.alertsink", "mockinfra.stack",
        "mockinfra.stack.logrotate",
    }  # fmt: skip
    for module in modules:
        spec = importlib.util.find_spec(module)
        assert spec is not None, module
        if spec.submodule_search_locations is not None:  # a package: runs its __main__
            assert importlib.util.find_spec(f"{module}.__main__") is not None, module
        else:
            assert spec.origin and 'if __name__ == "__main__":' in Path(spec.origin).read_text()
    rotate = subprocess.run(
        [sys.executable, "-m", "mockinfra.stack.logrotate", "--help"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert rotate.returncode == 0 and "--every" in rotate.stdout, rotate.stderr
    done = subprocess.run(
        [sys.executable, "-m", "mockinfra.backend", "--help"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    for name in topology.BACKEND_INSTANCES:
        assert compose[name]["command"][-2:] == ["--instance", name]
        assert name in done.stdout
