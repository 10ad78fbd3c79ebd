"""The bot's tables and their migrations: the question log, followed feeds, follows and sent alerts.

The connection and the migration machinery are `retrieval.db`'s; each table's
SQL lives in the module that owns it (`bot.records`: question_log;
`bot.feeds.store`: feeds, feed_items, feed_urls; `bot.follow_store`: follows,
alerts_sent) and the bot's own keys in `bot_meta` (this module: the question
count, the question log's salt, the alerts cursor). The bot's
connections migrate retrieval's set first: the bot reads articles through it.
"""

from __future__ import annotations

from pathlib import Path

import aiosqlite

from retrieval import db as database
from retrieval import store

# The bot's migrations: `MIGRATIONS[i]` moves the set from version i to i + 1. Append new ones at the end.
MIGRATIONS: tuple[str, ...] = (
    # 0 → 1: the question log (the user is a salted hash, never the raw id).
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
    """,
    # 1 → 2: followed news feeds. Feed items point at articles by id without a foreign key: an
    # article outlives the feed and the item.
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
    # 2 → 3: followed topics (`/follow`) and the alerts sent for them, one per chat and story.
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
    # 3 → 4: the bot's own keys (question count, salt, alerts cursor), moved out of retrieval's `meta`.
    """
    CREATE TABLE bot_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    INSERT INTO bot_meta (key, value)
        SELECT key, value FROM meta WHERE key IN ('questions_total', 'question_log_salt', 'alerts_cursor');
    DELETE FROM meta WHERE key IN ('questions_total', 'question_log_salt', 'alerts_cursor');
    INSERT OR IGNORE INTO bot_meta (key, value) VALUES ('questions_total', '0');
    """,
)

BOT = database.MigrationSet("bot", MIGRATIONS)


async def connect(path: str | Path) -> aiosqlite.Connection:
    """Open (creating if needed) the database at `path` with retrieval's tables and the bot's migrated."""
    return await database.connect(path, (store.RETRIEVAL, BOT))


async def get_value(db: aiosqlite.Connection, key: str, default: str = "") -> str:
    row = await (await db.execute("SELECT value FROM bot_meta WHERE key = ?", (key,))).fetchone()
    return row[0] if row else default


async def set_value(db: aiosqlite.Connection, key: str, value: str) -> None:
    await db.execute("INSERT INTO bot_meta (key, value) VALUES (?, ?)"
                     " ON CONFLICT (key) DO UPDATE SET value = excluded.value", (key, value))


async def set_value_once(db: aiosqlite.Connection, key: str, value: str) -> str:
    """Store `value` unless the key has one already; returns the stored value."""
    await db.execute("INSERT OR IGNORE INTO bot_meta (key, value) VALUES (?, ?)", (key, value))
    return await get_value(db, key)


async def count_inserts(db: aiosqlite.Connection, table: str, key: str) -> None:
    """On this connection, every row inserted into `table` adds one to `bot_meta`'s `key`.

    The bump runs inside the INSERT's own statement (no second round trip on the answer path). A TEMP
    trigger lives in this connection only, not in the database file: the schema does not change,
    so another version of the program opening the database counts as it always did.
    """
    if not table.isidentifier():
        raise ValueError(f"not a table name: {table!r}")
    await db.execute(f"CREATE TEMP TRIGGER IF NOT EXISTS {table}_counts AFTER INSERT ON main.{table}"
                     " BEGIN UPDATE bot_meta SET value = CAST(value AS INTEGER) + 1"
                     f" WHERE key = {_quote(key)}; END")


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
