"""Grafana provisioning and dashboards: committed JSON is current, panels use provisioned
datasources, every PromQL expression parses, and the server config keeps auth on."""

from __future__ import annotations

import configparser
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml

from mockinfra.common import topology
from mockinfra.stack import dashboards

REQUIRED = {"overview", "backends", "data", "nginx", "logs", "alerts"}


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    dest = tmp_path_factory.mktemp("grafana")
    dashboards.render_grafana(
        dest, state_dir=dest / "state", admin_password_file=dest / "state" / "secrets" / "admin"
    )
    return dest


def _models() -> list[dict[str, Any]]:
    return [json.loads(p.read_text()) for p in sorted(dashboards.DASHBOARDS_DIR.glob("*.json"))]


def test_committed_dashboards_are_current() -> None:
    """Regenerate with `python -m mockinfra.stack.dashboards` after changing the module."""
    expected = {dashboards.file_name(d): dashboards.render(d) for d in dashboards.dashboards()}
    committed = {p.name: p.read_text() for p in dashboards.DASHBOARDS_DIR.glob("*.json")}
    assert committed == expected
    assert {name.removesuffix(".json") for name in committed} == REQUIRED


def test_provisioned_datasources_have_fixed_uids(rendered: Path) -> None:
    path = rendered / "grafana" / "provisioning" / "datasources" / "datasources.yml"
    sources = {d["uid"]: d for d in yaml.safe_load(path.read_text())["datasources"]}
    assert set(sources) == dashboards.DATASOURCE_UIDS
    assert sources["prometheus"]["url"] == topology.url("prometheus")
    assert sources["loki"]["url"] == topology.url("loki")
    assert sources["alertmanager"]["url"] == topology.url("alertmanager")
    assert {d["type"] for d in sources.values()} == {"prometheus", "loki", "alertmanager"}


def test_panels_reference_only_provisioned_datasources() -> None:
    for model in _models():
        refs = [v["datasource"] for v in model["templating"]["list"]]
        for panel in model["panels"]:
            if "datasource" in panel:
                refs.append(panel["datasource"])
            refs.extend(t["datasource"] for t in panel.get("targets", []))
        unknown = [r for r in refs if r["uid"] not in dashboards.DATASOURCE_UIDS]
        assert unknown == [], model["title"]


def test_dashboard_provider_points_at_the_committed_dashboards(rendered: Path) -> None:
    path = rendered / "grafana" / "provisioning" / "dashboards" / "dashboards.yml"
    (provider,) = yaml.safe_load(path.read_text())["providers"]
    assert Path(provider["options"]["path"]) == dashboards.DASHBOARDS_DIR
    assert provider["allowUiUpdates"] is False


def test_layout_ids_and_uids() -> None:
    models = _models()
    assert len({m["uid"] for m in models}) == len(models)
    for model in models:
        ids = [p["id"] for p in model["panels"]]
        assert len(ids) == len(set(ids)), model["title"]
        cells: set[tuple[int, int]] = set()
        for panel in model["panels"]:
            pos = panel["gridPos"]
            assert pos["x"] + pos["w"] <= 24, panel["title"]
            area = {
                (x, y)
                for x in range(pos["x"], pos["x"] + pos["w"])
                for y in range(pos["y"], pos["y"] + pos["h"])
            }
            assert not cells & area, f"{model['title']}: {panel['title']} overlaps"
            cells |= area


def test_every_promql_expression_parses(check_promql: Callable[[Sequence[str]], None]) -> None:
    queries = dashboards.iter_dashboard_queries()
    assert len(queries) > 40
    check_promql([expr for _, _, expr in queries])


def test_queries_have_no_unfilled_variables() -> None:
    for dashboard, panel, expr in [
        *dashboards.iter_dashboard_queries(),
        *dashboards.iter_dashboard_log_queries(),
    ]:
        assert "$" not in expr, f"{dashboard} / {panel}: {expr}"


def test_every_dashboard_has_queries_of_the_right_kind() -> None:
    by_dashboard: dict[str, int] = {}
    for title, _, _ in dashboards.iter_dashboard_queries():
        by_dashboard[title] = by_dashboard.get(title, 0) + 1
    logs = {title for title, _, _ in dashboards.iter_dashboard_log_queries()}
    assert logs == {"mockinfra / Logs"}
    assert set(by_dashboard) == {m["title"] for m in _models()} - logs


def test_grafana_ini_keeps_auth_on_and_the_password_out(rendered: Path) -> None:
    ini = configparser.ConfigParser(interpolation=None)
    ini.read(rendered / "grafana.ini")
    assert ini["server"]["http_addr"] == topology.HOST
    assert ini.getint("server", "http_port") == topology.component("grafana").port
    assert ini.getboolean("auth.anonymous", "enabled") is False
    assert ini["security"]["admin_password"] == (
        f"$__file{{{rendered / 'state' / 'secrets' / 'admin'}}}"
    )
    for template in dashboards.GRAFANA_DIR.rglob("*.j2"):
        for line in template.read_text().splitlines():
            if line.startswith("admin_password"):
                assert "$__file{" in line, f"{template}: literal admin password"
