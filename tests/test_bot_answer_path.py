"""The answer path's order: the typing action goes out first, the search does not wait for it,
and the answer goes out only after Telegram has taken the typing action."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from retrieval.engine import SearchEngine

from .telegram_stub.harness import ADMIN, READER, BotHarness
from .telegram_stub.server import FakeBotApi

HOLD_SECONDS = 2.0


class SlowTypingBotApi(FakeBotApi):
    """Holds each sendChatAction until `release` is set (or a while passes), as a slow network would."""

    def __init__(self) -> None:
        super().__init__()
        self.release = asyncio.Event()
        self.typing_answered = False

    def _record(self, call: Any) -> None:
        if call.method == "sendChatAction" and call.ok:
            self.typing_answered = True
        super()._record(call)

    async def _api(self, request):
        if request.match_info["method"] == "sendChatAction":
            try:
                await asyncio.wait_for(self.release.wait(), HOLD_SECONDS)
            except TimeoutError:
                pass
        return await super()._api(request)


@pytest.fixture
async def fake():
    server = SlowTypingBotApi()
    await server.start()
    for user in (ADMIN, READER):
        server.private_chat(user)
    yield server
    await server.stop()
    assert server.errors == []


async def test_the_search_runs_while_the_typing_action_is_in_flight(tmp_path, fake, monkeypatch):
    searched_before_typing_answered: list[bool] = []
    search = SearchEngine.search

    async def noting_search(self, *args, **kwargs):
        searched_before_typing_answered.append(not fake.typing_answered)
        fake.release.set()  # the typing action may now complete
        return await search(self, *args, **kwargs)

    monkeypatch.setattr(SearchEngine, "search", noting_search)
    harness = BotHarness(tmp_path, fake)
    await harness.start()
    try:
        loop = asyncio.get_running_loop()
        started = loop.time()
        fake.send(fake.chats[READER.id], READER, "ما رقم قرار مجلس الأمن؟")
        [answer] = await fake.wait_for("sendMessage", chat_id=READER.id)
        waited = loop.time() - started
    finally:
        await harness.stop()
    assert searched_before_typing_answered == [True]
    assert waited < HOLD_SECONDS  # the typing action was released by the search, not by the timeout
    methods = [c.method for c in fake.calls if c.method in ("sendChatAction", "sendMessage")]
    assert methods == ["sendChatAction", "sendMessage"]  # Telegram sees typing, then the answer
    assert "2585" in fake.message(answer)["text"]
