"""The answer path's reads (the shown passages, the stories of the ranked articles) without a thread hop.

An answer reads a few rows by primary key and index, tens of microseconds of SQLite work; through
aiosqlite each read is a hop to its thread and back, which cost more than the read (0.15-0.3 ms
on an idle core, more when the core is shared, twice per answer). `RowReader` asks the same
queries (`shown.shown_sql`, `store.passages_sql`, `newsstore.story_members_sql`) on a synchronous connection of its
own, on the caller's thread.

That is safe to do on the event loop because the database is in WAL mode: a reader never waits
for the writer, each query reads the last committed state (autocommit: no snapshot is held
between queries), and the connection only reads (`query_only`). It has no busy timeout, so in the
rare case where a read would have to wait (a connection recovering the WAL after a crash) it
fails at once, and the caller asks aiosqlite instead (None here), which waits as it always did.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path

from . import newsstore, shown, store, storygroups

MMAP_BYTES = 1 << 30


class RowReader:
    """A read-only synchronous connection to the database, for the few rows an answer shows."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._db = connection
        # The connection may be used from another thread than the one that opened it (a search
        # run in a worker thread); sqlite3 objects are not to be used by two threads at once.
        self._lock = threading.Lock()

    @classmethod
    def open(cls, path: str | Path) -> RowReader | None:
        """A reader of the database at `path` (already created and migrated), or None for an in-memory one."""
        if str(path) == ":memory:":
            return None  # another connection would see another, empty, database
        db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        try:
            db.execute("PRAGMA query_only=ON")
            db.execute("PRAGMA busy_timeout=0")
            # Pages read through a memory map instead of a read() each into SQLite's small page cache:
            # an answer's rows are scattered over a file of hundreds of MB, and the system call and
            # copy per page were half the cost of its reads (story members 0.14 → 0.08 ms at 100k
            # passages). Only address space: what is touched is the file's own (shared) page cache.
            db.execute(f"PRAGMA mmap_size={MMAP_BYTES}")
        except BaseException:
            db.close()
            raise
        return cls(db)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _rows(self, sql: str, args: Sequence[int | str]) -> list | None:
        try:
            with self._lock:
                return self._db.execute(sql, tuple(args)).fetchall()
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):  # extended codes too
                return None
            raise

    def passages_by_id(self, ids: Sequence[int]) -> dict[int, store.StoredPassage] | None:
        """`store.passages_by_id`, or None if the file is busy (ask the aiosqlite reader)."""
        if not ids:
            return {}
        rows = self._rows(store.passages_sql(len(ids)), ids)
        return None if rows is None else store.passages_of_rows(rows)

    def shown_passages(self, keys: Sequence[shown.Key], copied: Sequence[shown.Copied] = (),
                       ) -> tuple[dict[int, shown.ShownPassage], shown.Also] | None:
        """`shown.shown_passages`, or None if the file is busy (ask the aiosqlite reader)."""
        rows: list = []
        for sql, args in shown.statements(keys, copied):
            got = self._rows(sql, args)
            if got is None:
                return None
            rows += got
        return shown.shown_of_rows(rows, copied)

    def story_members(self, rowids: Sequence[int],
                      ) -> tuple[dict[int, str], dict[str, list[tuple[int, storygroups.StoryCopy]]]] | None:
        """`storygroups.story_members`, or None if the file is busy (ask the aiosqlite reader)."""
        if not rowids:
            return {}, {}
        rows = self._rows(newsstore.story_members_sql(len(rowids)), rowids)
        return None if rows is None else storygroups.members_of_rows(rows, rowids)
