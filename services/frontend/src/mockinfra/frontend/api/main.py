"""`api_router`: every resource router of the frontend, in one place."""

from __future__ import annotations

from fastapi import APIRouter

from mockinfra.frontend.api.routes import (
    data,
    error_codes,
    faults,
    health,
    pages,
    queue,
    status,
    users,
    views,
)

api_router = APIRouter()
for module in (pages, views, error_codes, health, status, data, users, queue, faults):
    api_router.include_router(module.router)
