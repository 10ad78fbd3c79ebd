"""The tables beside the articles: `stories` (retrieval/storygroups.py) and `outlet_aliases` (retrieval/outlets.py).

This module owns those two tables' SQL; their schema is in the `retrieval` migration set of
retrieval/store.py (one set for the whole file, so one version number says what a database holds).
Stories rows are written in their own transaction after the articles they describe (an
article without one is grouped later, see `StoryKeeper.catch_up`).
"""

from __future__ import annotations

from collections.abc import Container, Sequence

import aiosqlite

from .db import transaction
from .store import now_iso

# --- outlet aliases (retrieval/outlets.py) ----------------------------------------------

async def outlet_aliases(db: aiosqlite.Connection) -> list[tuple[str, str]]:
    """(source, alias) of every alias operators gave, by source then alias."""
    return list(await db.execute_fetchall("SELECT source, alias FROM outlet_aliases ORDER BY source, alias"))


async def alias_source(db: aiosqlite.Connection, alias_key: str) -> str | None:
    rows = await db.execute_fetchall("SELECT source FROM outlet_aliases WHERE alias_key = ?", (alias_key,))
    return rows[0][0] if rows else None


async def insert_alias(db: aiosqlite.Connection, source: str, alias: str, alias_key: str) -> None:
    await db.execute("INSERT INTO outlet_aliases (source, alias, alias_key, added_at) VALUES (?, ?, ?, ?)",
                     (source, alias, alias_key, now_iso()))


async def delete_alias(db: aiosqlite.Connection, source: str, alias_key: str) -> int:
    return (await db.execute("DELETE FROM outlet_aliases WHERE source = ? AND alias_key = ?",
                             (source, alias_key))).rowcount


async def aliases_stamp(db: aiosqlite.Connection) -> tuple:
    """Changes whenever an alias is added or removed."""
    return tuple(await db.execute_fetchall("SELECT COUNT(*), MAX(rowid) FROM outlet_aliases"))


# --- stories (retrieval/storygroups.py) ------------------------------------------------

async def story_count(db: aiosqlite.Connection) -> int:
    return (await (await db.execute("SELECT COUNT(*) FROM stories")).fetchone())[0]


async def iter_story_rows(db: aiosqlite.Connection, batch: int = 4096):
    """Lists of up to `batch` stored (article id, story, signature, published_ts) rows, in rowid order."""
    async with db.execute("SELECT article_id, story, signature, published_ts FROM stories ORDER BY rowid") as cur:
        while rows := await cur.fetchmany(batch):
            yield rows


async def write_story_rows(db: aiosqlite.Connection, rows: Sequence[tuple[str, str, bytes, float | None]],
                           fresh: Container[str] = ()) -> None:
    """Insert or replace (article id, story, signature, published_ts) rows in one transaction.

    A replaced row (an edited article) is deleted and inserted again, so it takes the next rowid: a
    loaded index holds the rows in rowid order, and a serving index holds an edited article after
    every earlier one too (StoryIndex puts it in a new slot), so both break ties between equally
    similar candidates the same way.

    `fresh`: article ids the caller knows have no stories row (inserted in this transaction: their
    rows went with any earlier article of that id, ON DELETE CASCADE). Theirs are a plain `INSERT`,
    the same rows in the same order: `INSERT OR REPLACE` cost twice as much (~0.27 against ~0.13 ms
    for ~20 rows), and an add's articles are nearly all new.
    """
    async with transaction(db):
        if fresh and all(r[0] in fresh for r in rows):
            await db.executemany("INSERT INTO stories (article_id, story, signature, published_ts) VALUES (?, ?, ?, ?)",
                                 rows)
        else:
            await db.executemany(
                "INSERT OR REPLACE INTO stories (article_id, story, signature, published_ts) VALUES (?, ?, ?, ?)", rows)


async def articles_without_story(db: aiosqlite.Connection, limit: int) -> list[tuple[str, str, str, str]]:
    """Up to `limit` (id, title, body, published) of stored articles with no story row, oldest first."""
    rows = await db.execute_fetchall(
        "SELECT a.id, a.title, a.body, a.published FROM articles a"
        " WHERE NOT EXISTS (SELECT 1 FROM stories s WHERE s.article_id = a.id)"
        " ORDER BY a.rowid LIMIT ?", (limit,))
    return [tuple(r) for r in rows]


def story_members_sql(count: int) -> str:
    """The query of `story_member_rows` for `count` rowids (the answer path's synchronous reader runs it too)."""
    marks = ",".join("?" * count)
    return ("SELECT s.story, a.rowid, a.id, a.source, a.url, a.published FROM stories s"
            " JOIN articles a ON a.id = s.article_id WHERE s.story IN"
            f" (SELECT s1.story FROM articles a1 JOIN stories s1 ON s1.article_id = a1.id WHERE a1.rowid IN ({marks}))"
            " ORDER BY a.published DESC, a.rowid DESC")


async def story_member_rows(db: aiosqlite.Connection, rowids: Sequence[int]) -> list[tuple]:
    """(story, rowid, id, source, url, published) of every article in the stories of the given
    articles (rowids), newest first: one query, it runs on every answer."""
    return list(await db.execute_fetchall(story_members_sql(len(rowids)), tuple(rowids)))


async def articles_without_story_count(db: aiosqlite.Connection) -> int:
    """How many stored articles have no story row. Every stories row names a stored article (a foreign
    key, deleted with it), so this is two counts (~10 ms at a million passages), not a scan of articles."""
    (missing,), = await db.execute_fetchall("SELECT (SELECT COUNT(*) FROM articles) - (SELECT COUNT(*) FROM stories)")
    return missing


async def story_window_count(db: aiosqlite.Connection, low: float, high: float) -> int:
    """How many stored story rows were published within [low, high] (a timestamp), or are undated."""
    (count,), = await db.execute_fetchall(
        "SELECT (SELECT COUNT(*) FROM stories WHERE published_ts BETWEEN ? AND ?)"
        " + (SELECT COUNT(*) FROM stories WHERE published_ts IS NULL)", (low, high))
    return count


async def iter_story_window(db: aiosqlite.Connection, low: float, high: float, batch: int = 4096):
    """`iter_story_rows` for the rows published within [low, high] or undated only, still in rowid order
    (two ranges of the `stories_published` index, then a sort of just those rows)."""
    async with db.execute(
            "SELECT article_id, story, signature, published_ts FROM stories"
            " WHERE published_ts BETWEEN ? AND ? OR published_ts IS NULL ORDER BY rowid", (low, high)) as cur:
        while rows := await cur.fetchmany(batch):
            yield rows
