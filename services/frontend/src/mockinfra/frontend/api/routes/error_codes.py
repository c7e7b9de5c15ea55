"""`GET /error/{code}`: the seed's on-demand frontend errors.

404, 500, 502 and 503 answer with that status and the JSON error body; `timeout` waits (10 s by
default) then answers 504. The deliberate 5xx are marked `X-Fault-Injected` like any injected
fault, so dashboards can tell them from real failures. Anything else is a 400.
"""

from __future__ import annotations

import asyncio
from typing import Final

from fastapi import APIRouter
from starlette.responses import Response

from mockinfra.common.asgi import ERROR_CODES as INJECTED_CODES
from mockinfra.common.errors import error_response
from mockinfra.common.faults import FaultKind
from mockinfra.frontend.api.routes.common import error_responses
from mockinfra.frontend.deps import RuntimeDep, SettingsDep
from mockinfra.frontend.responses import INJECTED_HEADER

ERROR_CODES: Final = {
    "404": (404, "NOT_FOUND", "simulated not found"),
    "500": (500, INJECTED_CODES[500], "simulated internal server error"),
    "502": (502, INJECTED_CODES[502], "simulated bad gateway"),
    "503": (503, INJECTED_CODES[503], "simulated service unavailable"),
}
TIMEOUT: Final = "timeout"
SUPPORTED: Final = (*ERROR_CODES, TIMEOUT)

router = APIRouter(tags=["frontend"], responses=error_responses(404, 500))


@router.get("/error/{code}", status_code=500)
async def simulate_error(code: str, rt: RuntimeDep, settings: SettingsDep) -> Response:
    metrics = rt.metrics
    if code == TIMEOUT:
        await asyncio.sleep(settings.error_timeout_seconds)
        metrics.child(metrics.frontend_errors_total, "timeout").inc()
        return error_response(
            504,
            INJECTED_CODES[504],
            f"simulated timeout after {settings.error_timeout_seconds:g} s",
            headers={INJECTED_HEADER: FaultKind.TIMEOUT.value},
        )
    known = ERROR_CODES.get(code)
    if known is None:
        return error_response(
            400, "BAD_REQUEST", f"unsupported error code {code!r}", {"supported": list(SUPPORTED)}
        )
    status, name, message = known
    metrics.child(metrics.frontend_errors_total, f"http_{status}").inc()
    headers = {INJECTED_HEADER: FaultKind.ERROR_RATE.value} if status >= 500 else None
    return error_response(status, name, message, headers=headers)
