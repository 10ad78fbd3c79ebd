"""The feeds tables (the bot's migration set, `bot.schema`): their SQL is this module's alone.

`feeds`: one row per followed feed with what polling needs (validators for conditional GET, last
fetch and success, consecutive errors and the last one, next due time, Retry-After window,
articles taken). `feed_items`: the feed article each item became, with hashes of what the feed
said (an unchanged item is not fetched again) and of the body (an identical body under another URL
is stored once). `feed_urls`: every canonical URL known for an article.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import aiosqlite

from retrieval.db import transaction
from retrieval.store import now_iso

_COLS = ("id, url, name, paused, etag, last_modified, added_at, last_fetch, last_success, errors, last_error,"
         " next_due, retry_until, articles")


@dataclass(frozen=True, slots=True)
class Feed:
    id: int
    url: str
    name: str
    paused: bool
    etag: str | None
    last_modified: str | None
    added_at: str
    last_fetch: str | None
    last_success: str | None
    errors: int
    last_error: str
    next_due: float
    retry_until: float
    articles: int

    @property
    def status(self) -> str:
        if self.paused:
            return "paused"
        if self.last_fetch is None:
            return "new"
        return "failing" if self.errors else "ok"

    def as_json(self) -> dict:
        return {"url": self.url, "name": self.name, "status": self.status, "last_fetch": self.last_fetch or "",
                "articles": self.articles, "errors": self.errors, "last_error": self.last_error}


@dataclass(frozen=True, slots=True)
class KnownItem:
    article_id: str
    feed_id: int
    item_hash: str


def _feed(row: Sequence) -> Feed:
    return Feed(row[0], row[1], row[2], bool(row[3]), *row[4:])


class FeedExists(ValueError):
    pass


async def add_feed(db: aiosqlite.Connection, url: str, name: str) -> Feed:
    try:
        await db.execute("INSERT INTO feeds (url, name, added_at) VALUES (?, ?, ?)", (url, name, now_iso()))
    except sqlite3.IntegrityError:
        raise FeedExists(f"already followed: {url}") from None
    feed = await get_feed(db, url)
    assert feed is not None
    return feed


async def get_feed(db: aiosqlite.Connection, url: str) -> Feed | None:
    rows = await db.execute_fetchall(f"SELECT {_COLS} FROM feeds WHERE url = ?", (url,))
    return _feed(rows[0]) if rows else None


async def feed_by_id(db: aiosqlite.Connection, feed_id: int) -> Feed | None:
    rows = await db.execute_fetchall(f"SELECT {_COLS} FROM feeds WHERE id = ?", (feed_id,))
    return _feed(rows[0]) if rows else None


async def list_feeds(db: aiosqlite.Connection) -> list[Feed]:
    return [_feed(r) for r in await db.execute_fetchall(f"SELECT {_COLS} FROM feeds ORDER BY id")]


async def remove_feed(db: aiosqlite.Connection, url: str) -> bool:
    """Stop following a feed; its articles (and what is known of its items) stay."""
    cur = await db.execute("DELETE FROM feeds WHERE url = ?", (url,))
    return cur.rowcount > 0


async def move_feed(db: aiosqlite.Connection, feed_id: int, url: str) -> bool:
    """Follow a feed at its new address (it moved permanently); False if that URL is already followed."""
    try:
        cur = await db.execute("UPDATE feeds SET url = ? WHERE id = ?", (url, feed_id))
    except sqlite3.IntegrityError:
        return False
    return cur.rowcount > 0


async def set_paused(db: aiosqlite.Connection, url: str, paused: bool) -> bool:
    """Pause or resume a feed (a paused feed is never polled); False if it is not followed."""
    cur = await db.execute("UPDATE feeds SET paused = ?, next_due = CASE WHEN ? THEN next_due ELSE 0 END"
                           " WHERE url = ?", (int(paused), int(paused), url))
    return cur.rowcount > 0


async def due_feeds(db: aiosqlite.Connection, now: float) -> list[Feed]:
    rows = await db.execute_fetchall(
        f"SELECT {_COLS} FROM feeds WHERE paused = 0 AND next_due <= ? AND retry_until <= ? ORDER BY next_due, id",
        (now, now))
    return [_feed(r) for r in rows]


async def next_due_time(db: aiosqlite.Connection) -> float | None:
    # execute_fetchall, not execute + fetchone: a cursor left open keeps a read snapshot, which blocks
    # WAL checkpoints for as long as the poller sleeps.
    rows = await db.execute_fetchall("SELECT MIN(MAX(next_due, retry_until)) FROM feeds WHERE paused = 0")
    return rows[0][0] if rows and rows[0][0] is not None else None


async def record_fetch(db: aiosqlite.Connection, feed_id: int, *, ok: bool, error: str = "", next_due: float,
                       retry_until: float = 0.0, etag: str | None = None, last_modified: str | None = None,
                       new_articles: int = 0, name: str = "", clear_validators: bool = False) -> None:
    """After a poll: success (validators, articles taken, errors reset) or failure (error counted)."""
    stamp = now_iso()
    if ok and clear_validators:
        await db.execute("UPDATE feeds SET etag = NULL, last_modified = NULL WHERE id = ?", (feed_id,))
        etag = last_modified = None
    if ok:
        await db.execute(
            "UPDATE feeds SET last_fetch = ?, last_success = ?, errors = 0, last_error = '', next_due = ?,"
            " retry_until = 0, etag = COALESCE(?, etag), last_modified = COALESCE(?, last_modified),"
            " articles = articles + ?, name = CASE WHEN name = '' THEN ? ELSE name END WHERE id = ?",
            (stamp, stamp, next_due, etag, last_modified, new_articles, name, feed_id))
    else:
        await db.execute(
            "UPDATE feeds SET last_fetch = ?, errors = errors + 1, last_error = ?, next_due = ?, retry_until = ?"
            " WHERE id = ?", (stamp, error[:500], next_due, retry_until, feed_id))


# Keys a statement: below SQLite's default limit of 999 parameters.
_LOOKUP_CHUNK = 900


async def _rows_where_in(db: aiosqlite.Connection, sql: str, keys: Iterable[str]) -> list:
    """The rows of `sql` (a SELECT ending in `IN ({})`) for every distinct key, asked in chunks."""
    unique = list(dict.fromkeys(keys))
    rows: list = []
    for start in range(0, len(unique), _LOOKUP_CHUNK):
        chunk = unique[start:start + _LOOKUP_CHUNK]
        rows += await db.execute_fetchall(sql.format(",".join("?" * len(chunk))), chunk)
    return rows


async def known_items(db: aiosqlite.Connection, article_ids: Iterable[str]) -> dict[str, KnownItem]:
    rows = await _rows_where_in(db, "SELECT article_id, feed_id, item_hash FROM feed_items WHERE article_id IN ({})",
                                article_ids)
    return {r[0]: KnownItem(*r) for r in rows}


async def url_owners(db: aiosqlite.Connection, urls: Iterable[str]) -> dict[str, str]:
    """Canonical URL → the article it is stored under (for URLs seen before)."""
    rows = await _rows_where_in(db, "SELECT url, article_id FROM feed_urls WHERE url IN ({})", urls)
    return {r[0]: r[1] for r in rows}


async def body_owner(db: aiosqlite.Connection, body_hash: str) -> str | None:
    rows = await db.execute_fetchall("SELECT article_id FROM feed_items WHERE body_hash = ? LIMIT 1", (body_hash,))
    return rows[0][0] if rows else None


@dataclass(frozen=True, slots=True)
class ItemRow:
    article_id: str
    url: str
    feed_id: int
    item_hash: str
    body_hash: str
    summary_only: bool


async def record_items(db: aiosqlite.Connection, items: Sequence[ItemRow], urls: Sequence[tuple[str, str]]) -> None:
    """What a poll learnt, in one transaction: each item's article and hashes, and URL → article."""
    if not items and not urls:
        return
    stamp = now_iso()
    async with transaction(db):
        await db.executemany(
            "INSERT INTO feed_items (article_id, url, feed_id, item_hash, body_hash, summary_only, first_seen,"
            " updated_at) VALUES (?,?,?,?,?,?,?,?) ON CONFLICT (article_id) DO UPDATE SET"
            " item_hash = excluded.item_hash, body_hash = excluded.body_hash,"
            " summary_only = excluded.summary_only, updated_at = excluded.updated_at",
            [(i.article_id, i.url, i.feed_id, i.item_hash, i.body_hash, int(i.summary_only), stamp, stamp)
             for i in items])
        await db.executemany("INSERT OR IGNORE INTO feed_urls (url, article_id) VALUES (?, ?)", urls)
