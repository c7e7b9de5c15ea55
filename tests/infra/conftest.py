"""Shared checks for the observability configuration tests."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
import yaml

PromqlCheck = Callable[[Sequence[str]], None]


@pytest.fixture
def check_promql(tmp_path: Path, system_binary: Callable[[str], str]) -> PromqlCheck:
    """Assert that PromQL expressions parse.

    promtool cannot parse a bare expression, but it checks recording rules: one rule per query.
    """
    promtool = system_binary("promtool")

    def check(exprs: Sequence[str]) -> None:
        rules = [{"record": f"check:query_{i}:parse", "expr": e} for i, e in enumerate(exprs)]
        path = tmp_path / "queries.yml"
        path.write_text(yaml.safe_dump({"groups": [{"name": "queries", "rules": rules}]}))
        result = subprocess.run(
            [promtool, "check", "rules", str(path)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        assert f"SUCCESS: {len(rules)} rules found" in result.stdout

    return check
