"""The near-real-time index against a fresh full rebuild of the same database (the oracle).

Random sequences of ingests, updates and deletions go through the real engine (SQLite, passage log,
segments, deletion marks, merges); after each step the live index must give what a full rebuild of
the database gives: the same statistics, every passage's score within 1e-9 relative, and the same
top 10 (passages and the engine's re-ranked articles), for Okapi, L and Plus.
"""

from __future__ import annotations

import asyncio
import json
import random
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from benchmarks import bm25_reference
from benchmarks.nrt import close
from benchmarks.nrt import same as same_ranking
from retrieval import bm25, indexing, passagelog, query, scoring
from retrieval.engine import RetrievalConfig, SearchEngine
from retrieval.segments import LiveIndex

WORDS = ["alpha", "beta", "gamma", "delta", "omega", "kappa", "sigma", "theta", "zeta", "lambda"]
QUERIES = [["alpha"], ["beta", "gamma"], ["omega", "kappa", "alpha"], ["zeta", "theta"], ["lambda", "sigma", "delta"],
           ["alpha", "alpha", "beta"], ["theta", "unknownword"]]
def article(number: int, paragraphs: int, seed: int) -> str:
    rng = random.Random(seed)
    # Paragraphs of ~60 words: each its own passage (the splitter merges only short ones).
    words = WORDS[: rng.randint(3, len(WORDS))]
    text = "\n\n".join(" ".join(rng.choice(words) for _ in range(rng.randint(55, 75))) for _ in range(paragraphs))
    title = " ".join(rng.choice(WORDS) for _ in range(rng.randint(0, 2)))
    return json.dumps({"id": f"art{number}", "title": title, "text": text})


def reference(db: Path, params: bm25.BM25Params) -> bm25.BM25Index:
    con = indexing.connect(db)
    try:
        rows = list(passagelog.index_inputs(con))
    finally:
        con.close()
    return bm25.build_index((t.split() for _, _, t in rows), [r[0] for r in rows], [r[1] for r in rows], params)


def live_scores(index: LiveIndex, terms: list[str]) -> dict[int, float]:
    """Every live passage's plain BM25 score for `terms`, by passage id."""
    out: dict[int, float] = {}
    weights = bm25_reference.query_weights(index.views[0], [t for t in terms if t in index.vocabulary])
    for view, seg in zip(index.views, index.segments, strict=True):
        w = {t: x for t, x in weights.items() if view.offsets[t + 1] > view.offsets[t]}
        cand, scores = scoring.score(view, w)
        for d, s in zip(cand.tolist(), scores.tolist(), strict=True):
            if seg is None or seg.live[d]:
                out[int(view.passage_ids[d])] = s
    return out


def check_against_rebuild(engine: SearchEngine) -> None:
    live = engine.index
    assert live is not None
    params = engine.config.bm25
    ref = reference(engine.db_path, params)
    ref_live = LiveIndex.of_index(ref)
    # Statistics: N, avgdl, the vocabulary, df and idf of every term.
    assert live.n_passages == ref.n_passages
    assert close(live.avgdl, ref_live.avgdl)
    assert len(live.vocabulary) == len(ref.vocabulary)
    for term, tid in ref.vocabulary.items():
        gid = live.vocabulary.get(term)
        assert gid is not None, term
        assert live.df(gid) == ref.df(tid)
        assert close(float(live.idf[gid]), float(ref.idf[tid])), (term, live.idf[gid], ref.idf[tid])
    for terms in QUERIES:
        got, want = live_scores(live, terms), live_scores(ref_live, terms)
        assert got.keys() == want.keys()
        assert all(close(got[p], want[p]) for p in want), terms
        top_got = sorted(got.items(), key=lambda x: (-x[1], x[0]))[:10]
        top_want = [(int(ref.passage_ids[d]), s) for d, s in bm25_reference.top_passages(ref, terms, 10)]
        assert same_ranking(top_got, top_want), terms
        question = " ".join(terms)
        r_got = query.rank(live, question, 10, 0, engine.config)
        r_want = query.rank(ref, question, 10, 0, engine.config)
        assert r_got.no_answer == r_want.no_answer
        assert same_ranking([(live.passage_id(p), s) for p, s in r_got.picked],
                            [(int(ref.passage_ids[p]), s) for p, s in r_want.picked]), question


OPS = st.lists(st.one_of(
    st.tuples(st.just("put"), st.integers(0, 7), st.integers(1, 3), st.integers(0, 10**6)),
    st.tuples(st.just("del"), st.integers(0, 7), st.just(0), st.just(0)),
), min_size=1, max_size=14)


async def run_sequence(db: Path, variant: str, ops: list[tuple[str, int, int, int]]) -> None:
    config = RetrievalConfig(bm25=bm25.BM25Params(variant=variant, k1=0.9, b=0.5), min_confidence=0.0)
    engine = await SearchEngine.open(db, config)
    try:
        for op, number, paragraphs, seed in ops:
            if op == "put":
                await engine.ingest_bytes(article(number, paragraphs, seed).encode(), "a.json")
            else:
                await engine.delete_article(f"art{number}")
            check_against_rebuild(engine)
        if engine._merger is not None:  # a background merge: the index it swaps in agrees too
            await asyncio.wait([engine._merger])
            check_against_rebuild(engine)
    finally:
        await engine.close()


@pytest.mark.parametrize("variant", ["okapi", "l", "plus"])
@pytest.mark.parametrize("merges", [False, True])
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=OPS)
def test_live_index_equals_a_full_rebuild(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch,
                                          variant: str, merges: bool, ops: list[tuple[str, int, int, int]]) -> None:
    # Without merges every step stays a segment or a deletion mark over the first base.
    monkeypatch.setattr(indexing, "MERGE_SHARE", 0.1 if merges else 1e9)
    monkeypatch.setattr(indexing, "DELETED_SHARE", 0.2 if merges else 1e9)
    monkeypatch.setattr(indexing, "MAX_SMALL_SEGMENTS", 2 if merges else 1000)
    db = tmp_path_factory.mktemp("oracle") / "news.db"
    asyncio.run(run_sequence(db, variant, ops))


def test_deleted_terms_leave_the_vocabulary(tmp_path: Path) -> None:
    async def run() -> None:
        engine = await SearchEngine.open(tmp_path / "news.db", RetrievalConfig())
        try:
            await engine.ingest_bytes(json.dumps({"id": "x", "text": "uniqueword " * 60}).encode(), "x.json")
            await engine.ingest_bytes(json.dumps({"id": "y", "text": "common words " * 30}).encode(), "y.json")
            assert "uniqueword" in engine.index.vocabulary
            await engine.delete_article("x")
            assert "uniqueword" not in engine.index.vocabulary
            assert engine.index.n_passages == 1
            assert (await engine.search("uniqueword")).no_answer == "unknown_terms"
            check_against_rebuild(engine)
        finally:
            await engine.close()

    asyncio.run(run())


def test_base_scores_follow_avgdl(tmp_path: Path, no_full_merges: None) -> None:
    """A passage in the base scores as a rebuild scores it after a longer passage moved the average length."""
    async def run() -> None:
        engine = await SearchEngine.open(tmp_path / "news.db", RetrievalConfig())
        try:
            await engine.ingest_bytes(json.dumps({"id": "x", "text": "alpha beta " * 40}).encode(), "x.json")
            await engine.rebuild_index()
            before = live_scores(engine.index, ["alpha"])
            await engine.ingest_bytes(json.dumps({"id": "y", "text": "gamma " * 75}).encode(), "y.json")
            after = live_scores(engine.index, ["alpha"])
            assert len(engine._nrt.segments) == 2  # the base and one segment
            assert before.keys() == after.keys() and not np.isclose(list(before.values()), list(after.values())).all()
            check_against_rebuild(engine)
        finally:
            await engine.close()

    asyncio.run(run())


@pytest.fixture
def no_full_merges(monkeypatch: pytest.MonkeyPatch) -> None:
    """Segments stay segments (on these tiny corpora any add passes the shares that rebuild the base)."""
    monkeypatch.setattr(indexing, "MERGE_SHARE", 1e9)
    monkeypatch.setattr(indexing, "DELETED_SHARE", 1e9)


def test_restart_loads_the_segments_and_replays_the_log(tmp_path: Path, no_full_merges: None) -> None:
    """Segments and deletion marks survive a restart (the tail file); what another process wrote since is applied."""
    db = tmp_path / "news.db"

    async def run() -> None:
        async with await SearchEngine.open(db, RetrievalConfig()) as engine:
            for i in range(4):
                await engine.ingest_bytes(article(i, 2, i).encode(), "a.json")
            await engine.rebuild_index()  # a base of 4 articles
            await engine.ingest_bytes(article(5, 2, 5).encode(), "a.json")  # a segment
            await engine.ingest_bytes(article(1, 1, 99).encode(), "a.json")  # base passages marked deleted
            assert len(engine._nrt.segments) == 3 and engine._nrt.deleted == 2
        assert indexing.tail_path(engine.index_path).exists()
        # Another process writes while no engine holds the index.
        async with await SearchEngine.open(db, RetrievalConfig(), load_index=False) as writer:
            await writer.ingest_bytes(article(6, 1, 6).encode(), "a.json", rebuild=False)
            await writer.delete_article("art5", rebuild=False)
        async with await SearchEngine.open(db, RetrievalConfig()) as engine:
            state = engine._nrt
            assert state is not None and state.base.n_live == 6 and len(state.segments) >= 3
            check_against_rebuild(engine)

    asyncio.run(run())


def test_a_damaged_tail_file_is_never_served(tmp_path: Path, no_full_merges: None) -> None:
    db = tmp_path / "news.db"

    async def run() -> None:
        async with await SearchEngine.open(db, RetrievalConfig()) as engine:
            await engine.ingest_bytes(article(0, 2, 0).encode(), "a.json")
            await engine.rebuild_index()
            await engine.ingest_bytes(article(1, 2, 1).encode(), "a.json")
            await engine.ingest_bytes(article(0, 1, 7).encode(), "a.json")
        tail = indexing.tail_path(db.with_name(db.name + ".index.npz"))
        good = tail.read_bytes()
        rng = random.Random(5)
        for pos in rng.sample(range(len(good)), 12):
            damaged = bytearray(good)
            damaged[pos] ^= 1 << rng.randrange(8)
            tail.write_bytes(bytes(damaged))
            async with await SearchEngine.open(db, RetrievalConfig()) as engine:
                check_against_rebuild(engine)  # the tail refused (or identical), the log replayed
            tail.write_bytes(good)

    asyncio.run(run())


def test_another_process_ingest_is_picked_up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from retrieval import upkeep as engine_module

    db = tmp_path / "news.db"
    # No look at the database on questions until the test allows it: on a loaded machine the other
    # process's ingest can outlast the usual pickup interval, and the "not yet" check would see it.
    monkeypatch.setattr(engine_module, "PICKUP_SECONDS", 1e9)

    async def run() -> None:
        async with await SearchEngine.open(db, RetrievalConfig()) as bot:
            await bot.ingest_bytes(article(0, 2, 0).encode(), "a.json")
            # The merge that first ingest starts in the background reads the database when it runs: on a
            # loaded machine it would run after the other process's ingest and take it in before the poll.
            if bot._merger is not None:
                await asyncio.wait([bot._merger])
            await bot.settle()
            assert not await bot.poll_changes()  # nothing new
            # `newsbot ingest` in another process: writes the database, loads no index.
            async with await SearchEngine.open(db, RetrievalConfig(), load_index=False) as cli:
                await cli.ingest_bytes(json.dumps({"id": "fresh", "text": "brandnewword " * 60}).encode(), "f.json",
                                       rebuild=False)
            assert (await bot.search("brandnewword")).no_answer == "unknown_terms"  # not yet: polled below
            monkeypatch.setattr(engine_module, "PICKUP_SECONDS", 0.0)
            await bot.search("anything")  # starts the background look at the database
            await asyncio.wait([bot._poller])
            result = await bot.search("brandnewword")
            assert result.hits and result.hits[0].article_id == "fresh"
            check_against_rebuild(bot)

    asyncio.run(run())


def test_many_deletions_in_one_refresh(tmp_path: Path, no_full_merges: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """A batch of updates marks its deletions in one vectorised pass: the same statistics and scores."""
    from retrieval import segments

    monkeypatch.setattr(segments, "_BULK_DELETE", 3)
    db = tmp_path / "news.db"

    async def run() -> None:
        async with await SearchEngine.open(db, RetrievalConfig()) as engine:
            await engine.ingest_bytes("\n".join(article(i, 2, i) for i in range(8)).encode(), "a.jsonl")
            await engine.rebuild_index()
            await engine.ingest_bytes("\n".join(article(i, 2, 50 + i) for i in range(10, 14)).encode(), "b.jsonl")
            # Updates of base and segment articles together, and a deletion.
            await engine.ingest_bytes("\n".join(article(i, 1, 90 + i) for i in (1, 2, 3, 11, 12)).encode(), "c.jsonl")
            await engine.delete_article("art5")
            assert engine._nrt.deleted >= 6
            check_against_rebuild(engine)

    asyncio.run(run())


def test_a_watching_engine_picks_up_another_process_without_questions(tmp_path: Path) -> None:
    db = tmp_path / "news.db"

    async def run() -> None:
        async with await SearchEngine.open(db, RetrievalConfig()) as bot:
            await bot.ingest_bytes(article(0, 1, 0).encode(), "a.json")
            bot.start_watching(interval=0.05)
            async with await SearchEngine.open(db, RetrievalConfig(), load_index=False) as cli:
                await cli.ingest_bytes(json.dumps({"id": "w", "text": "watchedword " * 60}).encode(), "w.json",
                                       rebuild=False)
            for _ in range(100):  # up to 5 s on a loaded machine; ~0.05 s normally
                if "watchedword" in bot.index.vocabulary:
                    break
                await asyncio.sleep(0.05)
            assert "watchedword" in bot.index.vocabulary
            check_against_rebuild(bot)

    asyncio.run(run())


def test_merged_segments_are_saved_soon_after_without_closing(tmp_path: Path, no_full_merges: None,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """A merge of small segments is saved to the tail file a moment later, off the add that merged them,
    so a process killed afterwards restarts from the merged segments."""
    from retrieval import upkeep

    monkeypatch.setattr(upkeep, "TAIL_SAVE_DELAY", 0.05)
    db = tmp_path / "news.db"

    async def run() -> None:
        async with await SearchEngine.open(db, RetrievalConfig()) as engine:
            for i in range(4):
                await engine.ingest_bytes(article(i, 2, i).encode(), "a.json")
            await engine.rebuild_index()
            state = engine._nrt
            rebuilt, i = state.last_merge, 10
            while state.last_merge == rebuilt:
                await engine.ingest_bytes(article(i, 1, i).encode(), "a.json")
                i += 1
            assert state.saved_seq < state.log_seq  # the add that merged did not write the tail
            await asyncio.wait_for(asyncio.shield(engine._tail_saver), 5)
            assert state.saved_seq == state.log_seq and indexing.tail_path(engine.index_path).exists()

    asyncio.run(run())
