"""The passage log's entries for written passages: one per passage, in id order, logged by the write
itself (`store.LOG_WRITTEN_SQL`) since migration 7 → 8 dropped the row trigger that did it before."""

from __future__ import annotations

import asyncio
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from retrieval import db as db_module
from retrieval import store
from retrieval.engine import SearchEngine
from tests.test_handoff import jsonl
from tests.test_nrt_oracle import check_against_rebuild, no_full_merges  # noqa: F401 (a fixture)


def log_rows(db: Path, after: int = 0) -> list[tuple[int, int]]:
    """(passage id, 1 for a write / 0 for a deletion) of the log entries after seq `after`."""
    with closing(sqlite3.connect(db)) as con:
        return con.execute("SELECT passage_id, terms IS NULL FROM passage_log WHERE seq > ? ORDER BY seq",
                           (after,)).fetchall()


def last_seq(db: Path) -> int:
    with closing(sqlite3.connect(db)) as con:
        return con.execute("SELECT COALESCE(MAX(seq), 0) FROM passage_log").fetchone()[0]


def passage_ids(db: Path) -> list[int]:
    with closing(sqlite3.connect(db)) as con:
        return [r[0] for r in con.execute("SELECT id FROM passages ORDER BY id")]


def insert_triggers(db: Path) -> list[str]:
    with closing(sqlite3.connect(db)) as con:
        return [r[0] for r in con.execute(
            "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'passages' ORDER BY name")]


@pytest.mark.usefixtures("no_full_merges")  # a rebuild would trim the log
def test_each_written_passage_is_logged_once_in_id_order_and_updates_log_deletions_first(tmp_path: Path) -> None:
    db = tmp_path / "news.db"

    async def go() -> None:
        async with await SearchEngine.open(db) as engine:
            await engine.ingest_bytes(jsonl(range(0, 2)), "a.jsonl")
            before = last_seq(db)
            known = passage_ids(db)
            await engine.ingest_bytes(jsonl(range(2, 4)), "a.jsonl")
            first = passage_ids(db)
            assert log_rows(db, before) == [(p, 1) for p in first if p not in known]
            # An update of the last article: its passages (the largest ids) are deleted, and the new
            # ones may take the same ids again; the log says deleted first, then written.
            before = last_seq(db)
            with closing(sqlite3.connect(db)) as con:
                old = [r[0] for r in con.execute(
                    "SELECT p.id FROM passages p WHERE p.article_id = (SELECT id FROM articles ORDER BY rowid DESC"
                    " LIMIT 1) ORDER BY p.id")]
            report = await engine.ingest_bytes(jsonl(range(3, 4), seed=7, paragraphs=5), "b.jsonl")
            assert report.updated == 1
            now = passage_ids(db)
            new = [p for p in now if p not in first or p in old]
            assert old and new
            assert log_rows(db, before) == [(p, 0) for p in old] + [(p, 1) for p in sorted(new)]
            await engine.settle()
            check_against_rebuild(engine)

    asyncio.run(go())


def test_a_database_with_the_insert_trigger_drops_it_and_logs_once(tmp_path: Path) -> None:
    db = tmp_path / "news.db"
    with closing(sqlite3.connect(db)) as con:  # the retrieval set at version 7: the trigger still there
        for step in store.MIGRATIONS[:7]:
            con.executescript(step)
        con.execute("CREATE TABLE schema_versions (name TEXT PRIMARY KEY, version INTEGER NOT NULL)")
        con.execute("INSERT INTO schema_versions VALUES ('retrieval', 7)")
        con.execute(f"PRAGMA user_version = {db_module.USER_VERSION}")
        con.commit()
    assert insert_triggers(db) == ["passage_log_delete", "passage_log_insert"]

    async def go() -> None:
        async with await SearchEngine.open(db) as engine:
            await engine.ingest_bytes(jsonl(range(0, 3)), "a.jsonl")
            await engine.settle()
            check_against_rebuild(engine)

    asyncio.run(go())
    assert insert_triggers(db) == ["passage_log_delete"]
    assert log_rows(db) == [(p, 1) for p in passage_ids(db)]
