"""Private chats through the stand-in Bot API: questions, buttons, commands, restarts."""

from __future__ import annotations

import pytest

from .telegram_stub.harness import ADMIN, ENGLISH_READER, READER, BotHarness
from .telegram_stub.server import FakeBotApi


@pytest.fixture
async def fake():
    server = FakeBotApi()
    await server.start()
    for user in (ADMIN, READER, ENGLISH_READER):
        server.private_chat(user)
    yield server
    await server.stop()
    assert server.errors == []


@pytest.fixture
async def bot(tmp_path, fake):
    harness = BotHarness(tmp_path, fake)
    await harness.start()
    yield harness
    await harness.stop()


async def test_private_question_is_answered_with_sources(bot, fake):
    chat = fake.chats[READER.id]
    question = fake.send(chat, READER, "ما رقم قرار مجلس الأمن بشأن المساعدة الإنسانية في سوريا؟")
    [answer] = await fake.wait_for("sendMessage", chat_id=READER.id)
    assert fake.sent("sendChatAction", chat_id=READER.id, action="typing")
    text = fake.message(answer)["text"]
    assert "2585" in text
    assert "الحوار الروسي الايراني" in text
    assert "المدن · عرب وعالم · 2021-11-22" in text
    html = answer.params["text"]
    assert "<b>قرار</b>" in html and "<b>مجلس</b>" in html
    assert answer.params["parse_mode"] == "HTML"
    assert answer.params["link_preview_options"] == {"is_disabled": True}
    assert answer.params["reply_parameters"]["message_id"] == question["message_id"]
