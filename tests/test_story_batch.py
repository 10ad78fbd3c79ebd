"""Story grouping a batch at once: the same signatures and the same stories as one article at a time.

`stories.batch_signatures` (the C kernel, retrieval/_minhash.c) against `signature(shingles(...))`,
and `StoryIndex.assign` against `best_match` then `add` per article, on generated news: copies of
a story within a batch and across batches, edits of stored articles, undated and very short
articles, other days, and text the kernel leaves to the Python (cased letters beyond ASCII).
"""

from __future__ import annotations

import math
import random
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from retrieval import stories, storyindex
from retrieval.engine import RetrievalConfig, SearchEngine

from .conftest import write_jsonl

ARABIC = [chr(c) for c in range(0x0621, 0x064B)]
MARKS = ["\u064e", "\u064f", "\u0650", "\u0651", "\u0652", "\u0640", "\u0670", "\u0610", "\u06d6"]
FOLDED = ["أ", "إ", "آ", "ٱ", "ى", "ة", "٣", "۷", "٠"]
OTHER = ["A", "Z", "q", "_", "7", " ", " ", " ", "\n", ".", "،", "-", "«", "\u200c", "\t", "\u00a0"]
CASED = ["É", "Σ", "ß", "İ", "Ⅻ", "Ǆ", "ﬁ", "中", "𝐀", "ŉ"]


def random_text(rng: random.Random, length: int, cased: bool) -> str:
    pools = [ARABIC] * 8 + [MARKS, FOLDED, OTHER, OTHER] + ([CASED] if cased else [])
    return "".join(rng.choice(rng.choice(pools)) for _ in range(length))


def test_batch_signatures_equal_the_python_on_random_text() -> None:
    rng = random.Random(7)
    titles, bodies = [], []
    for i in range(600):
        cased = i % 5 == 0
        titles.append(random_text(rng, rng.choice([0, 1, 5, 40, 120]), cased))
        bodies.append(random_text(rng, rng.choice([0, 3, 30, 400, 700, 2000]), cased))
    titles += ["", "", "كلمة", "_", "٣"]
    bodies += ["", "واحدة", "", "__ x", "a" * 5000]
    sigs, counts = stories.batch_signatures(titles, bodies)
    for title, body, sig, count in zip(titles, bodies, sigs, counts, strict=True):
        items = stories.shingles(title, body)
        assert count == len(items)
        assert np.array_equal(sig, stories.signature(items)), (title, body)
    assert stories._native_signatures is not None, "retrieval/_minhash.c was not built"


def test_the_kernel_leaves_cased_letters_to_the_python() -> None:
    out = np.empty((3, stories.PERMUTATIONS), dtype=np.uint32)
    counts = stories._native_signatures(["Éric", "عنوان", "x"], ["نص", "ΣΑΣ", "plain text"], 640, 40, 2,
                                        stories._A, stories._B, out)
    assert counts == [-1, -1, 2]


def test_the_kernel_rejects_bad_arguments() -> None:
    out = np.empty((1, stories.PERMUTATIONS), dtype=np.uint32)
    with pytest.raises(TypeError, match="article 0"):
        stories._native_signatures([b"x"], ["y"], 640, 40, 2, stories._A, stories._B, out)
    with pytest.raises(ValueError, match="differ in length"):
        stories._native_signatures(["x"], [], 640, 40, 2, stories._A, stories._B, out)
    with pytest.raises(ValueError, match="out must hold"):
        stories._native_signatures(["x", "y"], ["a", "b"], 640, 40, 2, stories._A, stories._B, out)


def news(rng: random.Random, n: int) -> list[tuple[str, str, str, float]]:
    """(id, title, body, stamp) of articles: ~60 stories, each run by a few outlets with light edits."""
    vocab = ["".join(rng.choice(ARABIC) for _ in range(rng.randint(3, 7))) for _ in range(400)]
    leads = [[rng.choice(vocab) for _ in range(rng.choice([8, 50, 50, 50]))] for _ in range(60)]
    out = []
    for i in range(n):
        story = rng.randrange(len(leads))
        words = list(leads[story])
        for _ in range(rng.randint(0, 12)):  # an outlet's rewrite: some words replaced
            words[rng.randrange(len(words))] = rng.choice(vocab)
        day = story % 7 + rng.choice([0, 0, 0, 1, 5])
        stamp = float("nan") if rng.random() < 0.1 else 1.6e9 + day * 86400.0 + rng.randint(0, 80000)
        out.append((f"a{i}", " ".join(words[:6]), " ".join(words[6:]), stamp))
    return out


def one_at_a_time(index: storyindex.StoryIndex, batch: list[tuple[str, str, str, float]]) -> list[str]:
    out = []
    for key, title, body, stamp in batch:
        sig, threshold = stories.signature_and_threshold(title, body)
        match = index.best_match(sig, stamp, exclude=key, threshold=threshold)
        out.append(match[1] if match else key)
        index.add(key, sig, stamp, out[-1])
    return out


def batched(index: storyindex.StoryIndex, batch: list[tuple[str, str, str, float]]) -> list[str]:
    sigs, counts = stories.batch_signatures([b[1] for b in batch], [b[2] for b in batch])
    return index.assign([b[0] for b in batch], sigs, np.array([b[3] for b in batch]), stories.thresholds(counts))


@pytest.mark.parametrize("batch_size", [1, 7, 50, 300])
def test_assign_groups_as_one_at_a_time_does(monkeypatch, batch_size: int) -> None:
    monkeypatch.setattr(storyindex, "MERGE_EVERY", 40 * stories.BANDS)  # merges happen along the way
    rng = random.Random(batch_size)
    articles = news(rng, 900)
    # Edits: stored articles come again, changed (their old slot must not be matched once replaced).
    for _ in range(120):
        key, title, body, stamp = rng.choice(articles[:600])
        articles.insert(rng.randrange(600, len(articles)), (key, title, body + " " + rng.choice(ARABIC) * 4, stamp))
    seq, bat = storyindex.StoryIndex(capacity=16), storyindex.StoryIndex(capacity=16)
    seq_stories, bat_stories = [], []
    for start in range(0, len(articles), batch_size):
        chunk = articles[start:start + batch_size]
        if len({a[0] for a in chunk}) < len(chunk):  # ingest's batches hold distinct ids
            chunk = list({a[0]: a for a in chunk}.values())
        seq_stories += one_at_a_time(seq, chunk)
        bat_stories += batched(bat, chunk)
    assert seq_stories == bat_stories
    joined = sum(s != a[0] for s, a in zip(seq_stories, articles, strict=False))
    assert joined > 300  # the fixture does group: the comparison is not between two lists of own ids
    assert seq._keys == bat._keys and seq._stories == bat._stories and seq._slot == bat._slot
    assert np.array_equal(seq._alive[:len(seq._keys)], bat._alive[:len(bat._keys)])
    for _, title, body, stamp in articles[:200]:
        sig, threshold = stories.signature_and_threshold(title + " x", body)
        assert seq.best_match(sig, stamp, threshold=threshold) == bat.best_match(sig, stamp, threshold=threshold)


def test_a_batch_of_one_storys_copies_is_grouped_in_halves(monkeypatch) -> None:
    monkeypatch.setattr(storyindex, "MAX_BATCH_PAIRS", 100)
    rng = random.Random(3)
    copies = [(f"c{i}", "عنوان الخبر نفسه", "نص الخبر المنقول كما هو " * 8, 1.6e9 + i) for i in range(60)]
    mixed = copies + news(rng, 60)
    rng.shuffle(mixed)
    assert batched(storyindex.StoryIndex(), mixed) == one_at_a_time(storyindex.StoryIndex(), mixed)


def test_duplicate_ids_in_one_batch_act_as_one_at_a_time() -> None:
    rng = random.Random(5)
    batch = news(rng, 40)
    batch += [(batch[3][0], batch[10][1], batch[10][2], batch[10][3]), *batch[:5]]
    assert batched(storyindex.StoryIndex(), batch) == one_at_a_time(storyindex.StoryIndex(), batch)


async def test_ingest_stores_the_per_article_signatures_and_stories(tmp_path: Path) -> None:
    """Through the engine (a batch per ingest), the rows are what one article at a time gives."""
    rng = random.Random(11)
    articles = news(rng, 300)
    records = [{"id": key, "title": title, "text": body or "نص", "source": "s",
                "published": "" if math.isnan(stamp) else datetime.fromtimestamp(stamp, UTC).isoformat()}
               for key, title, body, stamp in articles]
    db = tmp_path / "news.db"
    async with await SearchEngine.open(db, RetrievalConfig(), load_index=False) as engine:
        await engine.ingest_paths([write_jsonl(tmp_path / "a.jsonl", records)], rebuild=False)
    with sqlite3.connect(db) as con:
        stored = {r[0]: (r[1], r[2]) for r in con.execute("SELECT article_id, story, signature FROM stories")}
        bodies = {r[0]: (r[1], r[2]) for r in con.execute("SELECT id, title, body FROM articles")}
    index = storyindex.StoryIndex()
    expected = one_at_a_time(index, [(key, *bodies[key], stamp) for key, _, _, stamp in articles])
    for (key, _, _, _), story in zip(articles, expected, strict=True):
        assert stored[key][0] == story
        assert stored[key][1] == stories.article_signature(*bodies[key]).tobytes()
    assert sum(s != a[0] for s, a in zip(expected, articles, strict=True)) > 100


def test_an_index_loaded_in_chunks_finds_what_one_grown_by_adds_finds(monkeypatch) -> None:
    monkeypatch.setattr(storyindex, "_BUILD_CHUNK", 16)  # several chunks and passes over them
    rng = random.Random(13)
    articles = news(rng, 200)
    grown = storyindex.StoryIndex(capacity=8)
    assigned = batched(grown, articles)
    sigs, _ = stories.batch_signatures([a[1] for a in articles], [a[2] for a in articles])
    loaded = storyindex.StoryIndex(capacity=8)
    for start in range(0, len(articles), 37):  # as StoryKeeper.load streams the stored rows
        part = slice(start, start + 37)
        loaded.extend_unsorted([a[0] for a in articles[part]], sigs[part], np.array([a[3] for a in articles[part]]),
                               assigned[part])
    loaded.sort_keys()
    assert np.array_equal(loaded._sorted_keys, np.sort(stories.band_keys(sigs).ravel()))
    for key, title, body, stamp in articles:
        sig, threshold = stories.signature_and_threshold(title + " ب", body)
        assert (loaded.best_match(sig, stamp, exclude=key, threshold=threshold)
                == grown.best_match(sig, stamp, exclude=key, threshold=threshold))
    more = news(random.Random(14), 60)
    assert batched(loaded, more) == batched(grown, more)


async def test_a_serving_engine_loads_the_story_index_before_its_first_add(tmp_path: Path, monkeypatch) -> None:
    from retrieval import storygroups

    monkeypatch.setattr(storygroups, "LOAD_CHUNK", 3)
    from .test_stories import ARTICLES

    db = tmp_path / "news.db"
    async with await SearchEngine.open(db, RetrievalConfig()) as engine:
        await engine.ingest_paths([write_jsonl(tmp_path / "a.jsonl", ARTICLES[:1] + ARTICLES[3:])])
    async with await SearchEngine.open(db, RetrievalConfig()) as engine:
        await engine.load_stories()
        index = engine._stories._index
        assert index is not None and len(index) == 2
        await engine.ingest_paths([write_jsonl(tmp_path / "b.jsonl", ARTICLES[1:3])])
        assert engine._stories._index is index  # not loaded again
    with sqlite3.connect(db) as con:
        assert dict(con.execute("SELECT article_id, story FROM stories")) == {
            "w1": "w1", "w2": "w1", "w3": "w1", "o1": "o1"}


def test_without_the_kernel_the_python_signs_the_batch(monkeypatch) -> None:
    rng = random.Random(17)
    titles = [random_text(rng, 30, False) for _ in range(20)]
    bodies = [random_text(rng, 300, False) for _ in range(20)]
    native = stories.batch_signatures(titles, bodies)
    monkeypatch.setattr(stories, "_native_signatures", None)
    python = stories.batch_signatures(titles, bodies)
    assert np.array_equal(native[0], python[0]) and np.array_equal(native[1], python[1])


async def test_a_failed_grouping_reloads_the_index_from_the_file(tmp_path: Path, monkeypatch) -> None:
    from .test_stories import ARTICLES

    db = tmp_path / "news.db"
    async with await SearchEngine.open(db, RetrievalConfig()) as engine:
        await engine.load_stories()  # a serving process's whole index (a CLI's window is never kept)
        await engine.ingest_paths([write_jsonl(tmp_path / "a.jsonl", ARTICLES[:1])])
        loaded = engine._stories._index

        def broken(self, *args, **kwargs):
            raise MemoryError("no room for the batch")

        monkeypatch.setattr(storyindex.StoryIndex, "assign", broken)
        try:
            await engine.ingest_paths([write_jsonl(tmp_path / "b.jsonl", ARTICLES[1:2])])
        except MemoryError:
            pass
        else:
            raise AssertionError("the grouping error did not reach the caller")
        assert engine._stories._index is None and loaded is not None
        with sqlite3.connect(db) as con:  # the article went back with its story row: nothing half-written
            assert con.execute("SELECT count(*) FROM articles WHERE id = 'w2'").fetchone() == (0,)
        monkeypatch.undo()
        await engine.ingest_paths([write_jsonl(tmp_path / "c.jsonl", ARTICLES[2:])])  # reloads, then groups
        await engine.ingest_paths([tmp_path / "b.jsonl"])  # the failed file again, whole this time
    with sqlite3.connect(db) as con:
        rows = dict(con.execute("SELECT article_id, story FROM stories"))
    assert rows["w1"] == rows["w2"] == rows["w3"] == "w1" and rows["o1"] == "o1"


async def test_another_reader_never_sees_an_article_without_its_story(tmp_path: Path, monkeypatch) -> None:
    # A serving process picks up what another wrote as soon as it is committed; an article seen
    # before its story row would be answered as a story of its own (its copies listed apart).
    from retrieval import newsstore

    from .test_stories import ARTICLES

    db = tmp_path / "news.db"
    seen_while_grouping = []
    real_write = newsstore.write_story_rows

    async def write_story_rows(con, rows, *args):
        with sqlite3.connect(db) as other:
            seen_while_grouping.append(other.execute("SELECT count(*) FROM articles").fetchone()[0])
        await real_write(con, rows, *args)

    monkeypatch.setattr(newsstore, "write_story_rows", write_story_rows)
    async with await SearchEngine.open(db, RetrievalConfig()) as engine:
        await engine.ingest_paths([write_jsonl(tmp_path / "a.jsonl", ARTICLES[:2])])
        await engine.ingest_paths([write_jsonl(tmp_path / "b.jsonl", ARTICLES[2:])])
    assert seen_while_grouping == [0, 2]
    with sqlite3.connect(db) as con:
        assert con.execute("SELECT count(*) FROM articles a JOIN stories s ON s.article_id = a.id").fetchone() == (
            len(ARTICLES),)


def test_native_lookup_finds_the_same_pairs_as_numpy(monkeypatch) -> None:
    """StoryIndex._lookup through retrieval/_minhash.c's sorted_matches against its numpy version: keys
    held several times (in the big array and in recent runs), keys past either end, repeated queries."""
    assert storyindex._native_matches is not None, "retrieval/_minhash.c was not built"
    rng = np.random.default_rng(7)
    for trial in range(30):
        # Few distinct key values, so most are held many times and queried more than once.
        n = int(rng.integers(1, 400))
        sigs = rng.integers(0, 4 if trial % 2 else 1 << 32, size=(n, stories.PERMUTATIONS)).astype(np.uint32)
        index = storyindex.StoryIndex.bulk([f"a{i}" for i in range(n)], sigs, np.full(n, np.nan),
                                           [f"a{i}" for i in range(n)])
        extra = int(rng.integers(0, 50))
        for j in range(extra):  # recent runs beside the big array
            index.add(f"b{j}", sigs[int(rng.integers(0, n))], math.nan, f"b{j}")
        stored = np.concatenate([index._sorted_keys, *(k for k, _ in index._recent)])
        queries = np.sort(np.concatenate([rng.choice(stored, size=min(300, stored.size)),
                                          rng.integers(0, 1 << 63, size=100, dtype=np.uint64),
                                          np.array([0, np.iinfo(np.uint64).max], dtype=np.uint64)]))
        rows = rng.integers(0, 50, size=queries.size).astype(np.int64)
        native = index._lookup(queries, rows)
        monkeypatch.setattr(storyindex, "_native_matches", None)
        numpy = index._lookup(queries, rows)
        monkeypatch.undo()
        assert native[0].size > 0
        assert np.array_equal(native[0], numpy[0]) and np.array_equal(native[1], numpy[1])
    with pytest.raises(ValueError, match="uint64"):
        storyindex._native_matches(b"1234567", b"")


def test_native_matches_with_uneven_tables_are_every_equal_pair() -> None:
    """sorted_matches, galloping or bracketing each key in a sample of the table first: tables whose
    values are far from evenly spread (clusters, long runs of one value across sample entries, both
    ends of the range) must still give every (key, entry) pair, as a plain search does."""
    assert storyindex._native_matches is not None, "retrieval/_minhash.c was not built"
    rng = np.random.default_rng(11)
    top = np.iinfo(np.uint64).max
    for trial in range(200):
        parts = [rng.integers(0, 1 << 63, size=int(rng.integers(0, 300)), dtype=np.uint64),
                 np.full(int(rng.integers(0, 40)), rng.integers(0, 1 << 63, dtype=np.uint64), dtype=np.uint64),
                 (rng.integers(0, 1000, size=int(rng.integers(0, 300))) + (trial % 7) * (1 << 60)).astype(np.uint64),
                 np.array([0, top][: trial % 3], dtype=np.uint64)]
        table = np.sort(np.concatenate(parts))
        if table.size == 0:
            continue
        keys = np.sort(np.concatenate([rng.choice(table, size=int(rng.integers(1, 60))),
                                       rng.integers(0, 1 << 63, size=20, dtype=np.uint64),
                                       np.array([0, top], dtype=np.uint64)]))
        want = [(i, j) for i, key in enumerate(keys)  # uint64 scalars: a Python int would be searched as a float
                for j in range(int(np.searchsorted(table, key, "left")), int(np.searchsorted(table, key, "right")))]
        for stride in (None, 1, 3, 64):
            extra = () if stride is None else (table[::stride].copy(), stride)
            found, at = (np.frombuffer(b, dtype=np.int64) for b in storyindex._native_matches(table, keys, *extra))
            assert list(zip(found.tolist(), at.tolist(), strict=True)) == want, (trial, stride)
    table = np.arange(100, dtype=np.uint64)
    with pytest.raises(ValueError, match="sample"):
        storyindex._native_matches(table, table, table[::4].copy(), 5)


def test_native_agreements_are_the_numpy_comparison(monkeypatch) -> None:
    """StoryIndex._verify through _minhash.agreements against its numpy expression: the same pairs
    pass with the same similarities (signatures sharing a few, many or all values; dated or not)."""
    native_agreements = storyindex._native_agreements
    assert native_agreements is not None, "retrieval/_minhash.c was not built"
    rng = np.random.default_rng(5)
    table = rng.integers(0, 3, size=(300, stories.PERMUTATIONS)).astype(np.uint32)
    sigs = np.concatenate([table[:20], rng.integers(0, 3, size=(20, stories.PERMUTATIONS)).astype(np.uint32)])
    stamps = np.where(rng.random(40) < 0.2, np.nan, rng.integers(0, 10, 40) * 86400.0)
    table_stamps = np.where(rng.random(300) < 0.2, np.nan, rng.integers(0, 10, 300) * 86400.0)
    thresholds = rng.uniform(0.3, 0.9, 40)
    rows, others = rng.integers(0, 40, 5000), rng.integers(0, 300, 5000)
    native = storyindex.StoryIndex._verify(sigs, stamps, thresholds, rows, table, table_stamps, others)
    monkeypatch.setattr(storyindex, "_native_agreements", None)
    numpy = storyindex.StoryIndex._verify(sigs, stamps, thresholds, rows, table, table_stamps, others)
    assert np.array_equal(native[0], numpy[0]) and np.array_equal(native[1], numpy[1]) and native[0].any()
    with pytest.raises(IndexError, match="out of range"):
        native_agreements(table, np.array([300], dtype=np.int64), table, np.array([0], dtype=np.int64),
                          stories.PERMUTATIONS)


def copies_of(rng: np.random.Generator, bases: np.ndarray, n: int) -> np.ndarray:
    """Signatures that are copies of `bases` with 0 to ~50 of their values changed (exact copies,
    near-copies, rewrites, and values drawn from few, so that similarities tie and keys collide)."""
    sigs = bases[rng.integers(0, bases.shape[0], n)].copy()
    for row in sigs:
        changed = rng.choice(stories.PERMUTATIONS, size=int(rng.choice([0, 0, 1, 3, 12, 40, 90])), replace=False)
        row[changed] = rng.integers(0, 6, changed.size)
    return sigs


@pytest.mark.parametrize("days", [6, 14])
@pytest.mark.parametrize("seed", range(6))
def test_native_best_matches_choose_as_the_numpy_does(monkeypatch, seed: int, days: int) -> None:
    """assign through _minhash.best_matches (which stops verifying once no candidate left could win,
    and passes over candidates published days apart by their day numbers) against its numpy path,
    over exact copies (ties broken by slot), near-copies, short texts, undated articles, publication
    times over `days` days (at the start, middle and end of a day, so that pairs fall on both sides of
    MAX_DAYS_APART by a second), edits of stored and batch articles, and a big array beside recent runs."""
    assert storyindex._native_best is not None, "retrieval/_minhash.c was not built"
    monkeypatch.setattr(storyindex, "MERGE_EVERY", 30 * stories.BANDS)
    rng = np.random.default_rng(seed)
    bases = rng.integers(0, 1 << 32 if seed % 2 else 8, size=(12, stories.PERMUTATIONS)).astype(np.uint32)
    native, numpy = storyindex.StoryIndex(capacity=8), storyindex.StoryIndex(capacity=8)
    ids = [f"a{i}" for i in range(150)]
    joined = 0
    for batch in range(40):
        n = int(rng.choice([1, 2, 9, 23, 40]))
        keys = list(dict.fromkeys(rng.choice(ids[:20 + 4 * batch], size=n).tolist()))
        sigs = copies_of(rng, bases, len(keys))
        stamps = np.where(rng.random(len(keys)) < 0.15, np.nan, rng.integers(0, days, len(keys)) * 86400.0
                          + rng.choice([0.0, 1.0, 43200.0, 86399.0], len(keys)))
        thresholds = np.where(rng.random(len(keys)) < 0.2, stories.SHORT_THRESHOLD, stories.THRESHOLD)
        if batch == 20:
            native.sort_keys()
            numpy.sort_keys()
        got = native.assign(keys, sigs, stamps, thresholds)
        monkeypatch.setattr(storyindex, "_native_best", None)
        want = numpy.assign(keys, sigs, stamps, thresholds)
        monkeypatch.undo()
        monkeypatch.setattr(storyindex, "MERGE_EVERY", 30 * stories.BANDS)
        assert got == want, batch
        joined += sum(s != k for s, k in zip(got, keys, strict=True))
    assert joined > 200
    assert native._stories == numpy._stories and native._slot == numpy._slot


def test_native_best_matches_rejects_bad_arguments() -> None:
    index = storyindex.StoryIndex()
    index.add("a", np.zeros(stories.PERMUTATIONS, dtype=np.uint32), 0.0, "a")
    sig = np.zeros((1, stories.PERMUTATIONS), dtype=np.uint32)
    keys = np.sort(stories.band_keys(sig).ravel())
    rows = np.zeros(keys.size, dtype=np.int64)
    width = len(index._keys)
    args = [[(index._sorted_keys, index._sorted_slots), *index._recent], None, 64, index._filter,
            storyindex.FILTER_BITS, keys, rows, sig, np.zeros(1), np.full(1, 0.3), index._sigs[:width],
            index._stamps[:width], index._days[:width], index._alive[:width].view(np.uint8),
            np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64), 3 * 86400.0, 0.9, stories.BANDS]
    found = np.frombuffer(storyindex._native_best(*args), dtype=np.int64)
    assert found.tolist() == [0, stories.PERMUTATIONS, -1, -1]
    bad = list(args)
    bad[6] = np.full(keys.size, 1, dtype=np.int64)  # rows past the batch
    with pytest.raises(ValueError, match="key_rows"):
        storyindex._native_best(*bad)
    bad = list(args)
    bad[5] = keys[::-1].copy()
    with pytest.raises(ValueError, match="ascend"):
        storyindex._native_best(*bad)
    bad = list(args)
    bad[13] = np.ones(width + 1, dtype=np.uint8)
    with pytest.raises(ValueError, match="inconsistent"):
        storyindex._native_best(*bad)
    bad = list(args)
    bad[12] = np.zeros(width + 1, dtype=np.int16)  # a day number per slot
    with pytest.raises(ValueError, match="inconsistent"):
        storyindex._native_best(*bad)
    # The big array sampled: the sample with its radix, which must keep every search inside the sample.
    index.sort_keys()
    sampled = list(args)
    sampled[0], sampled[3] = [(index._sorted_keys, index._sorted_slots)], index._filter
    sampled[1] = index._sample_radix()
    found = np.frombuffer(storyindex._native_best(*sampled), dtype=np.int64)
    assert found.tolist() == [0, stories.PERMUTATIONS, -1, -1]
    sample, radix = index._sample_radix()
    for wrong in (radix[::-1].copy(), radix[:-1].copy(), radix + 1, np.append(radix, radix[-1])):
        bad = list(sampled)
        bad[1] = (sample, wrong)
        with pytest.raises(ValueError, match="radix"):
            storyindex._native_best(*bad)


@pytest.mark.parametrize("stored", [True, False])
def test_native_best_matches_find_an_equal_match_with_a_lower_number_in_a_later_band(monkeypatch, stored) -> None:
    """Two matches agreeing on all values but one, each in another band: whichever band is looked at
    first shows only one of them, and the other (as similar, and first in best_match's order when
    its number is lower) must still be found before the search stops."""
    rng = np.random.default_rng(3)
    base = rng.integers(0, 1 << 32, stories.PERMUTATIONS).astype(np.uint32)
    # Bands looked at in order of how many stored keys they match, then by key: the band of the
    # smallest key comes first when nothing is stored.
    smallest = int(np.argmin(stories.band_keys(base[None, :])[0])) * stories.ROWS
    other = (smallest + 7 * stories.ROWS) % stories.PERMUTATIONS
    for first, second in [(0, 2), (2, 0), (5, 100), (100, 5), (smallest, other), (other, smallest)]:
        a, b = base.copy(), base.copy()
        a[first] ^= 1
        b[second] ^= 1
        results = []
        for native in (True, False):
            if not native:
                monkeypatch.setattr(storyindex, "_native_best", None)
            index = storyindex.StoryIndex()
            # a and b four days apart (two stories), the new article two days from each.
            day = 86400.0
            keys, sigs, stamps = ["new"], base[None, :], np.array([2 * day])
            if stored:
                index.assign(["a"], a[None, :], np.zeros(1), np.full(1, stories.THRESHOLD))
                index.assign(["b"], b[None, :], np.full(1, 4 * day), np.full(1, stories.THRESHOLD))
            else:
                keys, sigs, stamps = ["a", "b", "new"], np.stack([a, b, base]), np.array([0, 4 * day, 2 * day])
            results.append(index.assign(keys, sigs, stamps, np.full(len(keys), stories.THRESHOLD)))
            monkeypatch.undo()
        assert results[0] == results[1]
        assert results[0][-1] == "a" and (stored or results[0][1] == "b")


def test_native_merge_of_runs_is_numpys_insert(monkeypatch) -> None:
    """StoryIndex's recent runs merged through _minhash.merge_runs against np.insert: equal keys
    (the first run's before the second's), empty runs, one run past the other."""
    assert storyindex._native_merge is not None, "retrieval/_minhash.c was not built"
    rng = np.random.default_rng(9)
    for trial in range(100):
        sizes = rng.integers(0, 200, 2) if trial % 10 else (0, int(rng.integers(0, 50)))
        runs = []
        for size, offset in zip(sizes, (0, (trial % 3) * 50), strict=True):
            keys = np.sort(rng.integers(0, 60, int(size)).astype(np.uint64) + np.uint64(offset))
            runs += [keys, rng.integers(-5, 1 << 30, keys.size).astype(np.int32)]
        native = storyindex._merge_runs(*runs)
        monkeypatch.setattr(storyindex, "_native_merge", None)
        numpy = storyindex._merge_runs(*runs)
        monkeypatch.undo()
        assert np.array_equal(native[0], numpy[0]) and np.array_equal(native[1], numpy[1])
    with pytest.raises(ValueError, match="merge_runs"):
        storyindex._native_merge(np.zeros(2, dtype=np.uint64), np.zeros(2, dtype=np.int32),
                                 np.zeros(1, dtype=np.uint64), np.zeros(1, dtype=np.int32),
                                 np.zeros(2, dtype=np.uint64), np.zeros(3, dtype=np.int32))


def test_native_filter_marks_the_bits_numpy_marks(monkeypatch) -> None:
    native_mark = storyindex._native_mark
    assert native_mark is not None, "retrieval/_minhash.c was not built"
    rng = np.random.default_rng(4)
    keys = np.sort(np.concatenate([rng.integers(0, 1 << 63, 70_000, dtype=np.uint64) * np.uint64(2),
                                   np.array([0, np.iinfo(np.uint64).max], dtype=np.uint64)]))
    native = storyindex.StoryIndex()
    native._mark(keys)
    monkeypatch.setattr(storyindex, "_native_mark", None)
    numpy = storyindex.StoryIndex()
    numpy._mark(keys)
    assert np.array_equal(native._filter, numpy._filter) and native._maybe_stored(keys).all()
    with pytest.raises(ValueError, match="mark_filter"):
        native_mark(np.zeros(3, dtype=np.uint8), keys, storyindex.FILTER_BITS)


def test_native_best_matches_over_a_big_sampled_array(monkeypatch) -> None:
    """A key array big enough to be searched through its sample, with exact and near copies of the
    stored articles (settled by their first key, or searched in full) and articles new to it."""
    rng = np.random.default_rng(21)
    n = 1200
    bases = rng.integers(0, 1 << 32, size=(n, stories.PERMUTATIONS)).astype(np.uint32)
    stamps = rng.integers(0, 3, n) * 86400.0
    ids = [f"s{i}" for i in range(n)]
    new = rng.integers(0, 1 << 32, size=(40, stories.PERMUTATIONS)).astype(np.uint32)
    batch_sigs = np.concatenate([copies_of(rng, bases, 300), bases[:30], new])
    keys = [f"new{i}" for i in range(batch_sigs.shape[0])]
    batch_stamps = rng.integers(0, 3, len(keys)) * 86400.0
    thresholds = np.full(len(keys), stories.THRESHOLD)
    results = []
    for native in (True, False):
        if not native:
            monkeypatch.setattr(storyindex, "_native_best", None)
        index = storyindex.StoryIndex.bulk(ids + ids[:30], np.concatenate([bases, bases[:30]]),
                                           np.concatenate([stamps, stamps[:30]]), ids + [f"c{i}" for i in range(30)])
        assert index._sorted_keys.size >= 16 * storyindex._SAMPLE_STRIDE
        results.append(index.assign(keys, batch_sigs, batch_stamps, thresholds))
    assert results[0] == results[1]
    assert sum(s[0] in "sc" for s in results[0]) > 250


async def test_new_articles_story_rows_are_plain_inserts_and_edited_ones_replaced(tmp_path: Path, monkeypatch) -> None:
    """New articles' rows go in with a plain INSERT (no row can be there: it went with any earlier
    article of that id); an edited article's row is replaced, taking the next rowid as before."""
    from retrieval import newsstore

    from .test_stories import ARTICLES

    statements: list[str] = []
    real_write = newsstore.write_story_rows

    async def write_story_rows(con, rows, fresh=()):
        real_executemany = con.executemany

        async def executemany(sql, params):
            statements.append(sql.split(" INTO")[0])
            return await real_executemany(sql, params)

        monkeypatch.setattr(con, "executemany", executemany)
        try:
            await real_write(con, rows, fresh)
        finally:
            monkeypatch.undo()

    db = tmp_path / "news.db"
    async with await SearchEngine.open(db, RetrievalConfig()) as engine:
        monkeypatch.setattr(newsstore, "write_story_rows", write_story_rows)
        await engine.ingest_paths([write_jsonl(tmp_path / "a.jsonl", ARTICLES[:2])])
        monkeypatch.setattr(newsstore, "write_story_rows", write_story_rows)
        edited = dict(ARTICLES[0], title=ARTICLES[0]["title"] + " (محدث)")
        await engine.ingest_paths([write_jsonl(tmp_path / "b.jsonl", [edited, ARTICLES[2]])])
    assert statements == ["INSERT", "INSERT OR REPLACE"]
    with sqlite3.connect(db) as con:
        assert [r[0] for r in con.execute("SELECT article_id FROM stories ORDER BY rowid")] == ["w2", "w1", "w3"]
        assert {r[0] for r in con.execute("SELECT story FROM stories")} == {"w1"}  # one story, as before
