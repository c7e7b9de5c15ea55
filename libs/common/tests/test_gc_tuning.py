"""`tune_gc` in a fresh interpreter: it changes process-wide state the test run must keep."""

from __future__ import annotations

import json
import subprocess
import sys

PROBE = """
import gc, json
from mockinfra.common.gc_tuning import YOUNG_THRESHOLD, tune_gc
before = gc.get_threshold()
returned = tune_gc()
print(json.dumps({"before": before, "after": gc.get_threshold(), "returned": returned,
                  "frozen": gc.get_freeze_count(), "young": YOUNG_THRESHOLD}))
"""


def test_tune_gc_freezes_start_up_objects_and_raises_only_the_young_threshold() -> None:
    out = subprocess.run(
        [sys.executable, "-c", PROBE], check=True, capture_output=True, text=True, timeout=60
    ).stdout
    probe = json.loads(out)
    young = probe["young"]
    assert young > probe["before"][0]
    assert probe["after"] == [young, *probe["before"][1:]] == probe["returned"]
    assert probe["frozen"] > 1000  # the interpreter's and the imported modules' objects
