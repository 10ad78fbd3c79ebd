"""Telegram faults from the stand-in server: every question answered exactly once, the bot keeps running.

429 with retry_after, 500 and 502 error pages, timeouts and dropped
connections, during getUpdates and during sendMessage (and the typing action).
"""

from __future__ import annotations

import logging

import pytest

from bot import texts
from bot.telegram_flood_control import TRANSIENT_RETRIES, TelegramFloodControl

from .telegram_stub.faults import FaultyBotApi, LiftedLimitsHarness
from .telegram_stub.harness import ADMIN, started
from .telegram_stub.server import Call, User

QUESTIONS = ["أسعار النفط", "من هو وزير الخارجية الإيراني؟", "الغاز المسال والفحم", "قرار مجلس الأمن",
             "المحيط الهادئ والتيارات البحرية", "كم سعر الذهب في بورصة طوكيو"]
READERS = [User(5000 + n, f"Reader {n}", "ar") for n in range(12)]


@pytest.fixture
async def fake():
    async with started(FaultyBotApi(), ADMIN, *READERS) as server:
        yield server


@pytest.fixture
async def bot(tmp_path, fake, caplog):
    caplog.set_level(logging.WARNING)
    harness = LiftedLimitsHarness(tmp_path, fake)  # the production rate limiter
    await harness.start()
    yield harness
    assert harness.app.updater.running and harness.app.running  # never gave up
    await harness.stop()
    handled_errors = [r for r in caplog.records if r.name == "bot.reader_handlers" and r.levelno >= logging.ERROR]
    assert handled_errors == [], [r.getMessage() for r in handled_errors]


def replies_to(fake, chat_id: int, message_id: int) -> list[Call]:
    return [c for c in fake.sent("sendMessage", chat_id=chat_id)
            if c.params.get("reply_parameters", {}).get("message_id") == message_id]


async def ask_everyone(fake, users: list[User]) -> list[dict]:
    questions = [fake.send(fake.chats[u.id], u, QUESTIONS[i % len(QUESTIONS)]) for i, u in enumerate(users)]
    for q in questions:
        await fake.wait_for("sendMessage", chat_id=q["chat"]["id"], within=30)
    await fake.drained()
    return questions


def assert_answered_once(fake, questions: list[dict]) -> None:
    for q in questions:
        [answer] = replies_to(fake, q["chat"]["id"], q["message_id"])
        assert texts.AR.error not in fake.message(answer)["text"]
    assert len(fake.sent("sendMessage")) == len(questions)  # nothing else: no duplicates, no error notices


@pytest.mark.parametrize("fault", ["429", "500", "502", "drop", "timeout"])
async def test_send_message_faults_cost_a_retry_not_the_answer(bot, fake, fault):
    fake.inject("sendMessage", fault)
    fake.inject("sendChatAction", fault if fault != "timeout" else "502")
    questions = await ask_everyone(fake, READERS[:3])
    assert fake.injected == [("sendChatAction", fault if fault != "timeout" else "502"), ("sendMessage", fault)]
    assert_answered_once(fake, questions)


@pytest.mark.parametrize("fault", ["429", "500", "502", "drop", "timeout"])
async def test_get_updates_faults_lose_no_update_and_repeat_none(bot, fake, fault):
    # The fault strikes a poll carrying these questions: they must come again, once each.
    fake.inject("getUpdates", fault)
    questions = await ask_everyone(fake, READERS[:4])
    assert fake.injected == [("getUpdates", fault)]
    assert_answered_once(fake, questions)


async def test_a_storm_of_mixed_faults_loses_nothing(tmp_path, fake, caplog):
    # Short backoffs: what is under test is that nothing is lost, not how long the bot waits.
    caplog.set_level(logging.WARNING)
    harness = LiftedLimitsHarness(tmp_path, fake, rate_limiter=TelegramFloodControl(first_backoff=0.02, max_retries=3))
    await harness.start()
    try:
        await storm(fake)
        assert harness.app.updater.running
    finally:
        await harness.stop()
    assert not [r for r in caplog.records if r.name == "bot.reader_handlers" and r.levelno >= logging.ERROR]


async def storm(fake: FaultyBotApi) -> None:
    faults = ["500", "drop", "502", "429", "drop", "500"]
    for fault in faults:
        fake.inject("sendMessage", fault)
    for fault in ("502", "drop"):
        fake.inject("getUpdates", fault)
    for fault in ("500", "drop", "429"):
        fake.inject("sendChatAction", fault)
    questions = await ask_everyone(fake, READERS)
    assert fake.pending_faults() == 0 and len(fake.injected) == len(faults) + 5
    assert_answered_once(fake, questions)
    # And the bot still answers afterwards.
    mark = fake.mark()
    later = fake.send(fake.chats[READERS[0].id], READERS[0], "أسعار النفط")
    await fake.wait_for("sendMessage", since=mark)
    assert len(replies_to(fake, READERS[0].id, later["message_id"])) == 1


async def test_beyond_the_retry_budget_the_reader_is_told_once_and_the_bot_goes_on(tmp_path, fake, caplog):
    harness = LiftedLimitsHarness(tmp_path, fake, rate_limiter=TelegramFloodControl(first_backoff=0.01))
    await harness.start()
    try:
        fake.inject("sendMessage", "502", times=TRANSIENT_RETRIES + 1)
        [question] = await ask_everyone(fake, READERS[:1])
        [notice] = replies_to(fake, READERS[0].id, question["message_id"])
        assert texts.AR.error in fake.message(notice)["text"]
        assert any("error while handling" in r.getMessage() for r in caplog.records)
        [later] = await ask_everyone(fake, READERS[1:2])
        [answer] = replies_to(fake, READERS[1].id, later["message_id"])
        assert "النفط" in fake.message(answer)["text"]
        assert harness.app.updater.running
    finally:
        await harness.stop()
