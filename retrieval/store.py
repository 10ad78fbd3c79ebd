"""Retrieval's tables: articles and passages (the source of truth), the index metadata.

The connection, the migration machinery and the transaction idiom are
`retrieval.db`'s; this module owns the `retrieval` migration set (the schema of
every table in the file, so one version says what a database holds) and the SQL
of articles, passages and meta run through aiosqlite. The SQL of `stories` and
`outlet_aliases` is `retrieval.newsstore`'s. The synchronous reads the index build makes
(the passage log, the index inputs) are `retrieval.passagelog`'s. Every
article is written in one transaction with its passages (a batch of articles
shares a transaction), so a crash or Ctrl-C never leaves half an article
behind. `meta.content_generation` is bumped by every change to passages; the
search index records the generation it was built from.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import aiosqlite

from . import db as database
from .articles import Article
from .db import PAGE_SIZE, SchemaError, rollback, transaction
from .passagelog import INDEX_INPUTS_SQL, WRITE_BOUNDS_SQL, Handoff

__all__ = ["PAGE_SIZE", "SchemaError", "rollback", "transaction"]

# Retrieval's migrations: `MIGRATIONS[i]` moves the set from version i to i + 1. Append new ones at the end.
MIGRATIONS: tuple[str, ...] = (
    # 0 → 1: articles, passages and their analysed terms, and the index metadata.
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
    # 1 → 2: a passage's text is its article's body[start:end], which every answer reads anyway;
    # storing it again made a third of the file and ~2 µs of every passage's ingest.
    """
    ALTER TABLE passages DROP COLUMN text;
    """,
    # 2 → 3: names operators give outlets (`newsbot sources alias`, retrieval/outlets.py).
    """
    CREATE TABLE outlet_aliases (
        source TEXT NOT NULL,
        alias TEXT NOT NULL,
        alias_key TEXT NOT NULL UNIQUE,
        added_at TEXT NOT NULL,
        PRIMARY KEY (source, alias)
    );
    """,
    # 3 → 4: each article's story (near-duplicates grouped at ingest, retrieval/storygroups.py)
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
    # 4 → 5: the passage log, every passage written or deleted in order (by triggers, so no writer can
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
    # 5 → 6: stories by publication time, so that grouping a few new articles in a fresh process reads
    # only the stored rows that can match them (StoryKeeper's window, retrieval/storygroups.py).
    """
    CREATE INDEX stories_published ON stories (published_ts);
    """,
    # 6 → 7: a story's members found through the index alone. With (story) only, each member costs a
    # read of its stories row (MinHash signature included) for its article id, on every answer (the
    # story query 0.88 instead of 1.18 ms at 1.29M passages, ~12 members a story). Replaces stories_story.
    """
    CREATE INDEX stories_story_article ON stories (story, article_id);
    DROP INDEX stories_story;
    """,
    # 7 → 8: new passages are logged by the statement that follows their INSERT (`LOG_WRITTEN_SQL`,
    # `write_articles` is the only writer of passages) instead of a row trigger: SQLite runs a
    # trigger's program once per row (~4 µs each here), 0.5 ms of every ~100-passage add against
    # ~0.05 ms for one INSERT ... SELECT. Deletions keep their trigger (a cascade from `articles`
    # deletes passages no statement here names).
    """
    DROP TRIGGER passage_log_insert;
    """,
)

# Logs the passages numbered after ?1 (every passage a write inserted: SQLite numbers a new row one
# above the largest id), in id order, as the insert trigger did row by row before migration 7 → 8.
LOG_WRITTEN_SQL = "INSERT INTO passage_log (passage_id, terms) SELECT id, NULL FROM passages WHERE id > ? ORDER BY id"

RETRIEVAL = database.MigrationSet("retrieval", MIGRATIONS)
SCHEMA_VERSION = RETRIEVAL.version

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
    """Open (creating if needed) the database at `path` with retrieval's tables migrated."""
    return await database.connect(path, (RETRIEVAL,))


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
                         written: list[PreparedArticle] | None = None,
                         handoff: list[Handoff] | None = None,
                         inserted: set[str] | None = None) -> dict[str, int]:
    """Insert or replace a batch of articles in one transaction.

    Returns counts of added / updated / unchanged. An article whose content
    hash is unchanged is left alone, so re-ingesting is cheap and idempotent;
    `rewrite_unchanged` replaces it anyway (its passages and terms were made
    by an older analysis pipeline). `written`, if given, receives the articles added or updated
    (and `inserted` the ids of the added ones);
    `handoff`, if given, the passages of a batch of new articles only (`passagelog.Handoff`: valid
    once the transaction commits).
    The batch costs a handful of statements whatever its size (one lookup of
    the stored hashes, then one `executemany` per kind of write): each
    statement is a round trip to aiosqlite's thread, and per-article round
    trips were most of the ingest time.
    """
    items = list(batch)
    counts = {"added": 0, "updated": 0, "unchanged": 0}
    stamp = now_iso()
    async with transaction(db):
        stored, bounds = await _stored_hashes(db, [item.article.id for item in items], bounds=True)
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
            # The new passages are numbered after the largest id once the updated articles' old
            # passages are gone (read again if any were deleted: their ids may be reused).
            if bounds is None or updates:
                top = (await db.execute_fetchall("SELECT COALESCE(MAX(id), 0) FROM passages"))[0][0]
            else:
                top = bounds[1]
            # Terms bound as UTF-8 bytes are stored as TEXT, byte for byte what binding the str
            # would store (SQLite's CAST of a blob to text takes its bytes as UTF-8): ingest hands
            # them over as the C chain wrote them.
            await db.executemany(
                'INSERT INTO passages (article_id, ord, start, "end", terms) VALUES (?,?,?,?,CAST(? AS TEXT))',
                [(aid, *p) for aid, item in final.items() for p in item.passages])
            await db.execute(LOG_WRITTEN_SQL, (top,))
            await _bump_generation(db)
            if handoff is not None and bounds is not None and not updates:
                log_after, top_passage, top_article = bounds
                handoff.append(Handoff(log_after, top_passage + 1, top_article, len(inserts), tuple(
                    (i, p[3]) for i, item in enumerate(final.values()) for p in item.passages)))
    if written is not None:
        written.extend(final.values())
    if inserted is not None:
        inserted.update(item.article.id for item in inserts)
    return counts


async def _stored_hashes(db: aiosqlite.Connection, ids: Sequence[str], *, bounds: bool = False,
                         ) -> tuple[dict[str, str], tuple[int, int, int] | None]:
    """The stored content hash of each of `ids` that is stored; with `bounds`, and if they fit in one
    statement, `passagelog.WRITE_BOUNDS_SQL`'s row too (its id NULL: no article's), in the same round
    trip to aiosqlite's thread."""
    unique = list(dict.fromkeys(ids))
    out: dict[str, str] = {}
    found: tuple[int, int, int] | None = None
    with_bounds = bounds and len(unique) <= _LOOKUP_CHUNK
    for start in range(0, len(unique), _LOOKUP_CHUNK):
        chunk = unique[start:start + _LOOKUP_CHUNK]
        marks = ",".join("?" * len(chunk))
        sql = f"SELECT id, content_hash, 0, 0 FROM articles WHERE id IN ({marks})"
        if with_bounds:
            sql += f" UNION ALL SELECT NULL, * FROM ({WRITE_BOUNDS_SQL})"
        # One round trip to aiosqlite's thread, not two (execute, then fetchall).
        for aid, value, top_passage, top_article in await db.execute_fetchall(sql, chunk):
            if aid is None:
                found = (int(value), int(top_passage), int(top_article))
            else:
                out[aid] = value
    return out, found


async def delete_article(db: aiosqlite.Connection, article_id: str) -> bool:
    async with transaction(db):
        cur = await db.execute("DELETE FROM articles WHERE id = ?", (article_id,))
        deleted = cur.rowcount > 0
        if deleted:
            await _bump_generation(db)
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


async def passage_id_bound(db: aiosqlite.Connection) -> int:
    """An upper bound of the passage count that costs one index lookup (not a COUNT scan)."""
    return int((await db.execute_fetchall("SELECT COALESCE(MAX(id), 0) FROM passages"))[0][0])


async def articles_from(db: aiosqlite.Connection, after_rowid: int, limit: int) -> list[tuple[int, Article, str]]:
    """(rowid, article, origin) of up to `limit` articles after `after_rowid`, by rowid."""
    rows = await db.execute_fetchall(
        f"SELECT a.rowid, {_ARTICLE_COLS}, a.origin FROM articles a WHERE a.rowid > ? ORDER BY a.rowid LIMIT ?",
        (after_rowid, limit))
    return [(r[0], _article(r[1:9]), r[9]) for r in rows]


async def dates_and_sources(db: aiosqlite.Connection,
                            rowids: Sequence[int] | None = None) -> list[tuple[int, str, str]]:
    """(rowid, published, source) of the articles with `rowids` (None: of every article), by rowid."""
    if rowids is None:
        return list(await db.execute_fetchall("SELECT rowid, published, source FROM articles ORDER BY rowid"))
    rows: list[tuple[int, str, str]] = []
    for start in range(0, len(rowids), _LOOKUP_CHUNK):
        chunk = list(rowids[start:start + _LOOKUP_CHUNK])
        rows += await db.execute_fetchall(
            f"SELECT rowid, published, source FROM articles WHERE rowid IN ({','.join('?' * len(chunk))})", chunk)
    rows.sort()
    return rows


async def articles_grouped_by_date_and_source(db: aiosqlite.Connection) -> list[tuple[int, str, int, str]]:
    """Every article's rowid grouped by its `published` text (kind 0) and by its source (kind 1).

    Rows (kind, value, count, rowids joined by commas), in one statement, so one snapshot: read
    from the two small indexes on those columns, never the articles' pages (a million passages'
    bodies are gigabytes), and one row per distinct value rather than per article.
    """
    return list(await db.execute_fetchall(
        "SELECT 0, published, COUNT(*), group_concat(rowid) FROM articles INDEXED BY articles_published"
        " GROUP BY published"
        " UNION ALL SELECT 1, source, COUNT(*), group_concat(rowid) FROM articles INDEXED BY articles_source"
        " GROUP BY source"))


async def article_rowid_bound(db: aiosqlite.Connection) -> int:
    """An upper bound of the article count that costs one index lookup."""
    rows = await db.execute_fetchall("SELECT MAX(rowid) FROM articles")
    return int(rows[0][0] or 0)


async def iter_index_inputs(db: aiosqlite.Connection, batch: int = 20000):
    """(passage id, article rowid, terms) for every passage, in passage-id order."""
    async with db.execute(INDEX_INPUTS_SQL) as cur:
        while rows := await cur.fetchmany(batch):
            for row in rows:
                yield row


async def passages_by_id(db: aiosqlite.Connection, ids: Sequence[int]) -> dict[int, StoredPassage]:
    if not ids:
        return {}
    # One round trip to aiosqlite's thread instead of two (execute, then
    # fetchall): a hop to an idle thread costs ~0.25 ms (the answer path reads
    # through retrieval/rowreads.py instead, without the hop).
    return passages_of_rows(await db.execute_fetchall(passages_sql(len(ids)), tuple(ids)))


def passages_sql(count: int) -> str:
    """The query of `passages_by_id` for `count` ids."""
    marks = ",".join("?" * count)
    return (f'SELECT p.id, a.rowid, p.ord, p.start, p."end", {_ARTICLE_COLS} '
            f"FROM passages p JOIN articles a ON a.id = p.article_id WHERE p.id IN ({marks})")


def passages_of_rows(rows: Iterable[Sequence]) -> dict[int, StoredPassage]:
    """`passages_by_id`'s answer from the rows of `passages_sql`."""
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


async def article_of_passage(db: aiosqlite.Connection, passage_id: int) -> str | None:
    """The id of the article holding a passage, or None."""
    row = await (await db.execute("SELECT article_id FROM passages WHERE id = ?", (passage_id,))).fetchone()
    return row[0] if row else None


async def stored_sources(db: aiosqlite.Connection) -> list[str]:
    """Every non-empty source name the articles carry."""
    return [r[0] for r in await db.execute_fetchall("SELECT DISTINCT source FROM articles WHERE source != ''")]


async def last_article_rowid(db: aiosqlite.Connection) -> int:
    """The rowid of the newest article (0 for none): a cursor for readers of what arrives next."""
    return (await (await db.execute("SELECT COALESCE(MAX(rowid), 0) FROM articles")).fetchone())[0]


@dataclass(frozen=True, slots=True)
class NewArticle:
    rowid: int
    id: str
    title: str
    body: str
    source: str
    published: str
    url: str
    story: str | None  # None while the ingest that wrote it is still grouping it


async def articles_after(db: aiosqlite.Connection, rowid: int, limit: int) -> list[NewArticle]:
    """Up to `limit` articles stored after `rowid`, oldest first, each with its story."""
    rows = await db.execute_fetchall(
        "SELECT a.rowid, a.id, a.title, a.body, a.source, a.published, a.url, s.story FROM articles a"
        " LEFT JOIN stories s ON s.article_id = a.id WHERE a.rowid > ? ORDER BY a.rowid LIMIT ?", (rowid, limit))
    return [NewArticle(*r) for r in rows]


async def passage_terms(db: aiosqlite.Connection, article_ids: Sequence[str]) -> dict[str, list[str]]:
    """Each article's passages' analysed terms, in passage order."""
    out: dict[str, list[str]] = {}
    for start in range(0, len(article_ids), _LOOKUP_CHUNK):
        chunk = list(article_ids[start:start + _LOOKUP_CHUNK])
        marks = ",".join("?" * len(chunk))
        for article_id, terms in await db.execute_fetchall(
                f"SELECT article_id, terms FROM passages WHERE article_id IN ({marks}) ORDER BY article_id, ord",
                chunk):
            out.setdefault(article_id, []).append(terms)
    return out
