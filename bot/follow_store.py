"""The `follows` and `alerts_sent` tables (the bot's migration set, `bot.schema`): their SQL is this module's alone."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import aiosqlite

from . import schema


@dataclass(frozen=True, slots=True)
class Follow:
    id: int
    chat_id: int
    topic: str
    terms: tuple[str, ...]
    sources: tuple[str, ...]
    paused: bool


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class FollowStore:
    """Follows and sent alerts in SQLite (one connection of its own)."""

    def __init__(self, db: aiosqlite.Connection) -> None:
        self.db = db

    @classmethod
    async def open(cls, path: str | Path) -> FollowStore:
        return cls(await schema.connect(path))

    async def close(self) -> None:
        await self.db.close()

    @staticmethod
    def _follow(row: tuple) -> Follow:
        return Follow(row[0], row[1], row[2], tuple(row[3].split()), tuple(s for s in row[4].split("\n") if s),
                      row[5] is not None)

    async def add(self, chat_id: int, topic: str, terms: list[str], sources: list[str]) -> tuple[Follow, bool]:
        """The follow (new, or the same terms followed before); True if it is new."""
        key_terms, key_sources = " ".join(sorted(set(terms))), "\n".join(sorted(set(sources)))
        cur = await self.db.execute(
            "INSERT INTO follows (chat_id, topic, terms, sources, created_at) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT (chat_id, terms, sources) DO UPDATE SET paused_at = NULL",
            (chat_id, topic, key_terms, key_sources, _now_iso()))
        new = cur.rowcount == 1 and cur.lastrowid is not None
        row = await (await self.db.execute(
            "SELECT id, chat_id, topic, terms, sources, paused_at FROM follows"
            " WHERE chat_id = ? AND terms = ? AND sources = ?", (chat_id, key_terms, key_sources))).fetchone()
        return self._follow(row), new

    async def retag(self, follow: Follow, terms: list[str]) -> Follow:
        """The follow with its terms replaced (kept as they were if another follow of the chat has those)."""
        key = " ".join(sorted(set(terms)))
        cur = await self.db.execute("UPDATE OR IGNORE follows SET terms = ? WHERE id = ?", (key, follow.id))
        if cur.rowcount != 1:
            return follow
        return Follow(follow.id, follow.chat_id, follow.topic, tuple(key.split()), follow.sources, follow.paused)

    async def count(self, chat_id: int) -> int:
        return (await (await self.db.execute("SELECT COUNT(*) FROM follows WHERE chat_id = ?",
                                             (chat_id,))).fetchone())[0]

    async def of_chat(self, chat_id: int) -> list[Follow]:
        rows = await self.db.execute_fetchall(
            "SELECT id, chat_id, topic, terms, sources, paused_at FROM follows WHERE chat_id = ? ORDER BY id",
            (chat_id,))
        return [self._follow(r) for r in rows]

    async def active(self) -> list[Follow]:
        rows = await self.db.execute_fetchall(
            "SELECT id, chat_id, topic, terms, sources, paused_at FROM follows WHERE paused_at IS NULL ORDER BY id")
        return [self._follow(r) for r in rows]

    async def remove(self, chat_id: int, follow_id: int) -> bool:
        cur = await self.db.execute("DELETE FROM follows WHERE id = ? AND chat_id = ?", (follow_id, chat_id))
        return cur.rowcount > 0

    async def pause_chat(self, chat_id: int) -> list[int]:
        ids = [r[0] for r in await self.db.execute_fetchall(
            "SELECT id FROM follows WHERE chat_id = ? AND paused_at IS NULL", (chat_id,))]
        await self.db.execute("UPDATE follows SET paused_at = ? WHERE chat_id = ? AND paused_at IS NULL",
                              (_now_iso(), chat_id))
        return ids

    async def resume_chat(self, chat_id: int) -> list[Follow]:
        paused = [f for f in await self.of_chat(chat_id) if f.paused]
        if paused:
            await self.db.execute("UPDATE follows SET paused_at = NULL WHERE chat_id = ?", (chat_id,))
        return [Follow(f.id, f.chat_id, f.topic, f.terms, f.sources, False) for f in paused]

    async def already_told(self, chat_id: int, story: str) -> bool:
        row = await (await self.db.execute("SELECT 1 FROM alerts_sent WHERE chat_id = ? AND story = ?",
                                           (chat_id, story))).fetchone()
        return row is not None

    async def sent_since(self, chat_id: int, since: datetime) -> int:
        return (await (await self.db.execute(
            "SELECT COUNT(*) FROM alerts_sent WHERE chat_id = ? AND sent_at >= ?",
            (chat_id, since.astimezone(UTC).isoformat(timespec="seconds")))).fetchone())[0]

    async def record(self, chat_id: int, story: str, article_id: str, follow_id: int) -> None:
        await self.db.execute(
            "INSERT OR IGNORE INTO alerts_sent (chat_id, story, article_id, follow_id, sent_at) VALUES (?, ?, ?, ?, ?)",
            (chat_id, story, article_id, follow_id, _now_iso()))
