"""The timing hook (`bot.timing`): where each update's time went, handed to the sink given to
`build_application`, from the real application against the stand-in Bot API."""

from __future__ import annotations

import asyncio
import itertools

import pytest

from bot import timing
from bot.timing import Span

from .telegram_stub.harness import ADMIN, READER, BotHarness, started
from .telegram_stub.server import FakeBotApi

QUESTION = "ما رقم قرار مجلس الأمن بشأن المساعدة الإنسانية في سوريا؟"


class Collected:
    def __init__(self, *, fail_first: bool = False) -> None:
        self.parts: dict[int, list[Span]] = {}
        self.fail_first = fail_first

    def __call__(self, update_id: int, spans: list[Span]) -> None:
        self.parts[update_id] = list(spans)
        if self.fail_first:
            self.fail_first = False
            raise RuntimeError("a broken observer")

    async def spans_of(self, update_id: int) -> dict[str, Span]:
        for _ in range(200):
            if update_id in self.parts:
                spans = self.parts[update_id]
                assert len({name for name, _, _ in spans}) == len(spans), spans  # each part once
                return {name: (name, start, end) for name, start, end in spans}
            await asyncio.sleep(0.01)
        raise AssertionError(f"no timings for update {update_id}: {sorted(self.parts)}")


@pytest.fixture
async def fake():
    async with started(FakeBotApi(), ADMIN, READER) as server:
        yield server


async def test_a_private_answer_is_broken_down_in_order(tmp_path, fake):
    sink = Collected()
    async with BotHarness(tmp_path, fake, timings=sink):
        fake.send(fake.chats[READER.id], READER, QUESTION)
        [answer] = await fake.wait_for("sendMessage", chat_id=READER.id)
        assert "2585" in fake.message(answer)["text"]
        spans = await sink.spans_of(max(fake.delivered))
    assert set(spans) == {timing.HANDLER, *timing.ANSWER_PARTS}
    handler = spans[timing.HANDLER]
    for _name, start, end in spans.values():
        assert handler[1] <= start <= end <= handler[2]
    # One after the other, and the answer goes out after the typing action.
    order = [spans[name] for name in ("search", "question log", "format answer", "send reply")]
    assert all(a[2] <= b[1] for a, b in itertools.pairwise(order))
    assert spans["typing action"][2] <= spans["send reply"][1]


async def test_an_inline_answer_and_a_failing_sink(tmp_path, fake):
    sink = Collected(fail_first=True)
    async with BotHarness(tmp_path, fake, timings=sink):
        # The sink raises on the first update: logged, and the bot goes on answering.
        fake.inline(READER, "النفط")
        await fake.wait_for("answerInlineQuery")
        first = max(fake.delivered)
        await sink.spans_of(first)
        fake.inline(READER, "أسعار النفط")
        [_, answer] = await fake.wait_for("answerInlineQuery", count=2)
        assert answer.params["results"]
        spans = await sink.spans_of(max(fake.delivered))
    assert max(fake.delivered) != first
    assert set(spans) == {timing.HANDLER, "search", "format answer", "send reply"}


async def test_without_a_sink_nothing_is_timed(tmp_path, fake):
    async with BotHarness(tmp_path, fake) as bot:
        assert timing.FIRST_GROUP not in bot.app.handlers and timing.LAST_GROUP not in bot.app.handlers
        fake.send(fake.chats[READER.id], READER, QUESTION)
        await fake.wait_for("sendMessage", chat_id=READER.id)
    assert timing.NO_TIMER.spans == []


def test_the_log_sink_writes_each_part_in_milliseconds(caplog):
    with caplog.at_level("DEBUG", logger="bot.timing"):
        timing.log_sink(7, [("search", 1.0, 1.0125), (timing.HANDLER, 0.999, 1.02)])
    assert caplog.messages == ["update 7: search 12.5 ms, handler 21.0 ms"]
