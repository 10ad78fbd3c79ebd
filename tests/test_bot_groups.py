"""Groups, forum topics, rate limits and inline mode through the stand-in Bot API."""

from __future__ import annotations

import pytest

from bot import texts

from .telegram_stub.harness import ADMIN, READER, STRANGER, BotHarness, started
from .telegram_stub.server import FakeBotApi

GROUP_ID = -100123


@pytest.fixture
async def fake():
    async with started(FakeBotApi(), ADMIN) as server:
        server.group(GROUP_ID, "نقاش الأخبار")
        server.group(-100777, "منتدى", forum=True)
        yield server


@pytest.fixture
async def bot(tmp_path, fake):
    harness = BotHarness(tmp_path, fake, user_rate_limit=4, chat_rate_limit=6)
    await harness.start()
    yield harness
    await harness.stop()


async def test_group_answers_ask_mentions_and_replies_and_ignores_chatter(bot, fake):
    group = fake.chats[GROUP_ID]
    fake.send(group, READER, "صباح الخير يا جماعة، من شاهد أخبار النفط اليوم؟")
    ask = fake.send(group, READER, "/ask أسعار النفط")
    [answer] = await fake.wait_for("sendMessage", chat_id=GROUP_ID)
    assert answer.params["reply_parameters"]["message_id"] == ask["message_id"]
    assert "النفط والأسواق" in fake.message(answer)["text"]

    mark = fake.mark()
    fake.send(group, STRANGER, "لا أحد يعرف شيئاً عن النفط")
    fake.send(group, STRANGER, "/ask@other_bot أسعار النفط")
    mention = fake.send(group, STRANGER, "@news_test_bot ما رقم قرار مجلس الأمن بشأن المساعدة الإنسانية؟")
    [answer] = await fake.wait_for("sendMessage", since=mark)
    assert answer.params["reply_parameters"]["message_id"] == mention["message_id"]
    assert "2585" in fake.message(answer)["text"]
    assert "news_test_bot" not in fake.message(answer)["text"]

    mark = fake.mark()
    fake.send(group, READER, "/ask@news_test_bot لافرنتييف")
    [answer] = await fake.wait_for("sendMessage", since=mark)
    bot_message = fake.message(answer)
    assert "لافرينتييف" in bot_message["text"] or "لافرنتييف" in bot_message["text"]

    mark = fake.mark()
    fake.send(group, READER, "كلام عادي بين الأعضاء عن النفط", reply_to=fake.messages[(GROUP_ID, 1)])
    reply = fake.send(group, READER, "أسعار الغاز المسال", reply_to=bot_message)
    [answer] = await fake.wait_for("sendMessage", since=mark)
    assert answer.params["reply_parameters"]["message_id"] == reply["message_id"]
    assert "الغاز" in fake.message(answer)["text"]
    await fake.drained()
    assert len(fake.sent("sendMessage", since=mark)) == 1  # the chatter stayed unanswered


async def test_forum_topic_answer_stays_in_the_topic(bot, fake):
    forum = fake.chats[-100777]
    question = fake.send(forum, READER, "/ask أسعار النفط", thread_id=42)
    [answer] = await fake.wait_for("sendMessage", chat_id=-100777)
    assert answer.params["message_thread_id"] == 42
    assert answer.params["reply_parameters"]["message_id"] == question["message_id"]
    assert fake.sent("sendChatAction", chat_id=-100777)[0].params["message_thread_id"] == 42
    # Plain talk in the topic (a "reply" to the topic's creation message) is ignored.
    mark = fake.mark()
    fake.send(forum, READER, "شكراً", thread_id=42)
    fake.send(forum, READER, "@news_test_bot أسعار الغاز", thread_id=42)
    [answer] = await fake.wait_for("sendMessage", since=mark)
    assert "الغاز" in fake.message(answer)["text"] and answer.params["message_thread_id"] == 42
    await fake.drained()
    assert len(fake.sent("sendMessage", since=mark)) == 1


async def test_one_user_cannot_flood_a_group_and_the_group_has_its_own_limit(bot, fake):
    group = fake.chats[GROUP_ID]
    for n in range(7):
        fake.send(group, READER, f"/ask أسعار النفط {n}")
    await fake.drained()
    await fake.wait_for("sendMessage", chat_id=GROUP_ID, count=5)
    replies = [fake.message(c)["text"] for c in fake.sent("sendMessage", chat_id=GROUP_ID)]
    assert sum("النفط والأسواق" in r for r in replies) == 4  # user limit
    assert sum("انتظر" in r for r in replies) == 1  # told once, then quiet
    mark = fake.mark()
    fake.send(group, STRANGER, "/ask أسعار النفط")
    fake.send(group, ADMIN, "/ask أسعار النفط")
    fake.send(group, ADMIN, "/ask أسعار الغاز")
    await fake.drained()
    await fake.wait_for("sendMessage", since=mark, count=3)
    replies = [fake.message(c)["text"] for c in fake.sent("sendMessage", since=mark)]
    assert sum("النفط والأسواق" in r or "الغاز" in r for r in replies) == 2  # chat limit of 6 reached
    assert "انتظر" in replies[-1]


async def test_inline_query_lists_articles_with_a_one_line_excerpt_and_a_formatted_message(bot, fake):
    fake.inline(READER, "النفط")
    [answer] = await fake.wait_for("answerInlineQuery")
    results = answer.params["results"]
    assert {f"النفط والأسواق {i}" for i in range(1, 6)} <= {r["title"] for r in results}
    assert all(r["type"] == "article" and "\n" not in r["description"] for r in results)
    content = next(r for r in results if r["id"] == "oil1")["input_message_content"]
    assert content["parse_mode"] == "HTML" and content["link_preview_options"] == {"is_disabled": True}
    assert "رويترز · اقتصاد" in content["message_text"] and "<b>النفط</b>" in content["message_text"]
    assert answer.params.get("next_offset", "") == ""  # one page only


async def test_inline_query_pages_with_next_offset_and_empty_query_lists_latest(bot, fake):
    for n in range(12):  # more articles than one inline page
        await bot.engine.ingest_bytes(
            f'{{"id": "gas{n}", "title": "الغاز {n}", "published": "2025-01-{n + 1:02d}", '
            f'"text": "أسعار الغاز الطبيعي في الشتاء رقم {n}"}}'.encode(), "extra.jsonl")
    fake.inline(READER, "الغاز الطبيعي")
    [first] = await fake.wait_for("answerInlineQuery")
    assert len(first.params["results"]) == 10 and first.params["next_offset"] == "10"
    mark = fake.mark()
    fake.inline(READER, "الغاز الطبيعي", offset="10")
    [second] = await fake.wait_for("answerInlineQuery", since=mark)
    assert 2 <= len(second.params["results"]) <= 3 and not second.params.get("next_offset")
    assert not {r["id"] for r in first.params["results"]} & {r["id"] for r in second.params["results"]}

    mark = fake.mark()
    fake.inline(READER, "")
    [latest] = await fake.wait_for("answerInlineQuery", since=mark)
    assert [r["title"] for r in latest.params["results"][:2]] == ["الغاز 11", "الغاز 10"]
    assert latest.params["next_offset"] == "10"


async def test_page_buttons_and_inline_queries_have_their_own_per_user_limit(tmp_path, fake):
    async with BotHarness(tmp_path, fake, follow_up_rate_limit=3):
        chat = fake.chats[ADMIN.id]
        fake.send(chat, ADMIN, "أسعار النفط")
        [answer] = await fake.wait_for("sendMessage", chat_id=ADMIN.id)
        message = fake.message(answer)
        next_page = next(b["callback_data"] for row in message["reply_markup"]["inline_keyboard"] for b in row
                         if "التالي" in b["text"])
        mark = fake.mark()
        for _ in range(2):
            fake.press(ADMIN, message, next_page)
        fake.inline(ADMIN, "النفط")
        fake.press(ADMIN, message, next_page)  # the fourth within the window
        await fake.drained()
        notices = await fake.wait_for("answerCallbackQuery", since=mark, count=3)
        said = [n.params.get("text") for n in notices]
        assert texts.AR.rate_limited not in said[:2] and said[2] == texts.AR.rate_limited
        [listed] = fake.sent("answerInlineQuery", since=mark)
        assert listed.params["results"]

        fake.inline(ADMIN, "النفط")  # over the limit: answered, empty, not cached
        [*_, limited] = await fake.wait_for("answerInlineQuery", since=mark, count=2)
        assert limited.params["results"] == [] and limited.params["cache_time"] == 0
        # Another user is not affected, and questions have their own limit.
        fake.inline(READER, "النفط")
        [*_, other] = await fake.wait_for("answerInlineQuery", since=mark, count=3)
        assert other.params["results"]
        fake.send(chat, ADMIN, "أسعار الغاز")
        [*_, reply] = await fake.wait_for("sendMessage", chat_id=ADMIN.id, count=2)
        assert "الغاز" in fake.message(reply)["text"]
