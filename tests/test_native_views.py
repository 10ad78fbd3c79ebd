"""`query.leading_passages` in one C call over every view (`topk.ViewsKernel`, retrieval/_topk.c) against
its Python specification `query._leading_passages` (a kernel call per view): the same (view, passage) pairs
in the same order, on live indexes with segments and deleted passages."""

import os
import random
import threading

import numpy as np
import pytest

from retrieval import bm25, query, segment, segments, topk

pytestmark = pytest.mark.skipif(not topk.NATIVE_TOPK and os.environ.get("NEWSBOT_ALLOW_PURE_PYTHON") == "1",
                                reason="native top-k kernel not built, allowed by NEWSBOT_ALLOW_PURE_PYTHON=1")


def live_index(rng: random.Random, params: bm25.BM25Params, vocab: list[str], articles: int = 200,
               segment_sizes: tuple[int, ...] = (30, 12), deleted: int = 40,
               per_article: tuple[int, int] = (1, 6)) -> segments.LiveIndex:
    """A base and segments (shared term ids, coded impacts), some passages deleted, Zipfian words."""
    weights = [1 / (i + 1) for i in range(len(vocab))]
    docs: list[list[str]] = []
    ids: list[int] = []

    def add_articles(first: int, count: int) -> tuple[list[list[str]], list[int]]:
        out, out_ids = [], []
        for article in range(first, first + count):
            for _ in range(rng.randint(*per_article)):
                out.append(rng.choices(vocab, weights, k=rng.randint(2, 20)))
                out_ids.append(article)
        return out, out_ids

    docs, ids = add_articles(0, articles)
    vocabulary = segment.Vocabulary()
    state = segments.SegmentedIndex(segment.build_segment(docs, range(len(docs)), ids, vocabulary, params),
                                    vocabulary, params, 0)
    everything = list(docs)
    first = articles
    for size in segment_sizes:
        more, more_ids = add_articles(first, size)
        state.add(more, range(len(everything), len(everything) + len(more)), more_ids)
        everything += more
        first += size
    for pid in rng.sample(range(len(everything)), min(deleted, len(everything) - 1)):
        assert state.delete(pid, " ".join(everything[pid]))
    return state.snapshot()


def random_weights(rng: random.Random, live: segments.LiveIndex, vocab: list[str]) -> dict[int, float]:
    words = [w for w in rng.sample(vocab, rng.choice([1, 2, 3, 5, 9])) if w in live.vocabulary]
    return {live.vocabulary[w]: rng.choice([1.0, 2.0, 0.6, 0.35]) for w in words}


def assert_clean(kernel: topk.ViewsKernel) -> None:
    buf = kernel._scratch.buf
    assert not buf.any()


@pytest.mark.parametrize("variant", bm25.VARIANTS)
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_one_call_equals_a_call_per_view(variant: str, seed: int) -> None:
    rng = random.Random(seed)
    vocab = [f"w{i}" for i in range(40)]
    # Okapi with epsilon 0 floors the idf of words in most passages at 0: factors that are not positive,
    # where a deleted passage may outrank live ones and a view is asked for all its articles.
    params = bm25.BM25Params(variant=variant, epsilon=rng.choice([0.0, 0.25]))
    live = live_index(rng, params, vocab)
    assert len(live.views) == 3 and live.deleted
    kernel = live.derived("views_kernel", query._views_kernel)
    assert isinstance(kernel, topk.ViewsKernel)
    for _ in range(60):
        weights = random_weights(rng, live, vocab)
        if not weights:
            continue
        for depth in (1, 3, 8, 30, 10_000):
            want = query._leading_passages(live, weights, depth)
            assert query.leading_passages(live, weights, depth) == want
            # The segments searched below the base's depth-th best prune however short their lists.
            assert kernel.leading(weights, depth, floor_prune_min=0) == want
        assert_clean(kernel)


def test_pruning_over_long_lists_equals_a_call_per_view() -> None:
    """Lists long enough for MaxScore to switch to completing candidates, in the base and a segment."""
    rng = random.Random(7)
    vocab = [f"w{i}" for i in range(12)]
    live = live_index(rng, bm25.BM25Params(), vocab, articles=1500, segment_sizes=(600, 40), deleted=300,
                      per_article=(2, 6))
    assert live.views[0].df(live.vocabulary["w0"]) > 4096
    for _ in range(40):
        weights = random_weights(rng, live, vocab)
        if weights:
            for depth in (1, 8, 30):
                want = query._leading_passages(live, weights, depth)
                assert query.leading_passages(live, weights, depth) == want
                assert live.derived("views_kernel", query._views_kernel).leading(
                    weights, depth, floor_prune_min=0) == want


def test_a_plain_index_is_one_view_without_deletions() -> None:
    rng = random.Random(11)
    docs = [rng.choices(["a", "b", "c", "d", "e"], k=rng.randint(1, 8)) for _ in range(300)]
    index = bm25.build_index(docs, range(1000, 1300), [i // 3 for i in range(300)])
    live = query.live(index)
    for terms in (["a"], ["a", "e"], ["b", "c", "d"], ["e", "e", "a"]):
        weights = {index.vocabulary[t]: 1.0 for t in terms}
        for depth in (1, 5, 200):
            assert query.leading_passages(live, weights, depth) == query._leading_passages(live, weights, depth)


def test_threads_share_the_views() -> None:
    rng = random.Random(5)
    vocab = [f"w{i}" for i in range(30)]
    live = live_index(rng, bm25.BM25Params(), vocab)
    cases = [w for w in (random_weights(rng, live, vocab) for _ in range(30)) if w]
    want = [query._leading_passages(live, w, 10) for w in cases]
    errors: list[BaseException] = []

    def ask() -> None:
        try:
            for _ in range(20):
                assert [query.leading_passages(live, w, 10) for w in cases] == want
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=ask) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors


def test_bad_arguments_are_named() -> None:
    rng = random.Random(3)
    live = live_index(rng, bm25.BM25Params(), [f"w{i}" for i in range(10)])
    kernel = live.derived("views_kernel", query._views_kernel)
    n_terms = live.views[0].offsets.size - 1
    with pytest.raises(ValueError, match="outside the vocabulary"):
        kernel.leading({n_terms + 5: 1.0}, 3)
    with pytest.raises(ValueError, match="depth must be >= 0"):
        kernel.leading({0: 1.0}, -1)
    view = live.views[0]
    with pytest.raises(ValueError, match="scratch has 1 slots"):
        kernel._views.leading([0], [1.0], 3, np.zeros(1))
    with pytest.raises(TypeError, match="view 0 must be a tuple"):
        topk.ViewsKernel([[view.offsets]])
    with pytest.raises(ValueError, match="live must be"):
        topk.ViewsKernel([(view.offsets, view.doc_ids, view.codes, view.table, view.idf, view.max_impact,
                           view.article_numbers, np.ones(view.n_passages, dtype=np.int64), view.passage_ids)])
    with pytest.raises(ValueError, match="one entry per passage"):
        topk.ViewsKernel([(view.offsets, view.doc_ids, view.codes, view.table, view.idf, view.max_impact,
                           view.article_numbers, None, view.passage_ids[:-1])])


def test_a_damaged_posting_raises_and_leaves_the_scratch_clean() -> None:
    rng = random.Random(9)
    vocab = [f"w{i}" for i in range(10)]
    live = live_index(rng, bm25.BM25Params(), vocab, segment_sizes=(20,))
    seg_view = live.views[1]
    doc_ids = seg_view.doc_ids.copy()
    tid = live.vocabulary["w0"]
    lo, hi = int(seg_view.offsets[tid]), int(seg_view.offsets[tid + 1])
    assert hi > lo
    doc_ids[hi - 1] = seg_view.n_passages + 3  # past the view's passages
    views = [(v.offsets, d, v.codes, v.table, v.idf, v.max_impact, v.article_numbers, s.live, v.passage_ids)
             for v, s, d in zip(live.views, live.segments, (live.views[0].doc_ids, doc_ids), strict=True)]
    kernel = topk.ViewsKernel(views)
    with pytest.raises(ValueError, match=r"view 1: term \d+ has a posting for passage"):
        kernel.leading({tid: 1.0, live.vocabulary["w1"]: 1.0}, 5)
    assert_clean(kernel)


def test_passage_ids_of_global_numbers_are_the_live_index_s():
    # query.passage_ids (bisect on the views' starts, for the shown passages) against
    # LiveIndex.passage_id (numpy's search), over every passage of indexes with and without segments.
    rng = random.Random(7)
    vocab = [f"w{i}" for i in range(60)]
    for sizes in ((30, 12), (), (1, 5, 9)):
        live = live_index(rng, bm25.BM25Params(), vocab, articles=40, segment_sizes=sizes, deleted=5)
        everything = list(range(live.n_passages + live.deleted))
        assert query.passage_ids(live, everything) == [live.passage_id(p) for p in everything]
        assert query.passage_ids(live, everything[::-3]) == [live.passage_id(p) for p in everything[::-3]]
