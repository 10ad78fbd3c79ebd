"""Feeds through the real bot and the stand-in Bot API: an admin follows a feed with /feeds add,
the background poll takes a new item, and a reader's question about it is answered with its source
and link; a non-admin's /feeds add is refused and changes nothing."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from contextlib import closing

import pytest

from .news_site import Item, NewsSite, Route, article_page, rss2
from .telegram_stub.harness import ADMIN, ENGLISH_ADMIN, READER, BotHarness
from .test_bot_admin import reply_to
from .test_feeds import LONG_HTML

STORY = ["أعلنت هيئة الأرصاد الجوية أن عاصفة رملية قوية ستضرب مدينة تمبكتو مساء الغد"
         " مع رياح تتجاوز سرعتها ثمانين كيلومترا.",
         "ودعت الهيئة السكان إلى إغلاق النوافذ وتجنب الخروج إلا للضرورة القصوى حتى انتهاء العاصفة صباح الخميس.",
         "وقال مدير الهيئة إن فرق الطوارئ في حالة تأهب وإن المدارس ستغلق أبوابها يوما واحدا احتياطا."]


@pytest.fixture
async def site():
    async with NewsSite() as s:
        yield s


@pytest.fixture
async def bot(tmp_path, fake):
    harness = BotHarness(tmp_path, fake, fetch_allow_hosts=frozenset({"127.0.0.1"}), host_delay_seconds=0,
                         feed_interval_seconds=0.3)
    await harness.start()
    yield harness
    await harness.stop()


def feeds_rows(db) -> list[tuple]:
    with closing(sqlite3.connect(db)) as con:
        return con.execute("SELECT url, name FROM feeds").fetchall()


async def test_admin_follows_a_feed_and_a_new_item_is_answered_with_source_and_link(bot, fake, site):
    site.routes["/rss"] = Route(rss2("feed title", [Item("زيتون", site.url("/n/1"), content=LONG_HTML)]),
                                etag='"1"')
    reply = await reply_to(fake, ENGLISH_ADMIN, f"/feeds add {site.url('/rss')} وكالة الصحراء")
    assert "Added" in reply and "وكالة الصحراء" in reply
    # The new item appears after the feed was added; the background poll takes it.
    site.routes["/rss"].body = rss2("feed title", [
        Item("عاصفة رملية تضرب تمبكتو", site.url("/n/2?utm_source=rss"), summary="عاصفة",
             date="Sat, 05 Dec 2026 18:00:00 +0000"),
        Item("زيتون", site.url("/n/1"), content=LONG_HTML)])
    site.routes["/rss"].etag = '"2"'
    site.routes["/n/2"] = Route(article_page("عاصفة رملية تضرب تمبكتو", STORY), content_type="text/html")
    deadline = time.monotonic() + 20
    answer = ""
    while time.monotonic() < deadline:
        answer = await reply_to(fake, READER, "متى تضرب العاصفة الرملية مدينة تمبكتو؟")
        if "تمبكتو" in answer and "وكالة الصحراء" in answer:
            break
        await asyncio.sleep(0.3)
    assert "عاصفة رملية تضرب تمبكتو" in answer and "وكالة الصحراء" in answer
    [call] = fake.sent("sendMessage", chat_id=READER.id)[-1:]
    assert site.url("/n/2") in str(call.params)  # the article's link (tracking parameter removed)
    listing = await reply_to(fake, ENGLISH_ADMIN, "/feeds")
    assert "وكالة الصحراء — ok, 2 articles" in listing and site.url("/rss") in listing
    assert "Removed" in await reply_to(fake, ENGLISH_ADMIN, f"/feeds remove {site.url('/rss')}")
    assert feeds_rows(bot.settings.db) == []


async def test_non_admin_feeds_add_is_refused_and_changes_nothing(bot, fake, site):
    site.routes["/rss"] = Route(rss2("م", [Item("زيتون", site.url("/n/1"), content=LONG_HTML)]))
    assert "للمشرفين فقط" in await reply_to(fake, READER, f"/feeds add {site.url('/rss')}")
    assert "للمشرفين فقط" in await reply_to(fake, READER, "/feeds")
    await asyncio.sleep(0.3)
    assert feeds_rows(bot.settings.db) == [] and site.requests == []


async def test_admin_bad_feed_and_opml_upload(bot, fake, site):
    assert "Refused" in await reply_to(fake, ENGLISH_ADMIN, "/feeds add ftp://example.org/rss")
    assert "Usage" in await reply_to(fake, ENGLISH_ADMIN, "/feeds frobnicate")
    opml = (f'<?xml version="1.0"?><opml version="2.0"><body><outline text="عربي">'
            f'<outline type="rss" text="وكالة" xmlUrl="{site.url("/rss")}"/></outline></body></opml>').encode()
    site.routes["/rss"] = Route(rss2("م", []))
    mark = fake.mark()
    fake.send_document(fake.chats[ADMIN.id], ENGLISH_ADMIN, "feeds.opml", opml)
    [reply] = await fake.wait_for("sendMessage", since=mark, chat_id=ADMIN.id)
    assert "import: 1 added, 0 already followed, 0 refused" in fake.message(reply)["text"]
    assert feeds_rows(bot.settings.db) == [(site.url("/rss"), "وكالة")]
