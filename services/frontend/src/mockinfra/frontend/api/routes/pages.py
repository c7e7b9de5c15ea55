"""Server-rendered pages: home (backend status and links), data listing, users listing.

Each view counts `page_views_total{page}`. The home page renders even when no backend answers:
showing the outage is its job. The data and users pages fail with the backend (error page).
"""

from __future__ import annotations

from typing import Annotated, Final

from fastapi import APIRouter, Query, Request
from starlette.responses import HTMLResponse, Response

from mockinfra.frontend import convert
from mockinfra.frontend.api.routes.users import Page
from mockinfra.frontend.client import BackendError
from mockinfra.frontend.deps import BackendDep, RuntimeDep, SettingsDep
from mockinfra.frontend.errors import http_status_for
from mockinfra.frontend.rendering import templates
from mockinfra.frontend.responses import backend_headers

PAGES: Final = ("home", "data", "users")
DATA_PAGE_SIZE: Final = 50
USERS_PAGE_SIZE: Final = 20

router = APIRouter(tags=["pages"], default_response_class=HTMLResponse)


def _view(rt: RuntimeDep, page: str) -> None:
    rt.metrics.child(rt.metrics.page_views_total, page).inc()


@router.get("/", response_class=HTMLResponse)
async def home_page(
    request: Request, rt: RuntimeDep, settings: SettingsDep, backend: BackendDep
) -> Response:
    _view(rt, "home")
    status: dict[str, object] | None = None
    problem: str | None = None
    instance: str | None = None
    try:
        reply = await backend.status()
    except BackendError as exc:
        problem = f"{exc.code.name} (HTTP {http_status_for(exc.code)}): {exc.message}"
        instance = exc.instance
    else:
        status, instance = convert.status(reply.message), reply.instance
    context = {
        "settings": settings,
        "channel": backend.channel_state().name.lower(),
        "status": status,
        "problem": problem,
    }
    return templates.TemplateResponse(
        request, "home.html", context, headers=backend_headers(instance)
    )


@router.get("/data", response_class=HTMLResponse)
async def data_page(
    request: Request,
    rt: RuntimeDep,
    backend: BackendDep,
    offset: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
) -> Response:
    _view(rt, "data")
    reply = await backend.list_data(limit=DATA_PAGE_SIZE, offset=offset)
    listing = convert.data_list(reply.message)
    context = {
        "listing": listing,
        "instance": reply.instance,
        "prev": max(offset - DATA_PAGE_SIZE, 0) if offset > 0 else None,
        "next": offset + DATA_PAGE_SIZE if offset + DATA_PAGE_SIZE < listing["total"] else None,
    }
    return templates.TemplateResponse(
        request, "data.html", context, headers=backend_headers(reply.instance)
    )


@router.get("/users", response_class=HTMLResponse)
async def users_page(
    request: Request, rt: RuntimeDep, backend: BackendDep, page: Page = 1
) -> Response:
    _view(rt, "users")
    reply = await backend.list_users(page=page, limit=USERS_PAGE_SIZE)
    listing = convert.user_list(reply.message, with_email=False)
    pages = max(1, -(-listing["total"] // USERS_PAGE_SIZE))
    context = {
        "listing": listing,
        "instance": reply.instance,
        "pages": pages,
        "prev": page - 1 if page > 1 else None,
        "next": page + 1 if page < pages else None,
    }
    return templates.TemplateResponse(
        request, "users.html", context, headers=backend_headers(reply.instance)
    )
