"""Request dependencies as `Annotated` aliases: the settings, the runtime and the backend client.

Each one only looks up what the lifespan built once and stored on `app.state`.
"""

from __future__ import annotations

from typing import Annotated, cast

from fastapi import Depends, Request

from mockinfra.common.runtime import Runtime
from mockinfra.frontend.client import BackendClient
from mockinfra.frontend.config import Settings


def get_runtime(request: Request) -> Runtime:
    return cast(Runtime, request.app.state.runtime)


def get_settings(request: Request) -> Settings:
    return cast(Settings, request.app.state.runtime.settings)


def get_backend(request: Request) -> BackendClient:
    return cast(BackendClient, request.app.state.backend)


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
BackendDep = Annotated[BackendClient, Depends(get_backend)]
