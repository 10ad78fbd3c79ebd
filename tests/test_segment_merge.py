"""Segments built, merged and bounded: the in-memory merge makes exactly the segment a build of the
same live passages makes, and the bounds a refresh reuses stay bounds (retrieval/segment.py)."""

from __future__ import annotations

import asyncio
import itertools
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from retrieval import bm25, indexing, segments
from retrieval.engine import RetrievalConfig, SearchEngine
from retrieval.segment import (
    NATIVE_TERM_IDS,
    Segment,
    Vocabulary,
    build_segment,
    build_segment_from_texts,
    merge_segments,
    reference_segment_postings,
    reference_term_ids,
    segment_postings,
    term_ids,
    text_term_ids,
)
from tests.test_nrt_oracle import article, check_against_rebuild, no_full_merges  # noqa: F401 (a fixture)

PARAMS = {v: bm25.BM25Params(variant=v) for v in ("okapi", "l", "plus")}
ARRAYS = ("doc_ids", "codes", "pair_tf", "pair_dl", "doc_len", "passage_ids", "article_ids", "ref_max")

words = st.sampled_from([f"w{i}" for i in range(40)])
passage = st.lists(words, min_size=0, max_size=12)


def assert_same_segment(got: Segment, want: Segment) -> None:
    n_terms = max(got.n_terms, want.n_terms)
    np.testing.assert_array_equal(got.padded_offsets(n_terms), want.padded_offsets(n_terms))
    for name in ARRAYS:
        a, b = getattr(got, name), getattr(want, name)
        if name == "ref_max":  # per term id: the newer terms' bounds are 0
            a, b = np.pad(a, (0, n_terms - a.size)), np.pad(b, (0, n_terms - b.size))
        assert a.dtype == b.dtype, name
        np.testing.assert_array_equal(a, b, err_msg=name)
    assert got.ref_avgdl == want.ref_avgdl
    held, counts = got.held_terms()
    np.testing.assert_array_equal(held, np.flatnonzero(np.diff(want.offsets)))
    np.testing.assert_array_equal(counts, np.diff(want.offsets)[held])


@settings(max_examples=120, deadline=None)
@given(docs=st.lists(passage, min_size=1, max_size=30), cuts=st.lists(st.integers(0, 30), max_size=4),
       dead=st.lists(st.integers(0, 29), max_size=10), interleave=st.booleans(),
       variant=st.sampled_from(sorted(PARAMS)))
def test_merge_is_the_build_of_the_live_passages(docs: list[list[str]], cuts: list[int], dead: list[int],
                                                 interleave: bool, variant: str) -> None:
    params = PARAMS[variant]
    vocabulary = Vocabulary()
    pids = list(range(10, 10 + 3 * len(docs), 3))
    aids = [p // 7 for p in pids]
    bounds = sorted({0, len(docs), *(c for c in cuts if c < len(docs))})
    parts = [list(range(a, b)) for a, b in itertools.pairwise(bounds)]
    if interleave and len(parts) > 1:  # segments whose passage ids interleave: the sorting merge
        parts = [list(range(i, len(docs), len(parts))) for i in range(len(parts))]
    # Each built after the last (a refresh numbers new terms as it goes); a base holds none of them.
    state = segments.SegmentedIndex(build_segment([], [], [], vocabulary, params), vocabulary, params, 0)
    for part in parts:
        state.segments.append(build_segment([docs[i] for i in part], [pids[i] for i in part],
                                            [aids[i] for i in part], vocabulary, params, avgdl=3.5))
        state._account(state.segments[-1], +1)
    gone = {i for i in dead if i < len(docs)}
    for i in sorted(gone):
        assert state.delete(pids[i], " ".join(docs[i]))
    merged = merge_segments(state.segments[1:], 4.25, params)
    live = [i for i in range(len(docs)) if i not in gone]
    want = build_segment([docs[i] for i in live], [pids[i] for i in live], [aids[i] for i in live],
                         vocabulary, params, avgdl=4.25)
    assert_same_segment(merged, want)


def test_term_ids_number_new_terms_in_order_of_first_appearance() -> None:
    vocabulary = Vocabulary({"b": 0})
    ids = term_ids([["c", "b", "a"], [], ["a", "d", "c"]], vocabulary)
    assert ids.tolist() == [1, 0, 2, 2, 3, 1]
    assert vocabulary.ids == {"b": 0, "c": 1, "a": 2, "d": 3}


@pytest.mark.parametrize("variant", sorted(PARAMS))
def test_kept_bounds_bound_every_impact_as_avgdl_moves(variant: str) -> None:
    params = PARAMS[variant]
    rng = np.random.default_rng(7)
    docs = [[f"t{j}" for j in rng.integers(0, 50, rng.integers(1, 30))] for _ in range(60)]
    seg = build_segment(docs, range(60), range(60), Vocabulary(), params, avgdl=15.0)
    held, counts = seg.held_terms()
    terms = np.repeat(held, counts)
    first = None
    for avgdl in (15.0, 15.0004, 15.001, 16.5, 14.0, 15.0, 40.0, 15.0):
        got = seg.bounds(avgdl, seg.n_terms + 3)
        assert got.size == seg.n_terms + 3 and not got[seg.n_terms:].any()  # newer terms: no postings here
        impacts = seg.table(avgdl, params)[seg.codes]
        most = np.zeros(seg.n_terms, dtype=np.float32)
        np.maximum.at(most, terms, impacts)
        assert np.all(got[:seg.n_terms] >= most), avgdl
        # Loose by at most the kept scale's step over what the change of avgdl needs.
        need = 1.0 if avgdl == seg.ref_avgdl else max(1.0, avgdl / seg.ref_avgdl) * (1 + 1e-6)
        assert np.all(got[:seg.n_terms] <= seg.ref_max.astype(np.float64) * need * (1 + 3e-3) + 1e-7)
        if avgdl == 15.0004:
            first = got
        if avgdl == 15.001:  # a change within the step reuses the kept bounds: no new array
            assert first is not None and np.shares_memory(got, first)


def test_padded_offsets_grow_in_place_of_a_copy_per_refresh() -> None:
    vocabulary = Vocabulary()
    seg = build_segment([["a", "b"], ["b"]], [1, 2], [1, 1], vocabulary, PARAMS["okapi"])
    assert seg.padded_offsets(seg.n_terms) is seg.offsets
    wider = seg.padded_offsets(seg.n_terms + 5)
    assert wider.tolist() == [0, 1, 3, 3, 3, 3, 3, 3]
    assert np.shares_memory(seg.padded_offsets(seg.n_terms + 9), wider)
    huge = seg.padded_offsets(seg.n_terms + 100_000)
    assert huge.size == seg.n_terms + 100_001 and int(huge[-1]) == 3 and not np.shares_memory(huge, wider)


SPACES = " \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f\x85\xa0\u1680\u2000\u200a\u2028\u2029\u202f\u205f\u3000"
_TEXT = st.text(alphabet=st.sampled_from(SPACES + "abc كلمة\u200b\U0001f600é"), max_size=40) | st.text(max_size=12)


@pytest.mark.skipif(not NATIVE_TERM_IDS, reason="the C extensions are not built")
@settings(max_examples=300, deadline=None)
@given(texts=st.lists(_TEXT, max_size=8), known=st.lists(st.sampled_from(["a", "b", "كلمة", "é"]), unique=True))
def test_native_term_ids_are_the_reference(texts: list[str], known: list[str]) -> None:
    mine, theirs = Vocabulary({t: i for i, t in enumerate(known)}), Vocabulary({t: i for i, t in enumerate(known)})
    got_ids, got_lengths = text_term_ids(texts, mine)
    want_ids, want_lengths = reference_term_ids(texts, theirs)
    assert got_ids.dtype == np.int64 and got_lengths.dtype == np.int32
    assert got_ids.tolist() == want_ids.tolist() and got_lengths.tolist() == want_lengths.tolist()
    assert list(mine.ids.items()) == list(theirs.ids.items())


@pytest.mark.skipif(not NATIVE_TERM_IDS, reason="the C extensions are not built")
@settings(max_examples=100, deadline=None)
@given(calls=st.lists(st.lists(_TEXT, max_size=6), max_size=5),
       known=st.lists(st.sampled_from(["a", "b", "كلمة", "é", "abcdefghijkl", "\U0001f600"]), unique=True))
def test_native_term_ids_kept_between_calls_are_the_reference(calls: list[list[str]], known: list[str]) -> None:
    # One vocabulary across calls, as a serving process numbers one add after another: what its
    # C table remembered from a call (or from the terms it was filled with) must stay the dict's.
    mine, theirs = Vocabulary({t: i for i, t in enumerate(known)}), Vocabulary({t: i for i, t in enumerate(known)})
    for texts in calls:
        got_ids, got_lengths = text_term_ids(texts, mine)
        want_ids, want_lengths = reference_term_ids(texts, theirs)
        assert got_ids.tolist() == want_ids.tolist() and got_lengths.tolist() == want_lengths.tolist()
    assert list(mine.ids.items()) == list(theirs.ids.items())


def test_the_native_term_table_grows_and_is_bound_to_one_vocabulary() -> None:
    if not NATIVE_TERM_IDS:
        pytest.skip("the C extensions are not built")
    # Past its first size (32k entries), in both str kinds (Latin-1 and Arabic) and at the length limit.
    words = [f"w{i}" for i in range(20_000)] + [f"كل{i}" for i in range(20_000)] + ["abcdefghijk", "abcdefghijkl"]
    vocabulary = Vocabulary({w: i for i, w in enumerate(words)})
    table = vocabulary.native_cache()
    assert len(table) == len(words) - 1  # all but the 12-character one, which the dict alone holds
    # Arabic text (2-byte str, read in place) with Python's other whitespace and a token past the limit.
    texts = [" ".join(words[i::997]) + " new1\u3000كلمة_جديدة\xa0ترانسدنيستريا\x85w3 " for i in range(5)]
    got, _ = text_term_ids(texts, vocabulary)
    want = [vocabulary.ids[t] for text in texts for t in text.split()]
    assert got.tolist() == want and vocabulary.ids["new1"] == len(words)
    assert len(table) == len(words) + 1  # the two new short terms remembered (not the long one)
    # Handed another dict, the table forgets the first one's ids instead of answering with them.
    other = Vocabulary({"w5": 0})
    other._cache = table
    ids, _ = text_term_ids(["w5 w7 كل3"], other)
    assert ids.tolist() == [0, 1, 2] and len(table) == 3


@settings(max_examples=200, deadline=None)
@given(calls=st.lists(st.lists(st.tuples(_TEXT, st.booleans()), max_size=6), max_size=4),
       known=st.lists(st.sampled_from(["a", "b", "كلمة", "é", "abcdefghijkl", "\U0001f600"]), unique=True))
def test_term_ids_of_utf8_bytes_are_those_of_the_str(calls: list[list[tuple[str, bool]]], known: list[str]) -> None:
    # Texts given as their UTF-8 (an add's handed-over terms), mixed with str ones, across calls.
    mine, theirs = Vocabulary({t: i for i, t in enumerate(known)}), Vocabulary({t: i for i, t in enumerate(known)})
    for texts in calls:
        got_ids, got_lengths = text_term_ids([t.encode() if as_bytes else t for t, as_bytes in texts], mine)
        want_ids, want_lengths = reference_term_ids([t for t, _ in texts], theirs)
        assert got_ids.tolist() == want_ids.tolist() and got_lengths.tolist() == want_lengths.tolist()
    assert list(mine.ids.items()) == list(theirs.ids.items())


@pytest.mark.parametrize("bad", [b"\xff", b"ab \xd8", b"\xed\xa0\x80", b"\xe0\x80\xaf", b"\xc0\xaf",
                                 b"\xf4\x90\x80\x80"])
def test_term_ids_of_invalid_utf8_raise_before_numbering_anything(bad: bytes) -> None:
    vocabulary = Vocabulary({"a": 0})
    with pytest.raises(UnicodeDecodeError):
        text_term_ids([b"new words", "more new", bad], vocabulary)
    assert vocabulary.ids == {"a": 0}


def test_native_term_ids_refuse_what_is_not_text() -> None:
    if not NATIVE_TERM_IDS:
        pytest.skip("the C extensions are not built")
    with pytest.raises(TypeError, match=r"texts\[1\] must be str or UTF-8 bytes, not bytearray"):
        text_term_ids(["a b", bytearray(b"c")], Vocabulary())  # type: ignore[list-item]
    with pytest.raises(TypeError, match="dict"):
        text_term_ids(["a"], Vocabulary(list("ab")))  # type: ignore[arg-type]


def test_a_segment_from_stored_text_is_the_segment_of_its_tokens() -> None:
    texts = ["b a  a\u3000c", "", "c\td c"]
    one, other = Vocabulary({"z": 0}), Vocabulary({"z": 0})
    got = build_segment_from_texts(texts, [4, 5, 9], [1, 1, 2], one, PARAMS["plus"])
    want = build_segment([t.split() for t in texts], [4, 5, 9], [1, 1, 2], other, PARAMS["plus"])
    assert one.ids == other.ids
    assert_same_segment(got, want)


@pytest.mark.usefixtures("no_full_merges")
def test_an_add_is_searchable_before_its_merge_and_the_merge_changes_no_score(tmp_path: Path,
                                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """The add that makes one small segment too many returns with its segment searchable; the merge
    follows in the background (`settle` waits for it), and both indexes are a full rebuild's."""
    monkeypatch.setattr(indexing, "MAX_SMALL_SEGMENTS", 2)

    async def run() -> None:
        async with await SearchEngine.open(tmp_path / "news.db", RetrievalConfig()) as engine:
            await engine.ingest_bytes(article(0, 3, 0).encode(), "a.json")
            await engine.rebuild_index()
            for i in range(1, 4):
                await engine.settle()
                before = engine._nrt.last_merge
                await engine.ingest_bytes(article(i, 2, i).encode(), "a.json")
                held = len(engine.index.views) - 1  # segments behind the base, the new one among them
                assert engine.index.passage_id(engine.index.n_passages - 1) == max(engine.index.live_passage_ids())
                check_against_rebuild(engine)
                if i == 3:  # the third segment: one too many, merged after the add
                    assert held == 3 and engine._nrt.last_merge == before
                    await engine.settle()
                    assert len(engine.index.views) - 1 < 3 and engine._nrt.last_merge != before
                    check_against_rebuild(engine)
                else:
                    assert held == i

    asyncio.run(run())


@pytest.mark.usefixtures("no_full_merges")
def test_closing_during_a_merge_of_small_segments_saves_a_consistent_tail(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(indexing, "MAX_SMALL_SEGMENTS", 1)
    db = tmp_path / "news.db"

    async def run() -> None:
        async with await SearchEngine.open(db, RetrievalConfig()) as engine:
            await engine.ingest_bytes(article(0, 3, 0).encode(), "a.json")
            await engine.rebuild_index()
            for i in range(1, 4):
                await engine.ingest_bytes(article(i, 2, i).encode(), "a.json")
            # Closed at once: the merge the last add started is cancelled or finishes, never half-saved.
        async with await SearchEngine.open(db, RetrievalConfig()) as engine:
            assert engine.index.n_passages == 3 + 3 * 2
            check_against_rebuild(engine)

    asyncio.run(run())


@pytest.mark.usefixtures("no_full_merges")
def test_segments_saved_before_their_merge_are_merged_first(tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """A tail saved while a merge an add left to the background is pending holds the merged segments,
    so the next start does not merge before its first answer."""
    monkeypatch.setattr(indexing, "MAX_SMALL_SEGMENTS", 1)
    db = tmp_path / "news.db"

    async def run() -> None:
        async with await SearchEngine.open(db, RetrievalConfig()) as engine:
            await engine.ingest_bytes(article(0, 3, 0).encode(), "a.json")
            await engine.rebuild_index()
            for i in range(1, 3):
                await engine.settle()
                await engine.ingest_bytes(article(i, 2, i).encode(), "a.json")
            assert len(engine._nrt.segments) - 1 == 2  # the merge is not done yet
            await engine.save_segments()
            assert len(engine._nrt.segments) - 1 == 1 and len(engine.index.views) - 1 == 1
            check_against_rebuild(engine)
        merges = []
        monkeypatch.setattr(indexing, "merge_small", lambda state: merges.append(state) or False)
        async with await SearchEngine.open(db, RetrievalConfig()) as engine:
            assert len(engine.index.views) - 1 == 1 and engine.index.n_passages == 3 + 2 * 2
            check_against_rebuild(engine)
        assert all(len(s.segments) - 1 <= 1 for s in merges)

    asyncio.run(run())


# Term ids from a few to many bits (the C radix sort takes 11 bits a pass), and passages of any
# length, empty ones included.
_POSTINGS = st.integers(0, 40).flatmap(lambda n: st.tuples(
    st.lists(st.integers(0, 12), min_size=n, max_size=n),
    st.sampled_from([3, 200, 5000, 1 << 22, (1 << 31) - 1])))


@pytest.mark.skipif(not NATIVE_TERM_IDS, reason="the C extensions are not built")
@settings(max_examples=300, deadline=None)
@given(shape=_POSTINGS, seed=st.integers(0, 2**32 - 1))
def test_native_segment_postings_are_the_reference(shape: tuple[list[int], int], seed: int) -> None:
    lengths, top = shape
    rng = np.random.default_rng(seed)
    doc_len = np.array(lengths, dtype=np.int32)
    # Few distinct terms, so that a term recurs within a passage (tf > 1) and across passages.
    pool = rng.integers(0, top, size=5, endpoint=True)
    tokens = rng.choice(pool, size=int(doc_len.sum())).astype(np.int64)
    got, want = segment_postings(tokens, doc_len), reference_segment_postings(tokens, doc_len)
    for name, a, b in zip(("doc_ids", "codes", "pair_keys", "held", "counts"), got, want, strict=True):
        assert a.dtype == b.dtype, name
        np.testing.assert_array_equal(a, b, err_msg=name)


@pytest.mark.skipif(not NATIVE_TERM_IDS, reason="the C extensions are not built")
def test_native_segment_postings_of_many_pairs_are_the_reference() -> None:
    # More distinct (tf, dl) pairs than the C table first holds (1,024 slots, kept under half full).
    rng = np.random.default_rng(3)
    doc_len = rng.integers(1, 400, size=600).astype(np.int32)
    tokens = rng.zipf(1.3, size=int(doc_len.sum())).clip(0, 90_000).astype(np.int64)
    got, want = segment_postings(tokens, doc_len), reference_segment_postings(tokens, doc_len)
    assert want[2].size > 512
    for a, b in zip(got, want, strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.skipif(not NATIVE_TERM_IDS, reason="the C extensions are not built")
def test_native_segment_postings_refuse_bad_input() -> None:
    from retrieval import _scan
    tokens, lengths = np.array([1, 2, 3], dtype=np.int64), np.array([2, 1], dtype=np.int32)
    with pytest.raises(ValueError, match="doc_len sums to 2, but there are 3 tokens"):
        _scan.segment_postings(tokens, np.array([1, 1], dtype=np.int32))
    with pytest.raises(ValueError, match=r"doc_len\[0\] is negative"):
        _scan.segment_postings(tokens, np.array([-1, 4], dtype=np.int32))
    with pytest.raises(ValueError, match=r"tokens\[1\] = -5 is not a term id"):
        _scan.segment_postings(np.array([1, -5, 3], dtype=np.int64), lengths)
    with pytest.raises(ValueError, match="int64"):
        _scan.segment_postings(tokens.astype(np.int32), lengths)
    with pytest.raises(TypeError, match="doc_len must be a contiguous int32 array"):
        _scan.segment_postings(tokens, [2, 1])


@pytest.mark.parametrize("variant", ["okapi", "l", "plus"])
def test_a_segments_impact_table_is_bm25_impacts_bit_for_bit(variant: str) -> None:
    """`Segment.table` (made in C when built, `_scan.impact_table`) against numpy's `bm25._impacts`."""
    rng = np.random.default_rng(7)
    tf = np.concatenate(([0.0], rng.integers(1, 60, 5000).astype(np.float64)))
    dl = np.concatenate(([0.0], rng.integers(1, 4000, 5000).astype(np.float64)))
    for k1, b, delta in ((1.5, 0.75, None), (0.9, 0.5, 0.3), (1.2, 1.0, None), (0.0, 0.0, 2.0)):
        params = bm25.BM25Params(variant=variant, k1=k1, b=b, delta=delta)
        for avgdl in (61.37, 1.0, 1234.5678, 0.3):
            seg = Segment(offsets=np.zeros(1, dtype=np.int64), doc_ids=np.zeros(0, np.int32),
                          codes=np.zeros(0, np.uint32), pair_tf=tf, pair_dl=dl, doc_len=np.zeros(0, np.int32),
                          passage_ids=np.zeros(0, np.int64), article_ids=np.zeros(0, np.int64), ref_avgdl=avgdl,
                          ref_max=np.zeros(0, np.float32))
            got = seg.table(avgdl, params)
            want = bm25._impacts(tf[1:], dl[1:], avgdl, params).astype(np.float32)
            assert got[0] == 0.0 and np.array_equal(got[1:].view(np.uint32), want.view(np.uint32)), (k1, b, avgdl)
