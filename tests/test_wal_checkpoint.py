"""The WAL checkpoint off the add (retrieval/walcheckpoint.py): background checkpoints keep the main
file current and the log short, while the writer's own automatic checkpoint is only a backstop."""

import json
import shutil
import sqlite3
from pathlib import Path

from retrieval import ingest, walcheckpoint
from retrieval.engine import RetrievalConfig, SearchEngine
from retrieval.walcheckpoint import BACKSTOP_PAGES

BODY = ("أعلنت وزارة الصحة اليوم عن افتتاح مستشفى جديد في المدينة يضم مئتي سرير وقسما للطوارئ. "
        "وقال الوزير إن المشروع كلف عشرات الملايين وسيخدم سكان المنطقة الشمالية. ")


def jsonl(first: int, count: int) -> bytes:
    return "\n".join(json.dumps({"id": f"a{i}", "title": f"خبر رقم {i}", "text": f"{BODY * 3} رقم {i}",
                                 "published": "2024-03-01"}, ensure_ascii=False)
                     for i in range(first, first + count)).encode()


def main_file_articles(db: Path, scratch: Path) -> set[str]:
    """The articles the main file holds without its log: what checkpoints have copied into it."""
    copy = scratch / "main-only.db"
    shutil.copy(db, copy)
    with sqlite3.connect(copy) as con:
        if not con.execute("SELECT 1 FROM sqlite_master WHERE name = 'articles'").fetchone():
            return set()  # not even the schema has been copied in yet
        return {r[0] for r in con.execute("SELECT id FROM articles")}


async def test_adds_are_checkpointed_in_the_background_and_the_log_restarts(tmp_path: Path, monkeypatch):
    monkeypatch.setattr(walcheckpoint, "CHECKPOINT_PASSAGES", 1)  # every add: each one's pages checked
    db = tmp_path / "news.db"
    engine = await SearchEngine.open(db, RetrievalConfig())
    try:
        async with engine.writing() as writer:
            assert (await writer.execute_fetchall("PRAGMA wal_autocheckpoint"))[0][0] == BACKSTOP_PAGES
        sizes = []
        for i in range(12):
            await engine.ingest_bytes(jsonl(3 * i, 3), "add.jsonl")
            await engine.settle()
            sizes.append((tmp_path / "news.db-wal").stat().st_size)
            # Every committed page is in the main file once the add's checkpoint is done: with the
            # writer's threshold at BACKSTOP_PAGES nothing else would have copied them yet.
            assert main_file_articles(db, tmp_path) == {f"a{j}" for j in range(3 * i + 3)}
        assert engine._checkpointer.runs >= 12
        busy, frames, done = engine._checkpointer.last
        assert busy == 0 and frames == done
        # Fully checkpointed logs are restarted from their beginning: the file stops growing.
        assert sizes[-1] <= max(sizes[:3])
        assert (await engine.search("مستشفى رقم 35", k=3)).hits[0].article_id == "a35"
    finally:
        await engine.close()
    with sqlite3.connect(db) as con:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert con.execute("SELECT COUNT(*) FROM articles").fetchone()[0] == 36


async def test_small_adds_share_a_checkpoint(tmp_path: Path, monkeypatch):
    db = tmp_path / "news.db"
    engine = await SearchEngine.open(db, RetrievalConfig())
    try:
        report = await engine.ingest_bytes(jsonl(0, 3), "add.jsonl")
        per_add = report.passages
        monkeypatch.setattr(walcheckpoint, "CHECKPOINT_PASSAGES", 3 * per_add)
        adds = 1
        while engine._checkpointer.runs == 0:
            await engine.settle()
            assert main_file_articles(db, tmp_path) == set()  # below the threshold: still only in the log
            await engine.ingest_bytes(jsonl(3 * adds, 3), "add.jsonl")
            adds += 1
            await engine.settle()
        assert adds == 3  # the third add's passages reached it
        assert main_file_articles(db, tmp_path) == {f"a{j}" for j in range(9)}
    finally:
        await engine.close()


async def test_a_long_ingest_is_checkpointed_between_its_batches(tmp_path: Path, monkeypatch):
    monkeypatch.setattr(ingest, "INGEST_BATCH", 4)
    monkeypatch.setattr(walcheckpoint, "CHECKPOINT_PASSAGES", 1)
    db = tmp_path / "news.db"
    kicks = []
    engine = await SearchEngine.open(db, RetrievalConfig())
    try:
        checkpointer = engine._target.checkpoints
        assert checkpointer is engine._checkpointer
        kick = checkpointer.kick
        monkeypatch.setattr(checkpointer, "kick", lambda: (kicks.append(1), kick()))
        report = await engine.ingest_bytes(jsonl(0, 20), "bulk.jsonl")
        assert report.added == 20
        assert len(kicks) == 5  # between the 5 batches, and the engine's after the last
        await engine.settle()
        assert main_file_articles(db, tmp_path) == {f"a{j}" for j in range(20)}
    finally:
        await engine.close()


async def test_an_in_memory_database_has_no_checkpointer_work():
    engine = await SearchEngine.open(":memory:", RetrievalConfig())
    try:
        await engine.ingest_bytes(jsonl(0, 2), "add.jsonl")
        await engine.settle()
        assert engine._checkpointer.runs == 0
    finally:
        await engine.close()
