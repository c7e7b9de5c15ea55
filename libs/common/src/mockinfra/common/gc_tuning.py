"""CPython's cycle collector, set for a long-running service under concurrent load.

Measured on the frontend under 64 concurrent requests (docs/performance.md, ninth round): with
the default thresholds (700, 10, 10) the collector took 14% of the process's CPU. A request
allocates about 90 container objects, so a young collection ran every 8 requests; the objects
of the requests in flight (each alive for tens of milliseconds) survived those collections and
were promoted, so a full collection over the ~85,000 objects of the imported modules and the
app ran every 1,000 requests at about 55 ms each.

`tune_gc()` is called once the app is built by what runs a service process
(`runtime.serve_http`, `grpc_server.serve`, the backend's `server.run`), never while an app is
only built, so a test process keeps its own settings:

- `gc.freeze()` moves everything start-up made into the permanent generation: modules, routes
  and protobuf descriptors live as long as the process, and no collection walks them again;
- the young threshold goes to YOUNG_THRESHOLD, so a young collection runs every couple of
  hundred requests instead of every eight, and most requests' objects are freed by their
  reference counts before one runs (requests seldom make cycles; what cycles they do make
  wait a little longer to be collected, at most YOUNG_THRESHOLD objects).

`python_gc_*` metrics (collections and objects collected per generation) show the effect.
"""

from __future__ import annotations

import gc
import logging
from typing import Final

YOUNG_THRESHOLD: Final = 20_000

log = logging.getLogger("mockinfra.gc")


def tune_gc(young_threshold: int = YOUNG_THRESHOLD) -> tuple[int, int, int]:
    """Collect once, freeze what remains, raise the young threshold; returns the thresholds.

    Says so in the log (`mockinfra.gc`), with how many objects were frozen.
    """
    gc.collect()  # what start-up left as garbage is freed, not frozen
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(young_threshold, older, oldest)
    thresholds = (young_threshold, older, oldest)
    frozen = gc.get_freeze_count()
    log.info(
        "garbage collector tuned: %d start-up objects frozen, thresholds %s",
        frozen,
        thresholds,
        extra={"gc_frozen": frozen, "gc_thresholds": list(thresholds)},
    )
    return thresholds
