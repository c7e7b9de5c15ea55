"""`python -m mockinfra.frontend`: serve the frontend with uvicorn on its topology port
(`runtime.serve_http`: uvloop, httptools, the garbage collector tuned)."""

from __future__ import annotations

from mockinfra.common.runtime import Runtime, serve_http
from mockinfra.frontend.app import create_app
from mockinfra.frontend.config import Settings


def main() -> None:
    settings = Settings()
    serve_http(create_app(Runtime.create(settings)), settings)


if __name__ == "__main__":
    main()
