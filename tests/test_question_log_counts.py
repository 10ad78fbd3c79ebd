"""The question log's all-time counter, kept by its connection's TEMP trigger in one statement."""

from __future__ import annotations

import sqlite3

import pytest

from bot.records import QuestionLog


async def record(log: QuestionLog, question: str = "سؤال") -> int:
    return await log.record(chat_type="private", user_id=7, question=question, hits=1, latency_seconds=0.01)


def total(db) -> int:
    with sqlite3.connect(db) as con:
        return int(con.execute("SELECT value FROM bot_meta WHERE key = 'questions_total'").fetchone()[0])


async def test_each_question_counts_once_across_reopenings(tmp_path):
    db = tmp_path / "news.db"
    for _ in range(2):
        log = await QuestionLog.open(db, retention_days=30)
        ids = [await record(log) for _ in range(3)]
        assert len(set(ids)) == 3 and all(ids)
        await log.close()
    assert total(db) == 6


async def test_a_failed_insert_leaves_the_counter_alone(tmp_path):
    db = tmp_path / "news.db"
    log = await QuestionLog.open(db, retention_days=30)
    await record(log)
    with pytest.raises(sqlite3.IntegrityError):
        await record(log, question=None)  # NOT NULL: the statement fails, trigger and all
    await log.close()
    assert total(db) == 1


async def test_the_trigger_is_not_stored_in_the_database(tmp_path):
    db = tmp_path / "news.db"
    log = await QuestionLog.open(db, retention_days=30)
    await record(log)
    await log.close()
    with sqlite3.connect(db) as con:
        # (The passage log's triggers are the store's, on `passages`.)
        assert con.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'"
                           " AND tbl_name = 'question_log'").fetchall() == []
        # Another program (or an older version of this one) writing the log directly is not counted twice.
        con.execute("INSERT INTO question_log (asked_at, chat_type, user_hash, question, hits, latency_ms)"
                    " VALUES ('2024-01-01T00:00:00+00:00', 'private', '', 'x', 0, 1.0)")
    assert total(db) == 1
