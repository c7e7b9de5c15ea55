"""`python -m mockinfra.frontend`: serve the frontend with uvicorn on its topology port.

uvloop and httptools for speed; uvicorn's access log is off because `TelemetryMiddleware`
already writes one structured line per request.
"""

from __future__ import annotations

import uvicorn

from mockinfra.common.gc_tuning import tune_gc
from mockinfra.common.runtime import Runtime
from mockinfra.frontend.app import create_app
from mockinfra.frontend.config import Settings


def main() -> None:
    settings = Settings()
    app = create_app(Runtime.create(settings))
    tune_gc()  # after the app is built: its routes and modules are frozen with it
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_config=None,  # keep the JSON logging `Runtime.create` configured
        server_header=False,
        timeout_graceful_shutdown=10,
    )


if __name__ == "__main__":
    main()
