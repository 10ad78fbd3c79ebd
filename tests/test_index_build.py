"""Index builds: in a separate process for large databases, identical to the in-thread build."""

import asyncio
from pathlib import Path

import numpy as np

from retrieval import bm25, indexer, indexing, segmentfile
from retrieval import upkeep as engine_module
from retrieval.engine import RetrievalConfig, SearchEngine
from retrieval.segments import LiveIndex

from .conftest import NEWS, write_jsonl


def same_index(a: LiveIndex, b: LiveIndex) -> bool:
    """Two live indexes of one base each (no segments), array for array."""
    arrays = ("offsets", "doc_ids", "codes", "table", "idf", "doc_len", "passage_ids", "article_ids", "max_impact")
    if len(a.views) != 1 or len(b.views) != 1:
        return False
    va, vb = a.views[0], b.views[0]
    return (dict(a.vocabulary) == dict(b.vocabulary)
            and all(np.array_equal(getattr(va, n), getattr(vb, n)) for n in arrays))


async def test_process_build_equals_thread_build_and_serves(tmp_path: Path, monkeypatch):
    db = tmp_path / "news.db"
    engine = await SearchEngine.open(db, RetrievalConfig())
    try:
        await engine.ingest_paths([write_jsonl(tmp_path / "news.jsonl", NEWS)])
        await engine.rebuild_index()  # in a thread: a small database
        in_thread = engine.index
        monkeypatch.setattr(engine_module, "BUILD_IN_PROCESS_MIN_PASSAGES", 0)
        info = await engine.rebuild_index()
        assert engine.index is not in_thread and same_index(engine.index, in_thread)
        assert info.passages == in_thread.n_passages and info.size_bytes == engine.index_path.stat().st_size
        result = await engine.search("أسعار النفط")
        assert result.hits and result.hits[0].article_id == "n1"
    finally:
        await engine.close()
    # The persisted index is the one a fresh process loads without rebuilding.
    reopened = await SearchEngine.open(db, RetrievalConfig())
    try:
        assert reopened.index is not None and same_index(reopened.index, in_thread)
        assert (await reopened.stats()).index.generation == info.generation
    finally:
        await reopened.close()


async def test_questions_are_answered_from_the_old_index_during_a_rebuild(tmp_path: Path, monkeypatch):
    monkeypatch.setattr(engine_module, "BUILD_IN_PROCESS_MIN_PASSAGES", 0)
    engine = await SearchEngine.open(tmp_path / "news.db", RetrievalConfig())
    try:
        await engine.ingest_paths([write_jsonl(tmp_path / "news.jsonl", NEWS)])
        build = asyncio.create_task(engine.rebuild_index())
        answers = []
        while not build.done():
            answers.append(await engine.search("هاتف آيفون"))
            await asyncio.sleep(0.005)
        await build
        assert answers and all(r.hits and r.hits[0].article_id == "n3" for r in answers)
        assert not engine.rebuilding
    finally:
        await engine.close()


def test_build_reports_the_generation_it_read(tmp_path: Path):
    async def ingest() -> None:
        async with await SearchEngine.open(tmp_path / "news.db", RetrievalConfig(), load_index=False) as e:
            await e.ingest_paths([write_jsonl(tmp_path / "news.jsonl", NEWS)], rebuild=False)

    asyncio.run(ingest())
    built = indexer.BuiltIndex(*indexing.build_base_file(tmp_path / "news.db", tmp_path / "out.npz",
                                                         bm25.BM25Params()))
    loaded = segmentfile.load_segment(tmp_path / "out.npz")
    assert built.passages == loaded.segment.size == len(NEWS) and built.generation == loaded.generation == 1
    assert built.terms == len(loaded.vocabulary)
