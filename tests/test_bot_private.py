"""Private chats through the stand-in Bot API: questions, buttons, commands, restarts."""

from __future__ import annotations

import re

import pytest

from .telegram_stub.harness import ADMIN, ENGLISH_READER, READER, BotHarness, started
from .telegram_stub.server import FakeBotApi


@pytest.fixture
async def fake():
    async with started(FakeBotApi(), ADMIN, READER, ENGLISH_READER) as server:
        yield server


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
    assert "<b>قرار مجلس الأمن</b>" in html  # a matched phrase is one bold run
    assert answer.params["parse_mode"] == "HTML"
    assert answer.params["link_preview_options"] == {"is_disabled": True}
    assert answer.params["reply_parameters"]["message_id"] == question["message_id"]


def buttons(message: dict) -> list[tuple[str, str]]:
    return [(b["text"], b["callback_data"]) for row in message.get("reply_markup", {}).get("inline_keyboard", [])
            for b in row]


def titles(text: str) -> list[str]:
    """The result titles of an answer, in order (lines "N. title")."""
    return [m.group(1) for m in re.finditer(r"^\u200f\d+\. (.+)$", text, re.MULTILINE)]


def button_data(message: dict, text_part: str) -> str:
    return next(data for text, data in buttons(message) if text_part in text)


async def test_paging_edits_the_same_message_and_survives_a_restart(bot, fake):
    chat = fake.chats[READER.id]
    # "الخام" keeps the tricky-title article (its title says أسعار النفط) off the oil pages
    fake.send(chat, READER, "أسعار النفط الخام")
    [answer] = await fake.wait_for("sendMessage", chat_id=READER.id)
    first = fake.message(answer)
    first_page = titles(first["text"])
    assert len(first_page) == 3
    next_data = button_data(first, "التالي")
    assert all(len(data.encode()) <= 64 for _, data in buttons(first))

    mark = fake.mark()
    fake.press(READER, first, next_data)
    [edit] = await fake.wait_for("editMessageText", since=mark)
    assert edit.params["message_id"] == first["message_id"]
    second = fake.message(edit)
    assert second["text"].startswith("\u200f4.")
    assert titles(second["text"]) and not set(titles(second["text"])) & set(first_page)
    assert any("السابق" in text for text, _ in buttons(second))
    assert fake.sent("answerCallbackQuery", since=mark)

    await bot.restart()  # nothing about the question is kept in memory
    mark = fake.mark()
    fake.press(READER, second, button_data(second, "السابق"))
    [edit] = await fake.wait_for("editMessageText", since=mark)
    assert titles(fake.message(edit)["text"]) == first_page
    assert fake.sent("sendMessage", since=mark) == []


async def test_full_article_button_sends_the_article_in_pieces_after_a_restart(bot, fake):
    chat = fake.chats[READER.id]
    fake.send(chat, READER, "المحيط الهادئ والتيارات البحرية")
    [answer] = await fake.wait_for("sendMessage", chat_id=READER.id)
    message = fake.message(answer)
    assert "تقرير طويل عن المحيط" in message["text"]
    await bot.restart()
    mark = fake.mark()
    fake.press(READER, message, button_data(message, "1"))
    parts = await fake.wait_for("sendMessage", since=mark, count=3)
    await fake.drained()
    parts = fake.sent("sendMessage", since=mark)
    texts = [fake.message(p)["text"] for p in parts]
    assert len(texts) >= 3 and all(len(t) <= 4096 for t in texts)
    assert texts[0].startswith("\u200fتقرير طويل عن المحيط")
    joined = "".join(texts)
    assert all(f"فقرة {n}." in joined for n in range(1, 13))
    # Split on paragraph boundaries: every message ends where a paragraph ends.
    assert all(t.rstrip().endswith(".") for t in texts)


async def test_the_full_article_button_stops_at_the_message_limit(tmp_path, fake):
    async with BotHarness(tmp_path, fake, max_article_messages=2):
        chat = fake.chats[READER.id]
        fake.send(chat, READER, "المحيط الهادئ والتيارات البحرية")
        [answer] = await fake.wait_for("sendMessage", chat_id=READER.id)
        message = fake.message(answer)
        mark = fake.mark()
        fake.press(READER, message, button_data(message, "1"))
        await fake.wait_for("sendMessage", since=mark, count=2)
        await fake.drained()
        texts = [fake.message(p)["text"] for p in fake.sent("sendMessage", since=mark)]
        assert len(texts) == 2  # the article takes three or more (the test above)
        assert texts[0].startswith("\u200fتقرير طويل عن المحيط")
        assert "المقال أطول من أن يُعرض هنا كاملاً" in texts[1]


async def test_a_button_that_cannot_be_served_answers_with_a_notice(bot, fake):
    chat = fake.chats[READER.id]
    fake.send(chat, READER, "أسعار النفط")
    [answer] = await fake.wait_for("sendMessage", chat_id=READER.id)
    message = fake.message(answer)
    mark = fake.mark()
    fake.press(READER, message, "a:no-such-article")
    fake.press(READER, message, "p:999999:3")
    fake.press(READER, message, "garbage")
    notices = await fake.wait_for("answerCallbackQuery", since=mark, count=3)
    assert all(n.params.get("text") for n in notices)
    assert fake.sent("sendMessage", since=mark) == [] and fake.sent("editMessageText", since=mark) == []


async def test_no_answer_is_explained_in_arabic_with_a_hint(bot, fake):
    fake.send(fake.chats[READER.id], READER, "كم سعر الذهب في بورصة طوكيو")
    [answer] = await fake.wait_for("sendMessage", chat_id=READER.id)
    text = fake.message(answer)["text"]
    assert "لم أجد" in text and "جرّب" in text
    assert "reply_markup" not in fake.message(answer)


@pytest.mark.parametrize("text", ["   ", "😀😀🎉", "؟؟؟ !!!", "سؤال " * 200])
async def test_empty_emoji_or_overlong_messages_get_a_polite_reply(bot, fake, text):
    fake.send(fake.chats[READER.id], READER, text)
    [answer] = await fake.wait_for("sendMessage", chat_id=READER.id)
    reply = fake.message(answer)["text"]
    assert reply and "النفط" not in reply
    assert fake.sent("sendChatAction") == []


async def test_ask_without_a_question_explains_how(bot, fake):
    fake.send(fake.chats[READER.id], READER, "/ask")
    [answer] = await fake.wait_for("sendMessage", chat_id=READER.id)
    assert "/ask" in fake.message(answer)["text"] and "اكتب سؤالك" in fake.message(answer)["text"]


async def test_help_is_arabic_by_default_and_english_for_english_users(bot, fake):
    fake.send(fake.chats[READER.id], READER, "/start")
    fake.send(fake.chats[ENGLISH_READER.id], ENGLISH_READER, "/help")
    [arabic] = await fake.wait_for("sendMessage", chat_id=READER.id)
    [english] = await fake.wait_for("sendMessage", chat_id=ENGLISH_READER.id)
    assert "أرسل سؤالك" in fake.message(arabic)["text"]
    assert "Send me a question" in fake.message(english)["text"]
    assert "/reindex" not in fake.message(arabic)["text"]


async def test_latest_and_sources(bot, fake):
    chat = fake.chats[READER.id]
    fake.send(chat, READER, "/latest")
    [latest] = await fake.wait_for("sendMessage", chat_id=READER.id)
    text = fake.message(latest)["text"]
    assert text.index("أسعار <النفط> & الغاز > التوقعات") < text.index("النفط والأسواق 5")
    assert len(buttons(fake.message(latest))) == 5
    mark = fake.mark()
    fake.send(chat, READER, "/sources")
    [sources] = await fake.wait_for("sendMessage", since=mark)
    text = fake.message(sources)["text"]
    assert "رويترز: 5" in text and "المدن: 1" in text and "A&B <news>: 1" in text


async def test_a_title_with_markup_characters_renders_as_valid_html(bot, fake):
    fake.send(fake.chats[READER.id], READER, "الغاز المسال والفحم")
    [answer] = await fake.wait_for("sendMessage", chat_id=READER.id)
    text = fake.message(answer)["text"]  # the stand-in parsed the HTML like Telegram
    assert "أسعار <النفط> & الغاز > التوقعات" in text
    assert "A&B <news> · طاقة & <اقتصاد> · 2024-02-01" in text
    assert "&lt;النفط&gt; &amp; الغاز &gt;" in answer.params["text"]
    assert 'href="https://example.com/a?x=1&amp;y=&lt;2&gt;"' in answer.params["text"]


async def test_a_429_is_waited_out_and_the_answer_delivered_once(bot, fake):
    fake.fail_next("sendMessage", retry_after=1)
    fake.send(fake.chats[READER.id], READER, "أسعار النفط")
    [answer] = await fake.wait_for("sendMessage", chat_id=READER.id)
    rejected = [c for c in fake.calls if c.method == "sendMessage" and not c.ok]
    assert len(rejected) == 1 and rejected[0].result == {"retry_after": 1}
    assert "النفط" in fake.message(answer)["text"]
    await fake.drained()
    assert len(fake.sent("sendMessage", chat_id=READER.id)) == 1


async def test_non_text_messages_get_a_polite_reply(bot, fake):
    fake.send_document(fake.chats[READER.id], READER, "notes.txt", "نص".encode())
    [reply] = await fake.wait_for("sendMessage", chat_id=READER.id)
    assert "للمشرفين" in fake.message(reply)["text"]  # a document from a non-admin is refused


async def test_an_error_is_logged_and_the_user_told(bot, fake, caplog, monkeypatch):
    async def broken(*args, **kwargs):
        raise RuntimeError("index exploded")

    monkeypatch.setattr(bot.engine, "search", broken)
    fake.send(fake.chats[READER.id], READER, "أسعار النفط")
    [reply] = await fake.wait_for("sendMessage", chat_id=READER.id)
    assert "خطأ" in fake.message(reply)["text"]
    assert any("index exploded" in (r.exc_text or str(r.exc_info)) for r in caplog.records if r.levelname == "ERROR")
    monkeypatch.undo()
    mark = fake.mark()
    fake.send(fake.chats[READER.id], READER, "أسعار النفط")
    [again] = await fake.wait_for("sendMessage", since=mark)
    assert "النفط" in fake.message(again)["text"]  # still running


async def test_command_menus_registered_public_for_all_admin_only_for_admins(bot, fake):
    default = fake.commands[('{"type": "default"}', "")]
    assert {c["command"] for c in default} == {"ask", "latest", "sources", "follow", "following", "help"}
    assert ('{"type": "default"}', "en") in fake.commands
    admin = fake.commands[(f'{{"chat_id": {ADMIN.id}, "type": "chat"}}', "")]
    assert {"reindex", "stats", "delete"} <= {c["command"] for c in admin}
    english_admin = fake.commands[(f'{{"chat_id": {ADMIN.id}, "type": "chat"}}', "en")]
    assert {c["command"] for c in english_admin} == {c["command"] for c in admin}
    assert "Re-scan the data folder and rebuild the index" in [c["description"] for c in english_admin]
    assert len(fake.commands) == 4


async def test_the_token_never_reaches_the_logs(bot, fake, caplog):
    caplog.set_level("DEBUG")
    fake.send(fake.chats[READER.id], READER, "أسعار النفط")
    await fake.wait_for("sendMessage", chat_id=READER.id)
    assert caplog.records
    assert fake.token not in caplog.text
    assert fake.token.split(":")[1] not in caplog.text
