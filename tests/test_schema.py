"""Schema bookkeeping: each side's migration set, the upgrade from the single list, the transaction idiom."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from bot import schema
from bot.records import QuestionLog
from retrieval import db as database
from retrieval import store
from retrieval.engine import RetrievalConfig, SearchEngine

# What the released program (`PRAGMA user_version` 3: migrations 0-2 of the single list) wrote.
RELEASED_V3 = """
CREATE TABLE articles (id TEXT PRIMARY KEY, title TEXT NOT NULL DEFAULT '', body TEXT NOT NULL,
    source TEXT NOT NULL DEFAULT '', section TEXT NOT NULL DEFAULT '', published TEXT NOT NULL DEFAULT '',
    url TEXT NOT NULL DEFAULT '', author TEXT NOT NULL DEFAULT '', content_hash TEXT NOT NULL,
    origin TEXT NOT NULL DEFAULT '', ingested_at TEXT NOT NULL, updated_at TEXT NOT NULL);
CREATE INDEX articles_published ON articles (published);
CREATE INDEX articles_source ON articles (source);
CREATE TABLE passages (id INTEGER PRIMARY KEY, article_id TEXT NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
    ord INTEGER NOT NULL, start INTEGER NOT NULL, "end" INTEGER NOT NULL, terms TEXT NOT NULL,
    UNIQUE (article_id, ord));
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT INTO meta (key, value) VALUES ('content_generation', '4');
CREATE TABLE question_log (id INTEGER PRIMARY KEY, asked_at TEXT NOT NULL, chat_type TEXT NOT NULL,
    user_hash TEXT NOT NULL, question TEXT NOT NULL, hits INTEGER NOT NULL, latency_ms REAL NOT NULL);
CREATE INDEX question_log_asked_at ON question_log (asked_at);
INSERT INTO meta (key, value) VALUES ('questions_total', '41');
INSERT INTO meta (key, value) VALUES ('question_log_salt', 'abcdef');
INSERT INTO articles (id, body, source, content_hash, ingested_at, updated_at)
    VALUES ('a1', 'ارتفعت أسعار النفط اليوم', 'bbc', 'h', 't', 't');
INSERT INTO passages (article_id, ord, start, "end", terms) VALUES ('a1', 0, 0, 25, 'رتفع سعر نفط يوم');
INSERT INTO question_log (asked_at, chat_type, user_hash, question, hits, latency_ms)
    VALUES ('2026-12-01T00:00:00+00:00', 'private', 'u', 'النفط', 1, 3.0);
PRAGMA user_version = 3;
"""


def rows(path: Path, sql: str) -> list[tuple]:
    with closing(sqlite3.connect(path)) as con:
        return con.execute(sql).fetchall()


async def test_a_released_version_3_database_upgrades_keeping_its_rows(tmp_path: Path):
    path = tmp_path / "news.db"
    with closing(sqlite3.connect(path)) as con:
        con.executescript(RELEASED_V3)
    log = await QuestionLog.open(path, retention_days=10_000)  # the bot's opener: both sets
    try:
        assert (await log.stats()).total == 41
        assert await log.article_of_passage(1) == "a1"
        assert log.user_hash(7) == QuestionLog(None, b"abcdef", 1).user_hash(7)  # the stored salt kept
    finally:
        await log.close()
    assert rows(path, "PRAGMA user_version") == [(database.USER_VERSION,)]
    assert dict(rows(path, "SELECT name, version FROM schema_versions")) == {
        "retrieval": store.RETRIEVAL.version, "bot": schema.BOT.version}
    # The bot's keys left `meta` for `bot_meta`; the passage log's bookkeeping joined it.
    assert rows(path, "SELECT key FROM meta ORDER BY key") == [("content_generation",), ("passage_log_trimmed",)]
    assert rows(path, "SELECT key, value FROM bot_meta ORDER BY key") == [
        ("question_log_salt", "abcdef"), ("questions_total", "41")]
    async with await SearchEngine.open(path, RetrievalConfig()) as engine:
        assert [h.article_id for h in (await engine.search("أسعار النفط")).hits] == ["a1"]


async def test_each_side_migrates_only_its_own_set(tmp_path: Path):
    path = tmp_path / "news.db"
    db = await store.connect(path)
    await db.close()
    assert dict(rows(path, "SELECT name, version FROM schema_versions")) == {"retrieval": store.RETRIEVAL.version}
    tables = {r[0] for r in rows(path, "SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert "articles" in tables and "question_log" not in tables and "follows" not in tables
    db = await schema.connect(path)
    await db.close()
    assert dict(rows(path, "SELECT name, version FROM schema_versions"))["bot"] == schema.BOT.version


async def test_a_newer_set_or_file_is_refused(tmp_path: Path):
    path = tmp_path / "news.db"
    db = await store.connect(path)
    await db.close()
    with closing(sqlite3.connect(path)) as con, con:
        con.execute("UPDATE schema_versions SET version = version + 1 WHERE name = 'retrieval'")
    with pytest.raises(database.SchemaError, match="'retrieval' is newer"):
        await store.connect(path)
    other = tmp_path / "other.db"
    with closing(sqlite3.connect(other)) as con:
        con.execute("PRAGMA user_version = 42")
    with pytest.raises(database.SchemaError, match="newer"):
        await schema.connect(other)


async def test_a_failed_migration_step_leaves_nothing_of_itself(tmp_path: Path):
    path = tmp_path / "news.db"
    broken = database.MigrationSet("lab", ("CREATE TABLE lab_one (x);", "CREATE TABLE lab_two (x);\nSELECT nope;"))
    with pytest.raises(sqlite3.OperationalError):
        await database.connect(path, (broken,))
    tables = {r[0] for r in rows(path, "SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert "lab_one" in tables and "lab_two" not in tables
    assert rows(path, "SELECT version FROM schema_versions WHERE name = 'lab'") == [(1,)]


async def test_transaction_commits_together_or_not_at_all(tmp_path: Path):
    db = await store.connect(tmp_path / "news.db")
    try:
        async with database.transaction(db):
            await store.set_meta(db, "x", "1")
            await store.set_meta(db, "y", "1")
        with pytest.raises(RuntimeError):
            async with database.transaction(db):
                await store.set_meta(db, "x", "2")
                raise RuntimeError("half-way")
        assert (await store.get_meta(db, "x"), await store.get_meta(db, "y")) == ("1", "1")
    finally:
        await db.close()


async def test_an_up_to_date_file_opens_while_another_process_writes(tmp_path: Path):
    import asyncio

    path = tmp_path / "news.db"
    db = await schema.connect(path)
    await db.close()
    with closing(sqlite3.connect(path, isolation_level=None)) as writer:
        writer.execute("BEGIN IMMEDIATE")  # an ingest's batch under way elsewhere
        opened = await asyncio.wait_for(schema.connect(path), 2)  # no write lock wanted: no 5 s busy wait
        await opened.close()
        writer.execute("ROLLBACK")
