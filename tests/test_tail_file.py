"""The tail file (retrieval/segmentfile.py): a restart rebuilds exactly the state that saved it.

The tail stores the base's deletion marks with the base's deleted postings and their count per term,
so loading it needs no pass over every posting of the base; these tests hold the loaded state to
the one in memory when it was saved, and refuse stored marks that disagree with the base.
"""

from __future__ import annotations

import asyncio
import zipfile
from pathlib import Path

import numpy as np
import pytest

from retrieval import indexfile, indexing, segmentfile
from retrieval.engine import RetrievalConfig, SearchEngine
from retrieval.segments import SegmentedIndex
from tests.test_nrt_oracle import article, check_against_rebuild


@pytest.fixture
def no_full_merges(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(indexing, "MERGE_SHARE", 1e9)
    monkeypatch.setattr(indexing, "DELETED_SHARE", 1e9)


def saved_state(db: Path) -> SegmentedIndex:
    """A database with a base, two segments and deleted passages in the base and a segment; the
    serving process's state when it closed (and saved the tail)."""

    async def run() -> SegmentedIndex:
        async with await SearchEngine.open(db, RetrievalConfig()) as engine:
            for i in range(6):
                await engine.ingest_bytes(article(i, 3, i).encode(), "a.json")
            await engine.rebuild_index()
            await engine.ingest_bytes(article(10, 2, 10).encode(), "a.json")
            await engine.ingest_bytes(article(11, 2, 11).encode(), "a.json")
            await engine.ingest_bytes(article(2, 1, 50).encode(), "a.json")  # base passages deleted
            await engine.delete_article("art4")
            await engine.ingest_bytes(article(10, 1, 51).encode(), "a.json")  # a segment's passages deleted
            state = engine._nrt
            assert state is not None and state.base.n_live < state.base.size
            return state

    return asyncio.run(run())


def test_the_loaded_tail_is_the_saved_state(tmp_path: Path, no_full_merges: None) -> None:
    db = tmp_path / "news.db"
    saved = saved_state(db)
    index_path = db.with_name(db.name + ".index.npz")
    state = indexing.load_state(index_path, RetrievalConfig().bm25)
    segmentfile.load_tail(state, indexing.tail_path(index_path))
    assert state.log_seq == saved.log_seq and len(state.segments) == len(saved.segments)
    n = len(saved.vocabulary)
    assert np.array_equal(state._df[:n], saved._df[:n]) and not state._df[n:].any()
    assert (state.n_live, state.total_len) == (saved.n_live, saved.total_len)
    for got, want in zip(state.segments, saved.segments, strict=True):
        assert np.array_equal(got.codes, want.codes) and np.array_equal(got.live, want.live)
        assert (got.n_live, got.live_len) == (want.n_live, want.live_len)

    async def reopened() -> None:
        async with await SearchEngine.open(db, RetrievalConfig()) as engine:
            assert engine._nrt is not None and engine._nrt.log_seq == saved.log_seq
            check_against_rebuild(engine)

    asyncio.run(reopened())


def test_a_tail_saved_again_after_more_deletions_has_them(tmp_path: Path, no_full_merges: None) -> None:
    """The base's deleted postings are kept between saves only while its deletions stay the same."""
    db = tmp_path / "news.db"
    index_path = db.with_name(db.name + ".index.npz")

    async def run() -> None:
        async with await SearchEngine.open(db, RetrievalConfig()) as engine:
            for i in range(6):
                await engine.ingest_bytes(article(i, 3, i).encode(), "a.json")
            await engine.rebuild_index()
            await engine.ingest_bytes(article(1, 1, 60).encode(), "a.json")
            state = engine._nrt
            assert state is not None
            segmentfile.save_tail(state, indexing.tail_path(index_path))
            await engine.delete_article("art3")
            segmentfile.save_tail(state, indexing.tail_path(index_path))
            loaded = indexing.load_state(index_path, RetrievalConfig().bm25)
            segmentfile.load_tail(loaded, indexing.tail_path(index_path))
            n = len(state.vocabulary)
            assert loaded.base.n_live == state.base.n_live < state.base.size - 3
            assert np.array_equal(loaded.base.codes, state.base.codes)
            assert np.array_equal(loaded._df[:n], state._df[:n])

    asyncio.run(run())


def test_a_tail_of_the_format_before_loads_the_same(tmp_path: Path, no_full_merges: None) -> None:
    """Format 1 (the marks without the deleted postings) is still read, finding the postings itself."""
    db = tmp_path / "news.db"
    saved = saved_state(db)
    index_path = db.with_name(db.name + ".index.npz")
    tail = indexing.tail_path(index_path)
    with np.load(tail) as data:
        header = data["header"].copy()
    header[0] = 1
    rewrite(tail, {"header": header}, drop=("base_dead_postings", "base_dead_df"))
    state = indexing.load_state(index_path, RetrievalConfig().bm25)
    segmentfile.load_tail(state, tail)
    n = len(saved.vocabulary)
    assert state.log_seq == saved.log_seq and np.array_equal(state._df[:n], saved._df[:n])
    assert np.array_equal(state.base.codes, saved.base.codes)


def rewrite(path: Path, change: dict[str, np.ndarray], drop: tuple[str, ...] = ()) -> None:
    """The tail file with some members replaced (or dropped) and its checksum made to match: a file
    whose damage the checksum cannot see, or one an older version wrote."""
    with zipfile.ZipFile(path) as archive:
        names = [n.removesuffix(".npy") for n in archive.namelist()]
    with np.load(path) as data:
        members = {name: data[name] for name in names if name != "checksum" and name not in drop}
    members.update(change)
    with open(path, "wb") as fh:
        np.savez(fh, checksum=np.array([indexfile.content_checksum(members)], dtype=np.int64), **members)


@pytest.mark.parametrize("damage", ["live posting", "count", "missing one"])
def test_stored_marks_that_disagree_with_the_base_are_refused(tmp_path: Path, no_full_merges: None,
                                                              damage: str) -> None:
    db = tmp_path / "news.db"
    saved_state(db)
    index_path = db.with_name(db.name + ".index.npz")
    tail = indexing.tail_path(index_path)
    with np.load(tail) as data:
        dead, per_term = data["base_dead_postings"], data["base_dead_df"]
    assert dead.size and per_term.sum() == dead.size
    if damage == "live posting":  # a posting of a live passage listed as deleted
        state = indexing.load_state(index_path, RetrievalConfig().bm25)
        live_posting = int(np.flatnonzero(state.base.codes != 0)[0])
        change = {"base_dead_postings": np.sort(np.append(dead[1:], live_posting))}
    elif damage == "count":
        bad = per_term.copy()
        bad[int(np.flatnonzero(bad)[0])] -= 1
        change = {"base_dead_df": bad}
    else:
        change = {"base_dead_postings": dead[1:]}
    rewrite(tail, change)
    state = indexing.load_state(index_path, RetrievalConfig().bm25)
    with pytest.raises(ValueError, match="base marks"):
        segmentfile.load_tail(state, tail)

    async def reopened() -> None:  # refused: the log since the base is replayed instead
        async with await SearchEngine.open(db, RetrievalConfig()) as engine:
            check_against_rebuild(engine)

    asyncio.run(reopened())
