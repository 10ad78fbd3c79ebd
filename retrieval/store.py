"""SQLite storage: articles and passages are the source of truth.

Opened through aiosqlite in WAL mode with foreign keys on. The schema is
versioned: `MIGRATIONS[i]` moves a database from version i to i + 1, each in
its own transaction, and `PRAGMA user_version` records where a file stands,
so any `sqlite3 data/news.db` session can inspect it.

Every article is written in one transaction with its passages (a batch of
articles shares a transaction), so a crash or Ctrl-C never leaves half an
article behind. `meta.content_generation` is bumped by every change to
passages; the search index records the generation it was built from.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import aiosqlite

from .articles import Article

MIGRATIONS: tuple[str, ...] = (
    # 0 → 1: articles, passages and their analysed terms.
    """
    CREATE TABLE articles (
        id TEXT PRIMARY KEY,
        title TEXT NOT NULL DEFAULT '',
        body TEXT NOT NULL,
        source TEXT NOT NULL DEFAULT '',
        section TEXT NOT NULL DEFAULT '',
        published TEXT NOT NULL DEFAULT '',
        url TEXT NOT NULL DEFAULT '',
        author TEXT NOT NULL DEFAULT '',
        content_hash TEXT NOT NULL,
        origin TEXT NOT NULL DEFAULT '',
        ingested_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE INDEX articles_published ON articles (published);
    CREATE INDEX articles_source ON articles (source);
    CREATE TABLE passages (
        id INTEGER PRIMARY KEY,
        article_id TEXT NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
        ord INTEGER NOT NULL,
        start INTEGER NOT NULL,
        "end" INTEGER NOT NULL,
        text TEXT NOT NULL,
        terms TEXT NOT NULL,
        UNIQUE (article_id, ord)
    );
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    INSERT INTO meta (key, value) VALUES ('content_generation', '0');
    """,
    # 1 → 2: the bot's question log (the user is a salted hash, never the raw id).
    """
    CREATE TABLE question_log (
        id INTEGER PRIMARY KEY,
        asked_at TEXT NOT NULL,
        chat_type TEXT NOT NULL,
        user_hash TEXT NOT NULL,
        question TEXT NOT NULL,
        hits INTEGER NOT NULL,
        latency_ms REAL NOT NULL
    );
    CREATE INDEX question_log_asked_at ON question_log (asked_at);
    INSERT INTO meta (key, value) VALUES ('questions_total', '0');
    """,
    # 2 → 3: a passage's text is its article's body[start:end], which every answer reads anyway;
    # storing it again made a third of the file and ~2 µs of every passage's ingest.
    """
    ALTER TABLE passages DROP COLUMN text;
    """,
    # 3 → 4: followed news feeds (bot/feeds/store.py owns these tables and their queries). Feed
    # items point at articles by id without a foreign key: an article outlives the feed and the item.
    """
    CREATE TABLE feeds (
        id INTEGER PRIMARY KEY,
        url TEXT NOT NULL UNIQUE,
        name TEXT NOT NULL DEFAULT '',
        paused INTEGER NOT NULL DEFAULT 0,
        etag TEXT,
        last_modified TEXT,
        added_at TEXT NOT NULL,
        last_fetch TEXT,
        last_success TEXT,
        errors INTEGER NOT NULL DEFAULT 0,
        last_error TEXT NOT NULL DEFAULT '',
        next_due REAL NOT NULL DEFAULT 0,
        retry_until REAL NOT NULL DEFAULT 0,
        articles INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE feed_items (
        article_id TEXT PRIMARY KEY,
        url TEXT NOT NULL,
        feed_id INTEGER NOT NULL,
        item_hash TEXT NOT NULL,
        body_hash TEXT NOT NULL,
        summary_only INTEGER NOT NULL DEFAULT 0,
        first_seen TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE INDEX feed_items_body ON feed_items (body_hash);
    CREATE TABLE feed_urls (url TEXT PRIMARY KEY, article_id TEXT NOT NULL);
    """,
    # 4 → 5: names operators give outlets (`newsbot sources alias`), matched in questions.
    """
    CREATE TABLE outlet_aliases (
        source TEXT NOT NULL,
        alias TEXT NOT NULL,
        alias_key TEXT NOT NULL UNIQUE,
        added_at TEXT NOT NULL,
        PRIMARY KEY (source, alias)
    );
    """,
    # 5 → 6: each article's story (near-duplicates grouped at ingest, retrieval/storygroups.py)
    # with the MinHash signature it was grouped by, so grouping resumes after a restart.
    """
    CREATE TABLE stories (
        article_id TEXT PRIMARY KEY REFERENCES articles (id) ON DELETE CASCADE,
        story TEXT NOT NULL,
        signature BLOB NOT NULL,
        published_ts REAL
    );
    CREATE INDEX stories_story ON stories (story);
    """,
    # 6 → 7: followed topics (`/follow`) and the alerts sent for them, one per chat and story.
    """
    CREATE TABLE follows (
        id INTEGER PRIMARY KEY,
        chat_id INTEGER NOT NULL,
        topic TEXT NOT NULL,
        terms TEXT NOT NULL,
        sources TEXT NOT NULL DEFAULT '',
        created_at TEXT NOT NULL,
        paused_at TEXT,
        UNIQUE (chat_id, terms, sources)
    );
    CREATE TABLE alerts_sent (
        chat_id INTEGER NOT NULL,
        story TEXT NOT NULL,
        article_id TEXT NOT NULL,
        follow_id INTEGER,
        sent_at TEXT NOT NULL,
        PRIMARY KEY (chat_id, story)
    );
    CREATE INDEX alerts_sent_day ON alerts_sent (chat_id, sent_at);
    """,
    # 7 → 8: the passage log, every passage written or deleted in order (by triggers, so no writer can
    # forget it), for a process holding the index to apply just what changed since its last look
    # (retrieval/indexing.py). A deleted passage's terms are kept: they leave the document frequencies.
    # `passage_log_trimmed`: entries up to it were removed once a full index covered them (the last entry
    # is always kept, so `seq`, a plain rowid, never goes back: AUTOINCREMENT cost bulk ingest ~10%).
    """
    CREATE TABLE passage_log (
        seq INTEGER PRIMARY KEY,
        passage_id INTEGER NOT NULL,
        terms TEXT
    );
    CREATE TRIGGER passage_log_insert AFTER INSERT ON passages BEGIN
        INSERT INTO passage_log (passage_id, terms) VALUES (new.id, NULL);
    END;
    CREATE TRIGGER passage_log_delete AFTER DELETE ON passages BEGIN
        INSERT INTO passage_log (passage_id, terms) VALUES (old.id, old.terms);
    END;
    INSERT INTO meta (key, value) VALUES ('passage_log_trimmed', '0');
    """,
)

SCHEMA_VERSION = len(MIGRATIONS)
PAGE_SIZE = 16384


class SchemaError(RuntimeError):
    """The database file is newer than this code or not ours."""


@dataclass(frozen=True, slots=True)
class StoredPassage:
    id: int
    article_rowid: int
    ord: int
    start: int
    end: int
    text: str
    article: Article


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


async def connect(path: str | Path) -> aiosqlite.Connection:
    """Open (creating if needed) and migrate the database at `path`."""
    path = Path(path)
    if str(path) != ":memory:":
        path.parent.mkdir(parents=True, exist_ok=True)
    db = await _open_connection(path)
    try:
        # 16 KiB pages for a new database (an existing one keeps its size: the
        # pragma only acts before the first write, hence before WAL mode): an
        # article body (~7 KB of UTF-8) fits in its row instead of spilling into
        # overflow pages, and bulk ingest writes fewer, fuller pages (SQLite's
        # share of ingest CPU ~15 → ~11.5 µs a passage on this machine).
        await db.execute(f"PRAGMA page_size={PAGE_SIZE}")
        await db.execute("PRAGMA journal_mode=WAL")
        await db.execute("PRAGMA foreign_keys=ON")
        await db.execute("PRAGMA synchronous=NORMAL")
        await db.execute("PRAGMA busy_timeout=5000")
        await migrate(db)
    except BaseException:
        await db.close()
        raise
    return db


async def _open_connection(path: Path) -> aiosqlite.Connection:
    """`aiosqlite.connect`, seen through even if the caller is cancelled meanwhile.

    The file is opened in aiosqlite's own thread, which then reports to this
    event loop. A Ctrl-C arriving meanwhile cancels the caller at once, so
    `asyncio.run` could close the loop before the thread reports, and the
    thread would print "Event loop is closed" (seen in tests/test_crash.py).
    On cancellation the opening is waited for, the connection closed, and the
    cancellation goes on.
    """
    opening = asyncio.ensure_future(aiosqlite.connect(path, isolation_level=None))
    try:
        return await asyncio.shield(opening)
    except asyncio.CancelledError:
        with contextlib.suppress(Exception):
            await (await opening).close()
        raise


async def rollback(db: aiosqlite.Connection) -> None:
    """Roll back after an error, if there is still a transaction to roll back.

    A cancellation (Ctrl-C) can reach the awaiting coroutine while COMMIT is
    already running in aiosqlite's thread: the COMMIT completes, and a ROLLBACK
    would fail with "no transaction is active", replacing the cancellation
    with a misleading database error.
    """
    try:
        await db.execute("ROLLBACK")
    except sqlite3.OperationalError as exc:
        if "no transaction is active" not in str(exc):
            raise


async def migrate(db: aiosqlite.Connection) -> int:
    """Apply pending migrations, each atomically; returns the final version."""
    try:
        version = (await (await db.execute("PRAGMA user_version")).fetchone())[0]
    except sqlite3.DatabaseError as exc:
        raise SchemaError(f"not a SQLite database: {exc}") from None
    if version > SCHEMA_VERSION:
        raise SchemaError(f"database schema version {version} is newer than this program's ({SCHEMA_VERSION})")
    for target in range(version + 1, SCHEMA_VERSION + 1):
        await db.execute("BEGIN IMMEDIATE")
        try:
            for statement in _statements(MIGRATIONS[target - 1]):
                await db.execute(statement)
            await db.execute(f"PRAGMA user_version = {target}")
            await db.execute("COMMIT")
        except BaseException:
            await rollback(db)
            raise
    return SCHEMA_VERSION


def _statements(script: str) -> list[str]:
    # executescript would COMMIT implicitly; split so the migration stays one transaction.
    out, buf = [], ""
    for line in script.splitlines(keepends=True):
        buf += line
        if sqlite3.complete_statement(buf):
            out.append(buf.strip())
            buf = ""
    return [s for s in out if s]


# --- writes ----------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class PreparedArticle:
    """An article with its passages already split and analysed (CPU work done)."""

    article: Article
    content_hash: str  # article.fingerprint()
    origin: str
    # ord, start, end, terms; terms as str or as their UTF-8 (what ingest makes)
    passages: Sequence[tuple[int, int, int, str | bytes]]


# Ids per `IN (...)` lookup: well under SQLite's limit on bound variables.
_LOOKUP_CHUNK = 900


async def write_articles(db: aiosqlite.Connection, batch: Iterable[PreparedArticle],
                         *, rewrite_unchanged: bool = False,
                         written: list[PreparedArticle] | None = None) -> dict[str, int]:
    """Insert or replace a batch of articles in one transaction.

    Returns counts of added / updated / unchanged. An article whose content
    hash is unchanged is left alone, so re-ingesting is cheap and idempotent;
    `rewrite_unchanged` replaces it anyway (its passages and terms were made
    by an older analysis pipeline). `written`, if given, receives the articles added or updated.
    The batch costs a handful of statements whatever its size (one lookup of
    the stored hashes, then one `executemany` per kind of write): each
    statement is a round trip to aiosqlite's thread, and per-article round
    trips were most of the ingest time.
    """
    items = list(batch)
    counts = {"added": 0, "updated": 0, "unchanged": 0}
    stamp = now_iso()
    await db.execute("BEGIN IMMEDIATE")
    try:
        stored = await _stored_hashes(db, [item.article.id for item in items])
        # The same id twice in a batch acts as two ingests in a row: the
        # later copy wins, and the counts say what each copy did.
        final: dict[str, PreparedArticle] = {}
        for item in items:
            a = item.article
            current = final[a.id].content_hash if a.id in final else stored.get(a.id)
            if current is not None and not rewrite_unchanged and current == item.content_hash:
                counts["unchanged"] += 1
                continue
            counts["updated" if current is not None else "added"] += 1
            final[a.id] = item
        updates = [item for aid, item in final.items() if aid in stored]
        inserts = [item for aid, item in final.items() if aid not in stored]
        if updates:
            await db.executemany("DELETE FROM passages WHERE article_id = ?", [(i.article.id,) for i in updates])
            await db.executemany(
                "UPDATE articles SET title=?, body=?, source=?, section=?, published=?, url=?, author=?,"
                " content_hash=?, origin=?, updated_at=? WHERE id=?",
                [(a.title, a.body, a.source, a.section, a.published, a.url, a.author, i.content_hash, i.origin,
                  stamp, a.id) for i in updates for a in (i.article,)])
        if inserts:
            await db.executemany(
                "INSERT INTO articles (id, title, body, source, section, published, url, author,"
                " content_hash, origin, ingested_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                [(a.id, a.title, a.body, a.source, a.section, a.published, a.url, a.author, i.content_hash,
                  i.origin, stamp, stamp) for i in inserts for a in (i.article,)])
        if final:
            # Terms bound as UTF-8 bytes are stored as TEXT, byte for byte what binding the str
            # would store (SQLite's CAST of a blob to text takes its bytes as UTF-8): ingest hands
            # them over as the C chain wrote them.
            await db.executemany(
                'INSERT INTO passages (article_id, ord, start, "end", terms) VALUES (?,?,?,?,CAST(? AS TEXT))',
                [(aid, *p) for aid, item in final.items() for p in item.passages])
            await _bump_generation(db)
        await db.execute("COMMIT")
    except BaseException:
        await rollback(db)
        raise
    if written is not None:
        written.extend(final.values())
    return counts


async def _stored_hashes(db: aiosqlite.Connection, ids: Sequence[str]) -> dict[str, str]:
    unique = list(dict.fromkeys(ids))
    out: dict[str, str] = {}
    for start in range(0, len(unique), _LOOKUP_CHUNK):
        chunk = unique[start:start + _LOOKUP_CHUNK]
        marks = ",".join("?" * len(chunk))
        rows = await (await db.execute(f"SELECT id, content_hash FROM articles WHERE id IN ({marks})",
                                       chunk)).fetchall()
        out.update(rows)
    return out


async def delete_article(db: aiosqlite.Connection, article_id: str) -> bool:
    await db.execute("BEGIN IMMEDIATE")
    try:
        cur = await db.execute("DELETE FROM articles WHERE id = ?", (article_id,))
        deleted = cur.rowcount > 0
        if deleted:
            await _bump_generation(db)
        await db.execute("COMMIT")
    except BaseException:
        await rollback(db)
        raise
    return deleted


async def _bump_generation(db: aiosqlite.Connection) -> None:
    await db.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'content_generation'")


async def set_meta(db: aiosqlite.Connection, key: str, value: str) -> None:
    await db.execute("INSERT INTO meta (key, value) VALUES (?, ?)"
                     " ON CONFLICT (key) DO UPDATE SET value = excluded.value", (key, value))


async def get_meta(db: aiosqlite.Connection, key: str, default: str = "") -> str:
    row = await (await db.execute("SELECT value FROM meta WHERE key = ?", (key,))).fetchone()
    return row[0] if row else default


# --- reads -----------------------------------------------------------------------------

_ARTICLE_COLS = "a.id, a.body, a.title, a.source, a.section, a.published, a.url, a.author"
# A passage's text in SQL, for readers of the file (passages p joined to their articles a): its
# span of the body (SQLite's substr counts characters, as Python's offsets do, from 1).
PASSAGE_TEXT_SQL = 'substr(a.body, p.start + 1, p."end" - p.start)'


def _article(row: Sequence) -> Article:
    return Article(*row)


async def content_generation(db: aiosqlite.Connection) -> int:
    return int(await get_meta(db, "content_generation", "0"))


async def iter_index_inputs(db: aiosqlite.Connection, batch: int = 20000):
    """(passage id, article rowid, terms) for every passage, in passage-id order."""
    async with db.execute(
            "SELECT p.id, a.rowid, p.terms FROM passages p"
            " JOIN articles a ON a.id = p.article_id ORDER BY p.id") as cur:
        while rows := await cur.fetchmany(batch):
            for row in rows:
                yield row


async def passages_by_id(db: aiosqlite.Connection, ids: Sequence[int]) -> dict[int, StoredPassage]:
    if not ids:
        return {}
    marks = ",".join("?" * len(ids))
    # One round trip to aiosqlite's thread instead of two (execute, then
    # fetchall): this runs on every answer, and a hop to an idle thread costs
    # ~0.25 ms (docs/performance.md, answer path).
    rows = await db.execute_fetchall(
        f'SELECT p.id, a.rowid, p.ord, p.start, p."end", {_ARTICLE_COLS} '
        f"FROM passages p JOIN articles a ON a.id = p.article_id WHERE p.id IN ({marks})", tuple(ids))
    out = {}
    for r in rows:
        article = _article(r[5:])
        out[r[0]] = StoredPassage(r[0], r[1], r[2], r[3], r[4], article.body[r[3]:r[4]], article)
    return out


async def get_article(db: aiosqlite.Connection, article_id: str) -> Article | None:
    row = await (await db.execute(f"SELECT {_ARTICLE_COLS} FROM articles a WHERE a.id = ?", (article_id,))).fetchone()
    return _article(row) if row else None


async def latest_articles(db: aiosqlite.Connection, limit: int, offset: int = 0) -> list[Article]:
    rows = await (await db.execute(
        f"SELECT {_ARTICLE_COLS} FROM articles a ORDER BY a.published DESC, a.rowid DESC LIMIT ? OFFSET ?",
        (limit, offset))).fetchall()
    return [_article(r) for r in rows]


async def source_counts(db: aiosqlite.Connection) -> list[tuple[str, int]]:
    rows = await (await db.execute(
        "SELECT source, COUNT(*) FROM articles GROUP BY source ORDER BY COUNT(*) DESC, source")).fetchall()
    return [(r[0], r[1]) for r in rows]


async def counts(db: aiosqlite.Connection) -> dict[str, int]:
    row = await (await db.execute(
        "SELECT (SELECT COUNT(*) FROM articles), (SELECT COUNT(*) FROM passages),"
        " (SELECT COUNT(DISTINCT source) FROM articles)")).fetchone()
    return {"articles": row[0], "passages": row[1], "sources": row[2]}
