"""The answer path's synchronous reads (retrieval/rowreads.py) against aiosqlite's, and their fallback."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from retrieval import shown as shown_rows
from retrieval import store, storygroups
from retrieval.engine import RetrievalConfig, SearchEngine
from retrieval.rowreads import RowReader

from .conftest import write_jsonl
from .test_stories import ARTICLES

QUESTION = "إصابة بجدري القردة في المغرب"


def shown(result) -> list:
    return [(h.article_id, h.passage_id, h.score, h.excerpt, h.highlights, h.also) for h in result.hits]


async def test_rows_and_stories_equal_aiosqlites(tmp_path: Path) -> None:
    async with await SearchEngine.open(tmp_path / "news.db", RetrievalConfig()) as engine:
        await engine.ingest_paths([write_jsonl(tmp_path / "a.jsonl", ARTICLES)])
        assert engine.rows is not None
        ids = [r[0] for r in await engine.reader.execute_fetchall("SELECT id FROM passages")]
        rowids = [r[0] for r in await engine.reader.execute_fetchall("SELECT rowid FROM articles")]
        assert engine.rows.passages_by_id(ids) == await store.passages_by_id(engine.reader, ids)
        assert engine.rows.passages_by_id([ids[0], 10**9]).keys() == {ids[0]}  # a deleted one is missing
        assert engine.rows.story_members(rowids) == await storygroups.story_members(engine.reader, rowids)
        assert engine.rows.passages_by_id([]) == {} and engine.rows.story_members([]) == ({}, {})
        # Reads see what the writer committed, at once (no snapshot held between queries).
        assert await engine.delete_article("w3")
        assert "w3" not in {c.article_id for members in engine.rows.story_members(rowids)[1].values()
                            for _, c in members}


async def test_shown_passages_are_the_stored_passages_without_the_body(tmp_path: Path) -> None:
    # Characters outside the BMP, diacritics and a Latin word: SQLite's substr must count them as Python does.
    odd = {"id": "odd", "title": "عنوان", "source": "مصدر", "published": "2024-01-02", "url": "https://x.test/odd",
           "text": ("مقدمة 🙂 قصيرة. " * 30) + "\n\n" + ("كَتَبَ الصَّحَفِيُّ 𝔘𝔫𝔦 عن القمة في بغداد. " * 25)}
    async with await SearchEngine.open(tmp_path / "news.db", RetrievalConfig()) as engine:
        await engine.ingest_paths([write_jsonl(tmp_path / "a.jsonl", [*ARTICLES, odd])])
        assert engine.rows is not None
        keys = [tuple(r) for r in await engine.reader.execute_fetchall(
            "SELECT p.id, a.rowid FROM passages p JOIN articles a ON a.id = p.article_id")]
        ids = [pid for pid, _ in keys]
        full = await store.passages_by_id(engine.reader, ids)
        got, also = engine.rows.shown_passages(keys)
        assert (got, also) == await shown_rows.shown_passages(engine.reader, keys) and also == {}
        assert got.keys() == full.keys() and len(got) > len(ARTICLES)
        for pid, row in got.items():
            want = full[pid]
            a = want.article
            assert (row.ord, row.text) == (want.ord, want.text) == (want.ord, a.body[want.start:want.end])
            assert (row.article_id, row.title, row.source, row.section, row.published, row.url) == (
                a.id, a.title, a.source, a.section, a.published, a.url)
        assert any("🙂" in row.text or "𝔘" in row.text for row in got.values())
        # A passage deleted, or read with another article's rowid (its article written again since), is missing.
        other = next(rowid for pid, rowid in keys if full[pid].article.id != full[ids[1]].article.id)
        assert engine.rows.shown_passages([keys[0], (10**9, keys[0][1]), (ids[1], other)])[0].keys() == {ids[0]}
        assert engine.rows.shown_passages([]) == ({}, {}) == await shown_rows.shown_passages(engine.reader, [])
        # More passages than one statement reads (SQLite allows 500 terms in a compound SELECT): several.
        many = [(10**9 + i, keys[0][1]) for i in range(2 * shown_rows.CHUNK + 7)] + keys
        assert engine.rows.shown_passages(many) == (got, {}) == await shown_rows.shown_passages(engine.reader, many)


async def test_shown_copies_are_the_story_members(tmp_path: Path) -> None:
    async with await SearchEngine.open(tmp_path / "news.db", RetrievalConfig()) as engine:
        await engine.ingest_paths([write_jsonl(tmp_path / "a.jsonl", ARTICLES)])
        assert engine.rows is not None
        rows = await engine.reader.execute_fetchall(
            "SELECT p.id, a.rowid, s.story FROM passages p JOIN articles a ON a.id = p.article_id"
            " JOIN stories s ON s.article_id = a.id WHERE p.ord = 0")
        copied = [tuple(r) for r in rows]
        story_of, members = engine.rows.story_members([rowid for _, rowid, _ in copied])
        assert len(set(story_of.values())) < len(copied)  # a story with copies among them
        want = {pid: tuple(c for r, c in members[story_of[rowid]] if r != rowid)[:storygroups.MAX_ALSO]
                for pid, rowid, _ in copied}
        keys = [(pid, rowid) for pid, rowid, _ in copied]
        got, also = engine.rows.shown_passages(keys, copied)
        assert also == want and any(also.values()) and got.keys() == set(want)
        assert (got, also) == await shown_rows.shown_passages(engine.reader, keys, copied)
        # A shown story read alone (its copies only with the copied ones).
        assert engine.rows.shown_passages(keys[:1], copied[:1])[1] == {copied[0][0]: want[copied[0][0]]}


async def test_a_busy_file_is_read_through_aiosqlite(tmp_path: Path, monkeypatch) -> None:
    async with await SearchEngine.open(tmp_path / "news.db", RetrievalConfig()) as engine:
        await engine.ingest_paths([write_jsonl(tmp_path / "a.jsonl", ARTICLES)])
        quick = await engine.search(QUESTION, k=5)
        assert quick.hits and any(h.also for h in quick.hits)
        await engine._story_map.settled()  # the stories in memory: the copies are still asked of SQLite
        asked = []

        def busy(sql: str, args: object) -> None:
            asked.append(sql)
            return None  # what _rows answers when SQLite says SQLITE_BUSY

        monkeypatch.setattr(engine.rows, "_rows", busy)
        slow = await engine.search(QUESTION, k=5)
        assert len(asked) == 1  # the passages with the stories' copies, in one statement: asked of aiosqlite instead
        assert shown(slow) == shown(quick)


def test_the_reader_only_reads(tmp_path: Path) -> None:
    db = tmp_path / "news.db"
    with sqlite3.connect(db) as con:
        con.execute("CREATE TABLE t (x)")
    reader = RowReader.open(db)
    assert reader is not None
    try:
        try:
            reader._db.execute("INSERT INTO t VALUES (1)")
        except sqlite3.OperationalError as exc:
            assert "readonly" in str(exc)
        else:
            raise AssertionError("the row reader wrote to the database")
    finally:
        reader.close()
    assert RowReader.open(":memory:") is None
