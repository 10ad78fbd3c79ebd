"""Admin commands and uploads through the stand-in Bot API; refusals leave the database unchanged."""

from __future__ import annotations

import asyncio
import gzip
import json
import sqlite3
from pathlib import Path

import pytest

from bot import texts

from .telegram_stub.harness import ADMIN, ENGLISH_ADMIN, READER, BotHarness
from .telegram_stub.server import FakeBotApi

NEW_ARTICLE = {"id": "up1", "title": "زلزال في اليابان", "source": "NHK", "category": "عالم",
               "published": "2025-03-01", "text": "ضرب زلزال بقوة ست درجات جزيرة هوكايدو اليابانية صباح اليوم."}


@pytest.fixture
async def bot(tmp_path, fake):
    harness = BotHarness(tmp_path, fake, upload_max_bytes=4096)
    await harness.start()
    yield harness
    await harness.stop()


def snapshot(db: Path) -> tuple:
    """Everything an admin command could change in the articles."""
    with sqlite3.connect(db) as con:
        return (con.execute("SELECT id, content_hash FROM articles ORDER BY id").fetchall(),
                con.execute("SELECT COUNT(*) FROM passages").fetchone(),
                con.execute("SELECT value FROM meta WHERE key = 'content_generation'").fetchone())


async def reply_to(fake: FakeBotApi, user, text: str) -> str:
    mark = fake.mark()
    fake.send(fake.chats[user.id], user, text)
    [answer] = await fake.wait_for("sendMessage", since=mark, chat_id=user.id)
    return fake.message(answer)["text"]


@pytest.mark.parametrize("command", ["/reindex", "/stats", "/delete oil1"])
async def test_admin_commands_are_refused_to_others_and_change_nothing(bot, fake, command):
    (bot.data_dir / "new.jsonl").write_text(json.dumps(NEW_ARTICLE, ensure_ascii=False), encoding="utf-8")
    before = snapshot(bot.settings.db)
    assert "للمشرفين فقط" in await reply_to(fake, READER, command)
    await asyncio.sleep(0.2)  # a background job, had one started, would have written by now
    assert snapshot(bot.settings.db) == before
    assert not bot.app.bot_data.services.reindex.running


async def test_reindex_runs_in_the_background_refuses_a_second_run_and_reports(bot, fake, monkeypatch):
    (bot.data_dir / "new.jsonl").write_text(json.dumps(NEW_ARTICLE, ensure_ascii=False), encoding="utf-8")
    building, release = asyncio.Event(), asyncio.Event()
    real_rebuild = bot.engine.rebuild_index

    async def slow_rebuild():
        building.set()
        await release.wait()
        return await real_rebuild()

    monkeypatch.setattr(bot.engine, "rebuild_index", slow_rebuild)
    assert "بدأت إعادة الفهرسة" in await reply_to(fake, ADMIN, "/reindex")
    await asyncio.wait_for(building.wait(), 5)
    refusal = await reply_to(fake, ADMIN, "/reindex")
    assert "جارية بالفعل" in refusal and texts.AR.phase_building in refusal and "ملفاً" in refusal
    # Questions are answered from the old index meanwhile.
    answer = await reply_to(fake, READER, "أسعار النفط")
    assert "النفط والأسواق" in answer
    assert "زلزال" not in await reply_to(fake, READER, "زلزال هوكايدو")
    mark = fake.mark()
    release.set()
    [report] = await fake.wait_for("sendMessage", since=mark, chat_id=ADMIN.id)
    text = fake.message(report)["text"]
    assert texts.AR.reindex_done in text and "1 added, 0 updated, 8 unchanged, 0 skipped" in text and "الفهرس:" in text
    assert "زلزال في اليابان" in await reply_to(fake, READER, "زلزال هوكايدو")


async def test_stats_reports_articles_index_and_questions(bot, fake):
    for question in ("أسعار النفط", "من هو وزير الخارجية الإيراني؟", "كم سعر الذهب في بورصة طوكيو"):
        await reply_to(fake, READER, question)
    text = await reply_to(fake, ENGLISH_ADMIN, "/stats")
    assert "articles: 8" in text and "sources: 4" in text
    passages = snapshot(bot.settings.db)[1][0]
    assert f"passages: {passages}" in text
    assert "questions answered: 3 in the last 24 h, 3 all time" in text
    assert "median answer latency:" in text and "ms" in text
    assert "built" in text
    with sqlite3.connect(bot.settings.db) as con:
        rows = con.execute("SELECT chat_type, user_hash, question, hits, latency_ms FROM question_log").fetchall()
    assert (rows[0][0], rows[0][2]) == ("private", "أسعار النفط")
    assert rows[0][3] == 3 and rows[1][3] >= 1 and rows[2][3] == 0  # the no-answer is logged too
    assert len({r[1] for r in rows}) == 1 and str(READER.id) not in rows[0][1] and len(rows[0][1]) >= 16
    assert all(r[4] > 0 for r in rows)


async def test_delete_removes_the_article_and_updates_the_index(bot, fake):
    assert "No article with id nope" in await reply_to(fake, ENGLISH_ADMIN, "/delete nope")
    assert "Usage" in await reply_to(fake, ENGLISH_ADMIN, "/delete")
    assert "لا يوجد مقال برقم nope" in await reply_to(fake, ADMIN, "/delete nope")  # Arabic by default
    assert "Deleted article oil3" in await reply_to(fake, ENGLISH_ADMIN, "/delete oil3")
    mark = fake.mark()
    fake.inline(READER, "النفط")
    [answer] = await fake.wait_for("answerInlineQuery", since=mark)
    titles = {r["title"] for r in answer.params["results"]}
    assert "النفط والأسواق 3" not in titles and {"النفط والأسواق 2", "النفط والأسواق 4"} <= titles
    assert "oil3" not in [row[0] for row in snapshot(bot.settings.db)[0]]


@pytest.mark.parametrize("name, data", [
    ("news.jsonl", json.dumps(NEW_ARTICLE, ensure_ascii=False).encode()),
    ("news.jsonl.gz", gzip.compress(json.dumps(NEW_ARTICLE, ensure_ascii=False).encode())),
])
async def test_admin_upload_is_downloaded_and_ingested(bot, fake, name, data):
    mark = fake.mark()
    fake.send_document(fake.chats[ADMIN.id], ENGLISH_ADMIN, name, data)
    [report] = await fake.wait_for("sendMessage", since=mark, chat_id=ADMIN.id)
    assert fake.sent("getFile", since=mark)
    text = fake.message(report)["text"]
    assert f"Loaded {name}" in text and "1 added, 0 updated, 0 unchanged, 0 skipped" in text
    assert "زلزال في اليابان" in await reply_to(fake, READER, "زلزال هوكايدو")


@pytest.mark.parametrize("name, data, claimed, reason", [
    ("broken.jsonl", b'{"id": "x", "title": "t"\n', None, "invalid JSON"),
    ("notes.pdf", b"%PDF-1.4", None, "unsupported file type"),
    ("huge.jsonl", b"{}", 10_000_000, "upload limit"),
    ("latin1.txt", "عنوان".encode()[:3] + b"\xff\xfe\xfa caf\xe9", None, "UTF-8"),
])
async def test_bad_uploads_are_refused_with_the_reason_and_change_nothing(bot, fake, name, data, claimed, reason):
    before = snapshot(bot.settings.db)
    mark = fake.mark()
    fake.send_document(fake.chats[ADMIN.id], ENGLISH_ADMIN, name, data, claimed_size=claimed)
    [reply] = await fake.wait_for("sendMessage", since=mark, chat_id=ADMIN.id)
    text = fake.message(reply)["text"]
    assert f"Refused {name}" in text and reason in text
    assert snapshot(bot.settings.db) == before


async def test_an_upload_without_a_file_name_is_refused_as_this_file(bot, fake):
    before = snapshot(bot.settings.db)
    mark = fake.mark()
    fake.send_document(fake.chats[ADMIN.id], ENGLISH_ADMIN, "", json.dumps(NEW_ARTICLE).encode())
    [reply] = await fake.wait_for("sendMessage", since=mark, chat_id=ADMIN.id)
    assert "Refused this file: unsupported file type" in fake.message(reply)["text"]
    assert snapshot(bot.settings.db) == before


async def test_uploads_from_non_admins_are_refused_without_downloading(bot, fake):
    before = snapshot(bot.settings.db)
    mark = fake.mark()
    fake.send_document(fake.chats[READER.id], READER, "news.jsonl", json.dumps(NEW_ARTICLE).encode())
    [reply] = await fake.wait_for("sendMessage", since=mark, chat_id=READER.id)
    assert "للمشرفين فقط" in fake.message(reply)["text"]
    assert fake.sent("getFile", since=mark) == []
    assert snapshot(bot.settings.db) == before
