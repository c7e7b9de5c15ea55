"""`python -m mockinfra.alertsink`: serve the receiver with uvicorn on its topology port."""

from __future__ import annotations

import uvicorn

from mockinfra.alertsink.app import create_app
from mockinfra.alertsink.config import Settings
from mockinfra.common.gc_tuning import tune_gc
from mockinfra.common.runtime import Runtime


def main() -> None:
    settings = Settings()
    app = create_app(Runtime.create(settings))
    tune_gc()
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        access_log=False,  # TelemetryMiddleware writes one structured line per request
        log_config=None,  # keep the JSON logging `Runtime.create` configured
        server_header=False,
        timeout_graceful_shutdown=10,
    )


if __name__ == "__main__":
    main()
