"""Request dependencies as `Annotated` aliases: the settings, the runtime and the backend client.

Each one only looks up what the lifespan built once and stored on `app.state`. They are
`async def` on purpose: FastAPI runs a plain `def` dependency in a worker thread, a thread hop
per request (4% of the frontend's CPU on the cached listing, per py-spy) for a dict lookup.
"""

from __future__ import annotations

from typing import Annotated, cast

from fastapi import Depends, Request

from mockinfra.common.runtime import Runtime
from mockinfra.frontend.client import BackendClient
from mockinfra.frontend.config import Settings


async def get_runtime(request: Request) -> Runtime:
    return cast(Runtime, request.app.state.runtime)


async def get_settings(request: Request) -> Settings:
    return cast(Settings, request.app.state.runtime.settings)


def backend_of(request: Request) -> BackendClient:
    """The backend client, for a hot route that takes the request instead of `BackendDep`."""
    return cast(BackendClient, request.app.state.backend)


async def get_backend(request: Request) -> BackendClient:
    return backend_of(request)


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
BackendDep = Annotated[BackendClient, Depends(get_backend)]
