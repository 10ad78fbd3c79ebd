"""The question log: who asked (as a salted hash), what, how many hits, how fast.

Rows live in the `question_log` table (the bot's migration set, `bot.schema`); this module
holds its SQL and no other module queries it.
Rows older than the retention period are deleted; the all-time count is a
counter in `bot_meta`, so it survives the deletion. The log has its own SQLite
connection: WAL lets it write between the engine's ingest batches.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import statistics
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiosqlite

from retrieval import store

from . import schema

log = logging.getLogger(__name__)

SALT_META_KEY = "question_log_salt"
QUESTIONS_TOTAL = "questions_total"  # the all-time count, in `bot_meta`
PURGE_EVERY_SECONDS = 3600.0


@dataclass(frozen=True, slots=True)
class QuestionStats:
    last_24h: int
    total: int
    median_ms: float | None  # over the retained rows


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds")


class QuestionLog:
    def __init__(self, db: aiosqlite.Connection, salt: bytes, retention_days: int) -> None:
        self._db = db
        self._salt = salt
        self.retention = timedelta(days=retention_days)
        self._last_purge = 0.0

    @classmethod
    async def open(cls, db_path: str | Path, *, retention_days: int, salt: str | None = None) -> QuestionLog:
        db = await schema.connect(db_path)
        try:
            if salt is None:
                salt = await _stored_salt(db)
            await schema.count_inserts(db, "question_log", QUESTIONS_TOTAL)
        except BaseException:
            await db.close()
            raise
        return cls(db, salt.encode("utf-8"), retention_days)

    async def close(self) -> None:
        await self._db.close()

    def user_hash(self, user_id: int | None) -> str:
        if user_id is None:
            return ""
        return hmac.new(self._salt, str(user_id).encode("ascii"), hashlib.sha256).hexdigest()[:24]

    async def record(self, *, chat_type: str, user_id: int | None, question: str, hits: int,
                     latency_seconds: float, now: datetime | None = None) -> int:
        """Log one answered question; returns its row id (paging buttons refer to it)."""
        now = now or datetime.now(UTC)
        # One statement, so one round trip to aiosqlite's thread (this is on every answer's path): the
        # all-time counter is bumped by the connection's trigger inside the INSERT's own transaction.
        cur = await self._db.execute(
            "INSERT INTO question_log (asked_at, chat_type, user_hash, question, hits, latency_ms)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (_iso(now), chat_type, self.user_hash(user_id), question, hits, round(latency_seconds * 1000, 2)))
        row_id = int(cur.lastrowid or 0)
        if time.monotonic() - self._last_purge > PURGE_EVERY_SECONDS:
            await self.purge(now)
        return row_id

    async def question(self, log_id: int) -> str | None:
        row = await (await self._db.execute("SELECT question FROM question_log WHERE id = ?", (log_id,))).fetchone()
        return row[0] if row else None

    async def asked_at(self, log_id: int) -> datetime | None:
        """When a logged question was asked: its later pages read اليوم and أمس as they were meant then."""
        row = await (await self._db.execute("SELECT asked_at FROM question_log WHERE id = ?", (log_id,))).fetchone()
        try:
            return datetime.fromisoformat(row[0]) if row else None
        except ValueError:
            return None

    async def article_of_passage(self, passage_id: int) -> str | None:
        """The article holding a passage (full-article buttons for ids too long to encode)."""
        return await store.article_of_passage(self._db, passage_id)

    async def purge(self, now: datetime | None = None) -> int:
        """Delete rows older than the retention period."""
        self._last_purge = time.monotonic()
        cutoff = _iso((now or datetime.now(UTC)) - self.retention)
        cur = await self._db.execute("DELETE FROM question_log WHERE asked_at < ?", (cutoff,))
        if cur.rowcount:
            log.info("question log: %d rows older than %s deleted", cur.rowcount, cutoff)
        return cur.rowcount

    async def stats(self, now: datetime | None = None) -> QuestionStats:
        since = _iso((now or datetime.now(UTC)) - timedelta(hours=24))
        recent = (await (await self._db.execute(
            "SELECT COUNT(*) FROM question_log WHERE asked_at >= ?", (since,))).fetchone())[0]
        total = int(await schema.get_value(self._db, QUESTIONS_TOTAL, "0"))
        latencies = [r[0] for r in await (await self._db.execute("SELECT latency_ms FROM question_log")).fetchall()]
        median = statistics.median(latencies) if latencies else None
        return QuestionStats(last_24h=recent, total=total, median_ms=median)


async def _stored_salt(db: aiosqlite.Connection) -> str:
    """The database's own random salt, created once: hashes stay comparable across restarts."""
    return await schema.get_value(db, SALT_META_KEY) or await schema.set_value_once(
        db, SALT_META_KEY, secrets.token_hex(16))
