"""`python -m mockinfra.alertsink`: serve the receiver with uvicorn on its topology port."""

from __future__ import annotations

from mockinfra.alertsink.app import create_app
from mockinfra.alertsink.config import Settings
from mockinfra.common.runtime import Runtime, serve_http


def main() -> None:
    settings = Settings()
    serve_http(create_app(Runtime.create(settings)), settings)


if __name__ == "__main__":
    main()
