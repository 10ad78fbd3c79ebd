"""The SQLite file: opening it, its schema versions, and the transaction idiom.

Every connection to the database is opened here (aiosqlite, WAL, foreign keys
on). Tables belong to one side each, and each side brings its own named
`MigrationSet`: retrieval's (`retrieval.store.MIGRATIONS`: articles, passages,
meta, outlet aliases, stories) and the bot's (`bot.schema`: question log,
feeds, follows, bot_meta). A set's version is kept in the `schema_versions`
table, so either side can add a migration without renumbering the other's.
Whoever opens the file migrates the sets it names, each step in its own
transaction.

`PRAGMA user_version` says which bookkeeping a file uses: 0 for a new file,
1-8 for a file written before the split (one list of migrations, of which
0-2 were released), and `USER_VERSION` once `schema_versions` holds the
versions. A file at 1-8 is converted on first opening; an older program
opening a converted file sees a version above its own and refuses it.

`transaction` is the one way to write several statements atomically:
`BEGIN IMMEDIATE` (the write lock up front, so a busy file waits on
`busy_timeout` instead of failing half-way), `COMMIT`, or a rollback on any
error or cancellation.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import aiosqlite

USER_VERSION = 100  # `schema_versions` holds each set's version
PAGE_SIZE = 16384

# What each `PRAGMA user_version` of the single list before the split had applied, per set.
LEGACY_VERSIONS: dict[int, dict[str, int]] = {
    0: {},
    1: {"retrieval": 1},
    2: {"retrieval": 1, "bot": 1},
    3: {"retrieval": 2, "bot": 1},
    4: {"retrieval": 2, "bot": 2},
    5: {"retrieval": 3, "bot": 2},
    6: {"retrieval": 4, "bot": 2},
    7: {"retrieval": 4, "bot": 3},
    8: {"retrieval": 5, "bot": 3},  # 7 plus the passage log (never released either)
}


class SchemaError(RuntimeError):
    """The database file is newer than this code or not ours."""


@dataclass(frozen=True)
class MigrationSet:
    """The migrations of one side's tables: `steps[i]` moves the set from version i to i + 1."""

    name: str
    steps: Sequence[str]

    @property
    def version(self) -> int:
        return len(self.steps)


async def connect(path: str | Path, sets: Sequence[MigrationSet]) -> aiosqlite.Connection:
    """Open (creating if needed) the database at `path` and migrate `sets`, in order."""
    path = Path(path)
    if str(path) != ":memory:":
        path.parent.mkdir(parents=True, exist_ok=True)
    db = await _open_connection(path)
    try:
        # 16 KiB pages for a new database (an existing one keeps its size: the pragma only acts
        # before the first write, hence before WAL mode): an article body (~7 KB of UTF-8) fits in
        # its row instead of spilling into overflow pages, and bulk ingest writes fewer pages.
        await db.execute(f"PRAGMA page_size={PAGE_SIZE}")
        await db.execute("PRAGMA journal_mode=WAL")
        await db.execute("PRAGMA foreign_keys=ON")
        await db.execute("PRAGMA synchronous=NORMAL")
        await db.execute("PRAGMA busy_timeout=5000")
        await migrate(db, sets)
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


@contextlib.asynccontextmanager
async def transaction(db: aiosqlite.Connection) -> AsyncIterator[aiosqlite.Connection]:
    """`async with transaction(db):` — the statements inside commit together or not at all.

    Inside another `transaction` on the same connection it joins that one: the outermost commits,
    and an error raised inside rolls back the whole (so writes made by different modules, each
    with its own `transaction`, can be made one, e.g. an article and its story row).
    """
    if db.in_transaction:
        yield db
        return
    await db.execute("BEGIN IMMEDIATE")
    try:
        yield db
        await db.execute("COMMIT")
    except BaseException:
        await rollback(db)
        raise


# --- migrations --------------------------------------------------------------------------

async def migrate(db: aiosqlite.Connection, sets: Sequence[MigrationSet]) -> dict[str, int]:
    """Apply the pending steps of each set, each atomically; returns each set's final version."""
    try:
        await (await db.execute("PRAGMA user_version")).fetchone()
    except sqlite3.DatabaseError as exc:
        raise SchemaError(f"not a SQLite database: {exc}") from None
    for migration_set in sets:
        if await _up_to_date(db, migration_set):
            continue  # the usual case: no write lock taken just to find nothing to do
        target = 1
        while target <= migration_set.version:
            async with transaction(db):
                # Read inside the write lock: another connection may have just applied this step.
                current = await _set_version(db, migration_set)
                if current < target:
                    for statement in _statements(migration_set.steps[target - 1]):
                        await db.execute(statement)
                    await db.execute("INSERT INTO schema_versions (name, version) VALUES (?, ?)"
                                     " ON CONFLICT (name) DO UPDATE SET version = excluded.version",
                                     (migration_set.name, target))
            target = max(target, current) + 1
        if not migration_set.steps:
            async with transaction(db):
                await _set_version(db, migration_set)
    return {s.name: s.version for s in sets}


async def _up_to_date(db: aiosqlite.Connection, migration_set: MigrationSet) -> bool:
    """Whether the file already has every step of the set (read without a transaction)."""
    if (await (await db.execute("PRAGMA user_version")).fetchone())[0] != USER_VERSION:
        return False
    return await _stored_version(db, migration_set) == migration_set.version


async def _stored_version(db: aiosqlite.Connection, migration_set: MigrationSet) -> int:
    """The set's version recorded in the file (0 if none), refused if newer than this program's."""
    row = await (await db.execute("SELECT version FROM schema_versions WHERE name = ?",
                                  (migration_set.name,))).fetchone()
    version = row[0] if row else 0
    if version > migration_set.version:
        raise SchemaError(f"database schema version {version} of {migration_set.name!r} is newer than "
                          f"this program's ({migration_set.version})")
    return version


async def _set_version(db: aiosqlite.Connection, migration_set: MigrationSet) -> int:
    """The set's version in this file (bookkeeping created, or converted from before the split, first)."""
    user_version = (await (await db.execute("PRAGMA user_version")).fetchone())[0]
    if user_version != USER_VERSION:
        if user_version not in LEGACY_VERSIONS:
            raise SchemaError(f"database schema version {user_version} is newer than this program's "
                              f"({USER_VERSION}) or not this program's")
        await db.execute("CREATE TABLE schema_versions (name TEXT PRIMARY KEY, version INTEGER NOT NULL)")
        await db.executemany("INSERT INTO schema_versions (name, version) VALUES (?, ?)",
                             list(LEGACY_VERSIONS[user_version].items()))
        await db.execute(f"PRAGMA user_version = {USER_VERSION}")
    return await _stored_version(db, migration_set)


async def versions(db: aiosqlite.Connection) -> dict[str, int]:
    """Each set's version as the file records it (for `newsbot stats` and tests)."""
    rows = await db.execute_fetchall("SELECT name, version FROM schema_versions ORDER BY name")
    return {name: version for name, version in rows}


def _statements(script: str) -> list[str]:
    # executescript would COMMIT implicitly; split so the migration stays one transaction.
    out, buf = [], ""
    for line in script.splitlines(keepends=True):
        buf += line
        if sqlite3.complete_statement(buf):
            out.append(buf.strip())
            buf = ""
    return [s for s in out if s]
