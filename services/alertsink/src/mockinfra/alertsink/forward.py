"""Forward each notification to a configured URL, with bounded retries, after the response.

The webhook answers Alertmanager at once; forwarding runs in a background task so a slow or
failing downstream never delays (or fails) the webhook. Retries back off exponentially and
stop after a fixed number of attempts; a notification that still fails is logged and counted.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import httpx
from tenacity import (
    AsyncRetrying,
    RetryError,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
)


class ForwardFailed(Exception):
    """A retryable failure: a connection error or a 5xx/429 answer."""


class Forwarder:
    """Posts payloads to `url`; `submit` returns at once, `drain` waits for what is in flight."""

    def __init__(
        self,
        url: str,
        client: httpx.AsyncClient,
        *,
        attempts: int,
        backoff_max: float,
        logger: logging.Logger,
        on_outcome: Callable[[str], None] = lambda outcome: None,
        backoff_multiplier: float = 0.5,
    ) -> None:
        self.url = url
        self.client = client
        self.attempts = attempts
        self.backoff_max = backoff_max
        self.backoff_multiplier = backoff_multiplier
        self.logger = logger
        self.on_outcome = on_outcome
        self._tasks: set[asyncio.Task[None]] = set()

    def submit(self, payload: dict[str, Any]) -> None:
        task = asyncio.create_task(self._forward(payload))
        self._tasks.add(task)  # keep a reference until done, or the task may be collected
        task.add_done_callback(self._tasks.discard)

    async def _post(self, payload: dict[str, Any]) -> None:
        try:
            resp = await self.client.post(self.url, json=payload)
        except httpx.HTTPError as exc:
            raise ForwardFailed(f"{type(exc).__name__}: {exc}") from exc
        if resp.status_code >= 500 or resp.status_code == 429:
            raise ForwardFailed(f"HTTP {resp.status_code}")
        if resp.status_code >= 400:
            # The downstream refuses the payload itself: retrying cannot help.
            self.logger.warning(
                "alert forward rejected", extra={"url": self.url, "status": resp.status_code}
            )
            self.on_outcome("rejected")
            return
        self.on_outcome("forwarded")

    async def _forward(self, payload: dict[str, Any]) -> None:
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.attempts),
            wait=wait_exponential(multiplier=self.backoff_multiplier, max=self.backoff_max),
            retry=retry_if_exception_type(ForwardFailed),
            before_sleep=lambda state: self.on_outcome("retried"),
        )
        try:
            await retrying(self._post, payload)
        except RetryError as exc:
            self.on_outcome("failed")
            self.logger.error(
                "alert forward failed",
                extra={
                    "url": self.url,
                    "attempts": self.attempts,
                    "reason": str(exc.last_attempt.exception()),
                },
            )

    async def drain(self, within: float) -> None:
        """Wait for the forwards in flight (bounded), cancelling what is left."""
        if not self._tasks:
            return
        _, pending = await asyncio.wait(set(self._tasks), timeout=within)
        for task in pending:
            task.cancel()
