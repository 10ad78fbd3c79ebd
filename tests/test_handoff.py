"""An add's passages handed to the index refresh instead of read back (`passagelog.Handoff`): taken
only when the file bears them out, and the index is then the one reading the log makes."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from retrieval import indexing, ingest, passagelog, store
from retrieval.engine import SearchEngine
from tests.test_nrt_oracle import article, check_against_rebuild, no_full_merges  # noqa: F401 (a fixture)


def jsonl(numbers: range, seed: int = 0, paragraphs: int = 3) -> bytes:
    return "\n".join(article(n, paragraphs, seed + n) for n in numbers).encode()


def indexed(engine: SearchEngine) -> list[tuple[int, int]]:
    """(passage id, article rowid) of every live passage the index holds."""
    live = engine.index
    assert live is not None
    return sorted((int(p), int(a)) for view, seg in zip(live.views, live.segments, strict=True)
                  for i, (p, a) in enumerate(zip(view.passage_ids, view.article_ids, strict=True))
                  if seg is None or seg.live[i])


def stored(db: Path) -> list[tuple[int, int]]:
    con = sqlite3.connect(db)
    try:
        return sorted(con.execute("SELECT p.id, a.rowid FROM passages p JOIN articles a ON a.id = p.article_id"))
    finally:
        con.close()


class Spy:
    """Counts what the refreshes took: handed passages, or the log read back."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, before_check=None) -> None:
        self.handed = self.read = 0
        real_handed, real_read = indexing.handed_changes, indexing.read_changes

        def handed(*args, **kwargs):
            if before_check is not None:
                before_check()
            got = real_handed(*args, **kwargs)
            self.handed += got is not None
            return got

        def read(*args, **kwargs):
            self.read += 1
            return real_read(*args, **kwargs)

        monkeypatch.setattr(indexing, "handed_changes", handed)
        monkeypatch.setattr(indexing, "read_changes", read)


@pytest.mark.usefixtures("no_full_merges")
def test_new_articles_are_handed_over_and_indexed_as_read_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    async def go() -> None:
        db = tmp_path / "news.db"
        async with await SearchEngine.open(db) as engine:
            await engine.ingest_bytes(jsonl(range(0, 6)), "a.jsonl")
            spy = Spy(monkeypatch)
            for start in (6, 9, 12, 15):  # more adds than small segments kept: merges too
                await engine.ingest_bytes(jsonl(range(start, start + 3)), "b.jsonl")
                await engine.settle()
            assert (spy.handed, spy.read) == (4, 0)
            assert indexed(engine) == stored(db)
            check_against_rebuild(engine)
            # An update is no handoff (its old passages leave the index through the log).
            await engine.ingest_bytes(jsonl(range(6, 8), seed=99), "c.jsonl")
            assert (spy.handed, spy.read) == (4, 1)
            assert indexed(engine) == stored(db)
            check_against_rebuild(engine)

    asyncio.run(go())


@pytest.mark.usefixtures("no_full_merges")
def test_another_writer_in_between_makes_the_refresh_read_the_log(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "news.db"
    other = {"n": 100}

    def another_process_adds() -> None:  # between this process's commit and its refresh
        con = sqlite3.connect(db, isolation_level=None)
        try:
            n = other["n"]
            other["n"] += 1
            con.execute("BEGIN IMMEDIATE")
            con.execute("INSERT INTO articles (id, body, content_hash, ingested_at, updated_at)"
                        " VALUES (?, 'x', 'h', 't', 't')", (f"other{n}",))
            top = con.execute("SELECT COALESCE(MAX(id), 0) FROM passages").fetchone()[0]
            con.execute('INSERT INTO passages (article_id, ord, start, "end", terms) VALUES (?, 0, 0, 1, ?)',
                        (f"other{n}", f"كلمة{n} اخرى"))
            con.execute(store.LOG_WRITTEN_SQL, (top,))  # as `store.write_articles` logs what it writes
            con.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'content_generation'")
            con.execute("COMMIT")
        finally:
            con.close()

    async def go() -> None:
        async with await SearchEngine.open(db) as engine:
            await engine.ingest_bytes(jsonl(range(0, 6)), "a.jsonl")
            spy = Spy(monkeypatch, before_check=another_process_adds)
            for start in (6, 9):
                await engine.ingest_bytes(jsonl(range(start, start + 3)), "b.jsonl")
                await engine.settle()
            assert (spy.handed, spy.read) == (0, 2)
            assert indexed(engine) == stored(db)
            check_against_rebuild(engine)

    asyncio.run(go())


@pytest.mark.usefixtures("no_full_merges")  # a background rebuild finishing meanwhile would add a read
def test_a_rolled_back_batch_hands_nothing_over(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    async def go() -> None:
        db = tmp_path / "news.db"
        async with await SearchEngine.open(db) as engine:
            target = engine._target

            async def fail(*args, **kwargs):
                raise RuntimeError("story grouping failed")

            monkeypatch.setattr(target.stories, "update", fail)
            handoffs: list[passagelog.Handoff] = []
            batch = [ingest.prepare(a, "x", engine.config)
                     for a in (engine_article(n) for n in range(3))]
            with pytest.raises(RuntimeError, match="story grouping failed"):
                await ingest._write_batch(target, batch, handoffs)
            assert handoffs == [] and stored(db) == []
            monkeypatch.undo()
            await ingest._write_batch(target, batch, handoffs)
            assert len(handoffs) == 1 and len(handoffs[0].passages) == len(stored(db)) > 0

    asyncio.run(go())


def engine_article(n: int):
    from retrieval.readers import read_bytes
    (record,) = list(read_bytes(article(n, 2, n).encode(), "a.jsonl"))
    return record


@pytest.mark.usefixtures("no_full_merges")  # a background rebuild finishing meanwhile would add a read
def test_an_ingest_of_several_batches_keeps_no_handoff(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    async def go() -> None:
        db = tmp_path / "news.db"
        async with await SearchEngine.open(db) as engine:
            await engine.ingest_bytes(jsonl(range(0, 3)), "a.jsonl")
            monkeypatch.setattr(ingest, "INGEST_BATCH", 2)
            handoffs: list[passagelog.Handoff] = []
            records = ((engine_article(n), "x") for n in range(3, 8))
            report = ingest.IngestReport()
            await ingest.write_records(engine._target, records, report, None, handoffs)
            assert report.added == 5 and handoffs == []
            records = ((engine_article(n), "x") for n in range(8, 10))
            await ingest.write_records(engine._target, records, ingest.IngestReport(), None, handoffs)
            assert len(handoffs) == 1
            spy = Spy(monkeypatch)
            await engine.refresh_index(handoff=handoffs[0])  # the log holds the 5 before it: read
            assert (spy.handed, spy.read) == (0, 1)
            assert indexed(engine) == stored(db)

    asyncio.run(go())
