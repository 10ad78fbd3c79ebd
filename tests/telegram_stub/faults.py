"""Fault injection on top of `FakeBotApi`, and a harness that can lift Telegram's flood limits.

`FaultyBotApi.inject(method, fault)` makes the next call of `method` fail the
way Telegram or the network fails:
- "429": Too Many Requests with `retry_after`;
- "500" / "502": an HTML error page from a front end, not JSON;
- "timeout": no answer until the client has given up;
- "drop": the connection is closed without an answer.

For getUpdates a fault strikes a poll that has updates to hand out (the
stand-in prepared the answer, then it is lost): Telegram keeps updates until
a later poll confirms them with its offset, so the bot must get them again,
once. For every other method the fault strikes before the stand-in acts, as
when a proxy in front of Telegram fails: the request had no effect, and the
bot must send it again to get its answer through. (A lost response to a
delivered sendMessage cannot be told apart from a lost request; see
`bot.telegram_flood_control`.)
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import defaultdict, deque
from typing import Any

from aiohttp import web
from telegram.ext import BaseRateLimiter

from bot.app import build_application, start_application
from bot.telegram_flood_control import TelegramFloodControl
from retrieval.engine import SearchEngine

from .harness import BotHarness
from .server import Call, FakeBotApi

FAULTS = ("429", "500", "502", "timeout", "drop")
# PTB's default read timeout is 5 s (getUpdates: 5 s + the poll timeout); hold a little longer.
TIMEOUT_HOLD_SECONDS = {"getUpdates": 6.6, "default": 5.6}


class FaultyBotApi(FakeBotApi):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._planned: dict[str, deque[str]] = defaultdict(deque)
        self.injected: list[tuple[str, str]] = []
        self._stopping = asyncio.Event()

    def inject(self, method: str, fault: str, times: int = 1) -> None:
        if fault not in FAULTS:
            raise ValueError(f"unknown fault {fault!r}; expected one of {FAULTS}")
        self._planned[method].extend([fault] * times)

    def pending_faults(self) -> int:
        return sum(len(q) for q in self._planned.values())

    async def stop(self) -> None:
        self._stopping.set()  # release held "timeout" requests so the server can shut down
        await super().stop()

    async def _api(self, request: web.Request) -> web.StreamResponse:
        method = request.match_info["method"]
        if method == "getUpdates":
            response = await super()._api(request)
            if self._planned[method] and _has_updates(response):
                return await self._fail(request, method)
            return response
        if self._planned.get(method):
            return await self._fail(request, method)
        return await super()._api(request)

    async def _fail(self, request: web.Request, method: str) -> web.StreamResponse:
        fault = self._planned[method].popleft()
        self.injected.append((method, fault))
        if fault == "429":
            return web.json_response({"ok": False, "error_code": 429, "description": "Too Many Requests: retry after 1",
                                      "parameters": {"retry_after": 1}}, status=429)
        if fault in ("500", "502"):
            return web.Response(status=int(fault), text=f"<html><body><h1>{fault}</h1></body></html>",
                                content_type="text/html")
        if fault == "timeout":
            hold = TIMEOUT_HOLD_SECONDS.get(method, TIMEOUT_HOLD_SECONDS["default"])
            try:
                await asyncio.wait_for(self._stopping.wait(), hold)
            except TimeoutError:
                pass
            return web.Response(status=504, text="gateway timeout")
        return _drop(request)


def _has_updates(response: web.StreamResponse) -> bool:
    body = getattr(response, "body", None)
    if response.status != 200 or not isinstance(body, bytes):
        return False
    return bool(json.loads(body).get("result"))


def _drop(request: web.Request) -> web.StreamResponse:
    """Close the connection without an answer (the client sees the server disconnect)."""
    transport = request.transport
    if transport is not None:
        transport.close()
    raise asyncio.CancelledError  # aiohttp treats it as a lost connection and writes nothing


class LiftedLimitsHarness(BotHarness):
    """The real bot with a rate limiter chosen by the test (else the production one)."""

    def __init__(self, *args: Any, rate_limiter: BaseRateLimiter | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.rate_limiter = rate_limiter

    async def start(self, *, ingest: bool = True) -> None:
        self.engine = await SearchEngine.open(self.settings.db, self.settings.retrieval_config())
        if ingest:
            await self.engine.ingest_paths([self.data_dir])
        self.app = build_application(self.settings, self.engine, rate_limiter=self.rate_limiter)
        await start_application(self.app, poll_timeout=1)


def unlimited() -> TelegramFloodControl:
    """The production limiter without Telegram's 30 messages/s and 20/min per group flood limits:
    429s are still waited out and transient failures retried; the tests measure the bot, not the sleep."""
    return TelegramFloodControl(overall_max_rate=0, group_max_rate=0, max_retries=3)


async def reply_to(fake: FakeBotApi, chat_id: int, message_id: int, within: float = 60) -> Call:
    """The bot's reply quoting a message, waited for by scanning only new calls (cheap with 10,000s of calls)."""
    deadline = asyncio.get_running_loop().time() + within
    seen = 0
    while True:
        calls = fake.calls
        for call in calls[seen:]:
            if (call.method == "sendMessage" and call.ok and call.params.get("chat_id") == chat_id
                    and call.params.get("reply_parameters", {}).get("message_id") == message_id):
                return call
        seen = len(calls)
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"no reply to message {message_id} in chat {chat_id} within {within} s")
        await asyncio.sleep(0.05)


class TimedBotApi(FakeBotApi):
    """The stand-in, noting when each call arrived (latency and rate figures)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.times: list[float] = []

    def _record(self, call: Call) -> None:
        self.times.append(time.perf_counter())
        super()._record(call)
