"""Following topics end to end: the real bot against the stand-in Bot API, alerts from real ingests."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

import pytest

from retrieval import outlets
from retrieval.engine import SearchEngine

from .telegram_stub.harness import ADMIN, ENGLISH_READER, READER, STRANGER, BotHarness, started
from .telegram_stub.server import ApiError, FakeBotApi
from .test_stories import OTHER, REWRITE, WIRE

GROUP_ID = -100555


class FollowBotApi(FakeBotApi):
    """The stand-in with chat administrators (getChatMember) and users who blocked the bot (403)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.admins: dict[int, set[int]] = {}
        self.blocked: set[int] = set()

    def _do_getChatMember(self, params: dict[str, Any]) -> dict:
        chat = self._chat(params["chat_id"])
        user_id = int(params["user_id"])
        user = {"id": user_id, "is_bot": False, "first_name": f"user{user_id}"}
        if user_id in self.admins.get(chat.id, set()):
            return {"status": "creator", "user": user, "is_anonymous": False}
        return {"status": "member", "user": user}

    def _do_sendMessage(self, params: dict[str, Any]) -> dict:
        if self._chat(params["chat_id"]).id in self.blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        return super()._do_sendMessage(params)


def article(n: int, title: str, text: str, source: str = "skynews", day: str = "2022-05-24") -> dict:
    return {"id": f"pox{n}", "title": title, "source": source, "published": f"{day}T1{n % 10}:00",
            "url": f"https://example.com/pox{n}", "text": text}


FIRST = article(1, "المغرب يسجل أول إصابة بجدري القردة", WIRE)
SECOND_VERSION = article(2, "أول إصابة بجدري القردة في المغرب", REWRITE, source="alarabia")
MORE = [
    article(3, "جدري القردة يصل إلى تونس", "أكدت السلطات الصحية في تونس رصد حالة إصابة بجدري القردة لدى مسافر قادم من "
            "إسبانيا، ودعت المواطنين إلى الإبلاغ عن أي أعراض مشابهة، مؤكدة توفر الفحوص في المستشفيات الجامعية."),
    article(4, "منظمة الصحة تحذر من انتشار جدري القردة", "حذرت منظمة الصحة العالمية من أن انتشار جدري القردة خارج "
            "أفريقيا قد يتسع خلال الصيف مع كثرة التجمعات والمهرجانات، وطالبت الدول بتعزيز الرصد وتتبع المخالطين."),
    article(5, "لقاح جدري القردة في أوروبا", "بدأت دول أوروبية شراء جرعات من لقاح الجدري التقليدي لاستخدامها ضد جدري "
            "القردة، بعد ارتفاع الإصابات المؤكدة في إسبانيا والبرتغال وبريطانيا إلى أكثر من مئتي حالة."),
]
UNRELATED = article(9, "حملة تطعيم ضد الإنفلونزا", OTHER)


def jsonl(*articles: dict) -> bytes:
    return "\n".join(json.dumps(a, ensure_ascii=False) for a in articles).encode()


@pytest.fixture
async def fake():
    async with started(FollowBotApi(), ADMIN, READER, ENGLISH_READER, STRANGER) as server:
        server.group(GROUP_ID, "متابعة الأخبار")
        server.admins[GROUP_ID] = {ADMIN.id}
        yield server


@pytest.fixture
async def bot(tmp_path, fake):
    harness = BotHarness(tmp_path, fake, alerts_per_day=3, alerts_poll_seconds=0.3)
    await harness.start()
    yield harness
    await harness.stop()


async def say(fake: FakeBotApi, chat_id: int, user, text: str) -> dict:
    mark = fake.mark()
    fake.send(fake.chats[chat_id], user, text)
    [answer] = await fake.wait_for("sendMessage", since=mark, chat_id=chat_id)
    return fake.message(answer)


async def ingest(bot: BotHarness, *articles: dict) -> None:
    """An upload-like ingest in the bot's process, then the alerts it woke up, done."""
    await bot.engine.ingest_bytes(jsonl(*articles), "news.jsonl")
    await bot.app.bot_data.alerts.process_new()


def alerts_to(fake: FakeBotApi, chat_id: int, since: int = 0) -> list[str]:
    return [c.params["text"] for c in fake.sent("sendMessage", since=since, chat_id=chat_id)
            if "🔔" in c.params["text"]]


async def test_follow_alert_once_per_story_daily_cap_and_restart(bot, fake):
    reply = await say(fake, READER.id, READER, "/follow جدري القردة")
    assert "أتابع لك: جدري القردة" in reply["text"]

    mark = fake.mark()
    await ingest(bot, FIRST, UNRELATED)
    [alert] = await fake.wait_for("sendMessage", since=mark, chat_id=READER.id)
    text = alert.params["text"]
    assert "🔔" in text and FIRST["title"] in text and "skynews" in text and "2022-05-24" in text
    assert FIRST["url"] in text and "متابعتك: جدري القردة" in text
    assert alert.params["parse_mode"] == "HTML"

    # Another outlet's version of the same story: nothing new to tell.
    mark = fake.mark()
    await ingest(bot, SECOND_VERSION)
    assert alerts_to(fake, READER.id, mark) == []

    # Three more stories, two alerts left today (cap 3).
    await ingest(bot, *MORE)
    assert len(alerts_to(fake, READER.id)) == 3
    with sqlite3.connect(bot.settings.db) as con:
        assert con.execute("SELECT COUNT(*) FROM alerts_sent WHERE chat_id = ?", (READER.id,)).fetchone()[0] == 3

    # Follows survive a restart; a new follower after it gets the next story, only it.
    await bot.restart()
    reply = await say(fake, ENGLISH_READER.id, ENGLISH_READER, "/follow جدري القردة")
    mark = fake.mark()
    await ingest(bot, article(6, "جدري القردة في الإمارات", "سجلت الإمارات أول إصابة بجدري القردة لامرأة "
                              "قادمة من غرب أفريقيا، وقالت وزارة الصحة إن المخالطين يخضعون للمراقبة الطبية."))
    [alert] = await fake.wait_for("sendMessage", since=mark, chat_id=ENGLISH_READER.id)
    assert "الإمارات" in alert.params["text"]
    assert alerts_to(fake, READER.id, mark) == []  # capped for today


async def test_a_follower_who_blocked_the_bot_is_paused_not_retried(bot, fake):
    await say(fake, STRANGER.id, STRANGER, "/follow جدري القردة")
    fake.blocked.add(STRANGER.id)
    mark = fake.mark()
    await ingest(bot, FIRST)
    refused = [c for c in fake.calls[mark:] if c.method == "sendMessage" and not c.ok]
    assert len(refused) == 1
    with sqlite3.connect(bot.settings.db) as con:
        assert con.execute("SELECT paused_at IS NOT NULL FROM follows WHERE chat_id = ?",
                           (STRANGER.id,)).fetchone() == (1,)
    mark = fake.mark()
    await ingest(bot, *MORE)
    assert [c for c in fake.calls[mark:] if c.method == "sendMessage"] == []  # no more attempts
    fake.errors = [e for e in fake.errors if "blocked by the user" not in e]

    # Back in touch: /following resumes the follows.
    fake.blocked.discard(STRANGER.id)
    listing = await say(fake, STRANGER.id, STRANGER, "/following")
    assert "جدري القردة" in listing["text"]
    mark = fake.mark()
    await ingest(bot, article(7, "جدري القردة في كندا", "أعلنت كندا تسجيل خمس إصابات بجدري القردة في مقاطعة "
                              "كيبيك، وقالت السلطات إن المرضى في حالة جيدة وإن التحقيق جار لمعرفة مصدر العدوى."))
    assert len(alerts_to(fake, STRANGER.id, mark)) == 1


async def test_following_lists_and_stops_with_buttons(bot, fake):
    await say(fake, READER.id, READER, "/follow الانتخابات العراقية")
    await say(fake, READER.id, READER, "/follow جدري القردة حسب العربية")
    listing = await say(fake, READER.id, READER, "/following")
    assert "1. الانتخابات العراقية" in listing["text"] and "2. جدري القردة حسب العربية" in listing["text"]
    stop = next(b["callback_data"] for row in listing["reply_markup"]["inline_keyboard"] for b in row
                if b["text"] == "⏹ 1")
    mark = fake.mark()
    fake.press(READER, listing, stop)
    [edit] = await fake.wait_for("editMessageText", since=mark)
    assert "الانتخابات" not in edit.params["text"] and "جدري القردة" in edit.params["text"]

    # The remaining follow is limited to one outlet (العربية → alarabia): skynews' story is not sent.
    mark = fake.mark()
    await ingest(bot, FIRST)
    assert alerts_to(fake, READER.id, mark) == []
    await ingest(bot, dict(MORE[0], id="pox30", source="alarabia"))
    assert len(alerts_to(fake, READER.id, mark)) == 1

    reply = await say(fake, READER.id, READER, "/unfollow 1")
    assert "أوقفت المتابعة" in reply["text"]
    assert "لا تتابع أي موضوع" in (await say(fake, READER.id, READER, "/following"))["text"]
    assert "لم أجد في ما كتبت كلمات" in (await say(fake, READER.id, READER, "/follow ماذا حدث؟"))["text"]


async def test_in_a_group_only_admins_follow(bot, fake):
    refused = await say(fake, GROUP_ID, STRANGER, "/follow جدري القردة")
    assert "مشرفو المجموعة فقط" in refused["text"]
    with sqlite3.connect(bot.settings.db) as con:
        assert con.execute("SELECT COUNT(*) FROM follows").fetchone() == (0,)
    accepted = await say(fake, GROUP_ID, ADMIN, "/follow جدري القردة")
    assert "أتابع لك" in accepted["text"]
    mark = fake.mark()
    await ingest(bot, FIRST)
    assert len(alerts_to(fake, GROUP_ID, mark)) == 1


async def test_articles_ingested_by_another_process_are_found_by_polling(bot, fake, tmp_path):
    await say(fake, READER.id, READER, "/follow جدري القردة")
    mark = fake.mark()
    (tmp_path / "cli.jsonl").write_bytes(jsonl(FIRST))
    other = await SearchEngine.open(bot.settings.db, bot.settings.retrieval_config())  # as `newsbot ingest` does
    try:
        await other.ingest_paths([tmp_path / "cli.jsonl"])
    finally:
        await other.close()
    [alert] = await fake.wait_for("sendMessage", since=mark, chat_id=READER.id, within=5)
    assert FIRST["title"] in alert.params["text"]


async def test_answers_say_how_they_were_understood_and_where_a_story_also_ran(bot, fake):
    await ingest(bot, FIRST, SECOND_VERSION, UNRELATED)
    mark = fake.mark()
    fake.send(fake.chats[READER.id], READER, "ماذا قالت سكاي نيوز عن جدري القردة؟")
    [call] = await fake.wait_for("sendMessage", since=mark, chat_id=READER.id)
    text = fake.message(call)["text"]
    assert text.splitlines()[0] == "\u200f🔎 أخبار سكاي نيوز"
    assert "وردت أيضاً في: العربية" in text
    assert f'<a href="{SECOND_VERSION["url"]}">العربية</a>' in call.params["text"]
    assert FIRST["title"] in text and SECOND_VERSION["title"] not in text  # one result for the story

    # Without an outlet: still one result for the story, whichever version ranks first.
    mark = fake.mark()
    fake.send(fake.chats[READER.id], READER, "جدري القردة في المغرب")
    [call] = await fake.wait_for("sendMessage", since=mark, chat_id=READER.id)
    text = fake.message(call)["text"]
    assert (FIRST["title"] in text) != (SECOND_VERSION["title"] in text)
    assert "وردت أيضاً في:" in text and "🔎" not in text

    async with bot.engine.writing() as db:
        await outlets.add_aliases(db, "skynews", ["سكاي عربي"])
    sources = (await say(fake, READER.id, READER, "/sources"))["text"]
    line = next(x for x in sources.splitlines() if "skynews" in x)
    assert "skynews: 2 (" in line and "سكاي نيوز عربية" in line and "سكاي عربي" in line


async def test_follow_terms_are_rederived_at_start(bot, fake):
    """Terms stored by an older analysis chain: the topic as written is analysed again on start."""
    await say(fake, READER.id, READER, "/follow جدري القردة")
    await bot.stop()
    with sqlite3.connect(bot.settings.db) as con:
        con.execute("UPDATE follows SET terms = 'stale-term'")
    await bot.start(ingest=False)
    mark = fake.mark()
    await ingest(bot, FIRST)
    assert len(alerts_to(fake, READER.id, mark)) == 1
    with sqlite3.connect(bot.settings.db) as con:
        assert con.execute("SELECT terms FROM follows").fetchone()[0] != "stale-term"
