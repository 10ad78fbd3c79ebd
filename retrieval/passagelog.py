"""Retrieval's tables read synchronously: the passage log and the index inputs, in one snapshot each.

Part of the store: the tables and their migrations are `retrieval.store`'s (the
`retrieval` migration set); this module holds the SQL the index build runs
with plain `sqlite3`, in a worker thread or in the child process that builds
the base file, where an aiosqlite connection cannot go. `passage_log` (written
by `store.write_articles` and by a trigger on deletions from `passages`) is read and trimmed only
here, as are the meta keys `passage_log_trimmed` and `content_generation` when read alongside it.

Each reader takes a connection from `connect` and reads inside `snapshot`, so
the log position and the rows it covers come from one state of the file.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

# Ids per `IN (...)` lookup: well under SQLite's limit on bound variables.
_LOOKUP_CHUNK = 900

# Every passage with its article's rowid and analysed terms, in passage-id order (also read
# asynchronously by `store.iter_index_inputs`: one statement for both).
INDEX_INPUTS_SQL = ("SELECT p.id, a.rowid, p.terms FROM passages p"
                    " JOIN articles a ON a.id = p.article_id ORDER BY p.id")


def connect(db_path: str | Path) -> sqlite3.Connection:
    """A plain connection for one reader (autocommit: `snapshot` and `trim` bracket their statements)."""
    con = sqlite3.connect(db_path, isolation_level=None, check_same_thread=False)
    con.execute("PRAGMA busy_timeout=5000")
    return con


class ReaderPool:
    """Connections for the near-real-time refreshes' reads, kept open from one refresh to the next.

    Opening one and loading the schema on its first statement cost ~0.2 ms, on every add. A
    connection is lent to one reader at a time (a thread left running by a cancelled refresh
    keeps its own until it is done), and only taken back outside a transaction: an idle one
    holds no lock, so it keeps no checkpoint from finishing. After `close` a connection handed
    back is closed instead.
    """

    def __init__(self, db_path: str | Path) -> None:
        self.db_path = db_path
        self._idle: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._closed = False

    @contextlib.contextmanager
    def connection(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            con = self._idle.pop() if self._idle else None
        if con is None:
            con = connect(self.db_path)
        try:
            yield con
        finally:
            with self._lock:
                if not self._closed and not con.in_transaction:
                    self._idle.append(con)
                    con = None
            if con is not None:
                con.close()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for con in idle:
            con.close()


@contextlib.contextmanager
def snapshot(con: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """A read transaction: every statement inside sees the same state of the file."""
    con.execute("BEGIN")
    try:
        yield con
    finally:
        con.execute("COMMIT")


def position(con: sqlite3.Connection) -> tuple[int, int, int]:
    """(last log seq ever assigned, trimmed up to, content generation), inside the caller's snapshot."""
    row = con.execute("SELECT MAX(seq) FROM passage_log").fetchone()
    meta = dict(con.execute("SELECT key, value FROM meta WHERE key IN ('passage_log_trimmed', 'content_generation')"))
    trimmed = int(meta.get("passage_log_trimmed", 0))
    last = int(row[0]) if row and row[0] is not None else 0
    return max(last, trimmed), trimmed, int(meta.get("content_generation", 0))


def passage_count(con: sqlite3.Connection) -> int:
    return int(con.execute("SELECT COUNT(*) FROM passages").fetchone()[0])


def entries_after(con: sqlite3.Connection, after: int) -> Iterator[tuple[int, int, str | None]]:
    """(seq, passage id, terms) of the log entries after `after`, in order; terms None for a write."""
    yield from con.execute("SELECT seq, passage_id, terms FROM passage_log WHERE seq > ? ORDER BY seq", (after,))


def entries_with_inputs_after(con: sqlite3.Connection, after: int,
                              ) -> Iterator[tuple[int, int, str | None, int | None, str | None]]:
    """`entries_after`, each write with the passage's article rowid and terms as stored now (None
    if it is gone): (seq, passage id, logged terms, article rowid, stored terms).

    One statement instead of the log and then the written passages by id (`index_inputs`): a
    refresh after an add of ~100 passages read them in two, with an `IN` list of their ids. A
    passage id written more than once in the log (deleted, then reused) joins the same row
    each time: the one stored now, which is the one a later write says is live.
    """
    yield from con.execute(
        "SELECT l.seq, l.passage_id, l.terms, a.rowid, p.terms FROM passage_log l"
        " LEFT JOIN passages p ON l.terms IS NULL AND p.id = l.passage_id"
        " LEFT JOIN articles a ON a.id = p.article_id"
        " WHERE l.seq > ? ORDER BY l.seq", (after,))


# What a write of new articles reads inside its transaction for `Handoff`: the last log entry and the
# largest passage id and article rowid before it writes (new rows are numbered on from them).
WRITE_BOUNDS_SQL = ("SELECT COALESCE(MAX(seq), 0), (SELECT COALESCE(MAX(id), 0) FROM passages),"
                    " (SELECT COALESCE(MAX(rowid), 0) FROM articles) FROM passage_log")


@dataclass(frozen=True, slots=True)
class Handoff:
    """The passages one committed transaction inserted (new articles only), for this process's index
    refresh to take instead of reading them back from the log (`handed_changes`).

    SQLite numbers a row without an explicit rowid one above the largest (up to 2**63 - 1), so
    under the write lock the new articles and passages are numbered on from the bounds read at
    the start of the transaction, and their log entries follow `log_after`. The refresh checks,
    in its snapshot, that the log holds exactly those entries after the index's last one and that
    the largest ids are the ones they would make: anything else (another writer, an update, a
    trim) and it reads the log as always.
    """

    log_after: int  # the last log entry before the transaction
    first_passage: int  # the first new passage's id; the others follow one by one
    article_base: int  # the largest article rowid before it: the i-th new article is this + 1 + i
    articles: int  # new articles
    passages: tuple[tuple[int, str | bytes], ...]  # per new passage, in id order: (its article's i, terms)


# `position`'s values and the largest passage id and article rowid, in one statement.
_HANDOFF_CHECK_SQL = ("SELECT (SELECT MAX(seq) FROM passage_log),"
                      " (SELECT value FROM meta WHERE key = 'passage_log_trimmed'),"
                      " (SELECT value FROM meta WHERE key = 'content_generation'),"
                      " (SELECT MAX(id) FROM passages), (SELECT MAX(rowid) FROM articles)")


def handed_changes(con: sqlite3.Connection, handoff: Handoff, after: int,
                   limit: int) -> tuple[int, int, list[tuple[int, int, str | bytes]]] | None:
    """(last log entry, content generation, (passage id, article rowid, terms) by id) of what
    `handoff` says was written after entry `after`, if the file bears it out; else None."""
    n = len(handoff.passages)
    if after != handoff.log_after or n == 0 or n > limit:
        return None
    # One statement reads one state of the file (no BEGIN ... COMMIT around several: ~0.1 ms less).
    log_last, trimmed_value, generation_value, top_passage, top_article = con.execute(_HANDOFF_CHECK_SQL).fetchone()
    trimmed = int(trimmed_value or 0)
    last, generation = max(int(log_last or 0), trimmed), int(generation_value or 0)  # as `position` reads them
    if trimmed > after or last != after + n:
        return None
    if top_passage != handoff.first_passage + n - 1 or top_article != handoff.article_base + handoff.articles:
        return None
    # The terms as handed over: stored as the UTF-8 they were bound as (CAST(? AS TEXT)), they are
    # numbered from those bytes (`segment.text_term_ids` decodes them in C; a str each cost ~2 µs).
    first, base = handoff.first_passage, handoff.article_base + 1
    return last, generation, [(first + i, base + article, terms) for i, (article, terms) in enumerate(handoff.passages)]


def index_inputs(con: sqlite3.Connection, ids: Sequence[int] | None = None) -> Iterator[tuple[int, int, str]]:
    """(passage id, article rowid, terms) of every passage, or of the stored ones among `ids`."""
    if ids is None:
        yield from con.execute(INDEX_INPUTS_SQL)
        return
    ids = list(ids)
    for start in range(0, len(ids), _LOOKUP_CHUNK):
        chunk = ids[start:start + _LOOKUP_CHUNK]
        yield from con.execute(
            "SELECT p.id, a.rowid, p.terms FROM passages p JOIN articles a ON a.id = p.article_id"
            f" WHERE p.id IN ({','.join('?' * len(chunk))})", chunk)


def log_bounds(db_path: str | Path) -> tuple[int, int, int]:
    """(last log seq, trimmed up to, passage count) of the file, in one snapshot."""
    con = connect(db_path)
    try:
        with snapshot(con):
            last, trimmed, _ = position(con)
            return last, trimmed, passage_count(con)
    finally:
        con.close()


def trim(con: sqlite3.Connection, upto: int) -> None:
    """Drop the log entries up to `upto` (a saved base covers them), atomically."""
    con.execute("BEGIN IMMEDIATE")
    try:
        # The last entry stays: the next one is numbered after it (seq is a plain rowid).
        con.execute("DELETE FROM passage_log WHERE seq <= ? AND seq < (SELECT MAX(seq) FROM passage_log)", (upto,))
        con.execute("UPDATE meta SET value = CAST(MAX(CAST(value AS INTEGER), ?) AS TEXT)"
                    " WHERE key = 'passage_log_trimmed'", (upto,))
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
