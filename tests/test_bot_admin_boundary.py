"""Admin boundary: every admin command and upload, from the wrong place or person, is refused.

A non-admin in private, anyone (admins too) in a group, and a forwarded
message (an admin forwarding someone's command or file, or a reader
forwarding the admin's) — each refused, no file downloaded, and the database
byte-for-byte unchanged: its file is hashed after a WAL checkpoint (so
that writes still sitting in the -wal file would show), beside the index
file and the logical content (`iterdump`).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import sqlite3
import time
from pathlib import Path

import pytest

from bot import texts

from .telegram_stub.faults import reply_to
from .telegram_stub.harness import ADMIN, READER, STRANGER, BotHarness, started
from .telegram_stub.server import FakeBotApi, User

GROUP_ID = -100321
COMMANDS = ["/reindex", "/stats", "/delete oil1", "/delete@news_test_bot oil2", "/reindex@news_test_bot now"]
NEW_ARTICLE = {"id": "up9", "title": "زلزال في اليابان", "source": "NHK", "published": "2025-03-01",
               "text": "ضرب زلزال بقوة ست درجات جزيرة هوكايدو اليابانية صباح اليوم."}


@pytest.fixture
async def fake():
    async with started(FakeBotApi(), ADMIN, READER, STRANGER) as server:
        server.group(GROUP_ID, "نقاش")
        yield server


@pytest.fixture
async def bot(tmp_path, fake):
    harness = BotHarness(tmp_path, fake)
    await harness.start()
    # Something for /reindex to find, had it run.
    (harness.data_dir / "new.jsonl").write_text(json.dumps(NEW_ARTICLE, ensure_ascii=False), encoding="utf-8")
    yield harness
    await harness.stop()


def fingerprint(db: Path) -> tuple[str, str, str]:
    """(database file hash after a checkpoint, index file hash, hash of the SQL dump)."""
    with sqlite3.connect(db) as con:
        busy, _, _ = con.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        assert busy == 0, "checkpoint blocked: the comparison would miss writes in the -wal file"
        dump = "\n".join(con.iterdump())
    index = db.with_name(db.name + ".index.npz")
    wal = db.with_name(db.name + "-wal")
    assert not wal.exists() or wal.stat().st_size == 0
    return (hashlib.sha256(db.read_bytes()).hexdigest(), hashlib.sha256(index.read_bytes()).hexdigest(),
            hashlib.sha256(dump.encode()).hexdigest())


def forwarded_from(message: dict, origin: User) -> dict:
    # The update is serialised when the bot polls, so the message can still be dressed as forwarded.
    message["forward_origin"] = {"type": "user", "date": int(time.time()) - 60, "sender_user": origin.as_dict()}
    return message


ADMIN_ONLY, PRIVATE_ONLY = texts.AR.admin_only, texts.AR.admin_private_only


def attempts(fake: FakeBotApi) -> list[tuple[str, dict, str]]:
    """(who/where, the message sent, the refusal expected: None for silence)."""
    group = fake.chats[GROUP_ID]
    out = []
    for command in COMMANDS:
        out += [
            ("reader in private", fake.send(fake.chats[READER.id], READER, command), ADMIN_ONLY),
            ("stranger in the group", fake.send(group, STRANGER, command), ADMIN_ONLY),
            ("admin in the group", fake.send(group, ADMIN, command), PRIVATE_ONLY),
            ("admin forwarding", forwarded_from(fake.send(fake.chats[ADMIN.id], ADMIN, command), READER),
             PRIVATE_ONLY),
            ("reader forwarding the admin", forwarded_from(fake.send(fake.chats[READER.id], READER, command), ADMIN),
             ADMIN_ONLY),
        ]
    upload = json.dumps(NEW_ARTICLE, ensure_ascii=False).encode()
    out += [
        ("reader uploading", fake.send_document(fake.chats[READER.id], READER, "news.jsonl", upload), ADMIN_ONLY),
        ("admin forwarding a file", forwarded_from(
            fake.send_document(fake.chats[ADMIN.id], ADMIN, "news.jsonl", upload), STRANGER), PRIVATE_ONLY),
        ("reader forwarding the admin's file", forwarded_from(
            fake.send_document(fake.chats[READER.id], READER, "news.jsonl", upload), ADMIN), ADMIN_ONLY),
        # Files are taken only in private: in a group, silence.
        ("admin uploading in the group", fake.send_document(group, ADMIN, "news.jsonl", upload), None),
        ("stranger uploading in the group", fake.send_document(group, STRANGER, "news.jsonl", upload), None),
    ]
    return out


async def test_admin_commands_and_uploads_from_the_wrong_place_are_refused_and_change_nothing(bot, fake):
    before = fingerprint(bot.settings.db)
    mark = fake.mark()
    tried = attempts(fake)
    sentinel = fake.send(fake.chats[READER.id], READER, "/help")  # updates are handled in order
    await reply_to(fake, READER.id, sentinel["message_id"])
    await asyncio.sleep(0.3)  # a background reindex, had one started, would have written by now

    for who, message, refusal in tried:
        replies = [c for c in fake.sent("sendMessage", since=mark, chat_id=message["chat"]["id"])
                   if c.params.get("reply_parameters", {}).get("message_id") == message["message_id"]]
        if refusal is None:
            assert replies == [], who
        else:
            [reply] = replies
            assert fake.message(reply)["text"] == refusal, (who, message.get("text"))
    assert fake.sent("getFile", since=mark) == []
    assert not bot.app.bot_data.services.reindex.running
    assert fingerprint(bot.settings.db) == before
    print(f"\nadmin boundary: {len(tried)} attempts refused "
          f"({sum(r is None for *_, r in tried)} by silence), database unchanged")

    # The same command typed by the admin in private does change the database: the fingerprint would notice.
    mark = fake.mark()
    ok = fake.send(fake.chats[ADMIN.id], ADMIN, "/delete oil1")
    reply = await reply_to(fake, ADMIN.id, ok["message_id"])
    assert texts.AR.deleted.format(id="oil1") in fake.message(reply)["text"]
    assert fingerprint(bot.settings.db)[0] != before[0]
