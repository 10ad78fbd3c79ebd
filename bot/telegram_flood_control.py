"""What the bot may send: its requests kept under Telegram's flood limits, and retried through hiccups.

PTB's `AIORateLimiter` keeps under Telegram's flood limits and waits out a
429 `retry_after`, but any other failure — a 500 or 502 from Telegram's
front end, a timeout, a dropped connection — reaches the handler, which then
tells the reader "something went wrong" instead of sending the answer it
already has. `TelegramFloodControl` retries those transient failures a few
times with a short backoff, so a hiccup costs a moment, not the answer.

The price: when Telegram did deliver a message but the response to it was
lost (a timeout or a dropped connection after the fact), the retry sends it
again. The Bot API has no idempotency key, so the choice is between a rare
duplicate and a lost answer; this module chooses the duplicate.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from telegram.error import BadRequest, NetworkError
from telegram.ext import AIORateLimiter

log = logging.getLogger(__name__)

TRANSIENT_RETRIES = 6
FIRST_BACKOFF_SECONDS = 0.25  # doubled on each retry up to the cap: 0.25 + 0.5 + 1 + 2 + 4 + 4 s at most
MAX_BACKOFF_SECONDS = 4.0

JSONResult = bool | dict[str, Any] | list[dict[str, Any]]


def is_transient(exc: Exception) -> bool:
    """A failure worth retrying: the network or Telegram's servers, not our request.

    `TimedOut` is a `NetworkError`; so is `BadRequest`, which is our fault and
    would fail again.
    """
    return isinstance(exc, NetworkError) and not isinstance(exc, BadRequest)


class TelegramFloodControl(AIORateLimiter):
    """`AIORateLimiter` that also retries 5xx answers, timeouts and dropped connections."""

    def __init__(self, *, transient_retries: int = TRANSIENT_RETRIES,
                 first_backoff: float = FIRST_BACKOFF_SECONDS, **limits: Any) -> None:
        super().__init__(**limits)
        self.transient_retries = transient_retries
        self.first_backoff = first_backoff

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, JSONResult]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> JSONResult:
        for attempt in range(self.transient_retries + 1):
            try:
                return await super().process_request(callback, args, kwargs, endpoint, data, rate_limit_args)
            except NetworkError as exc:
                if not is_transient(exc) or attempt == self.transient_retries:
                    raise
                delay = min(self.first_backoff * 2**attempt, MAX_BACKOFF_SECONDS)
                log.warning("%s failed (%s); retry %d of %d in %.2f s", endpoint, exc, attempt + 1,
                            self.transient_retries, delay)
                await asyncio.sleep(delay)
        raise AssertionError("unreachable: the last attempt returns or raises")
