"""The C top-k kernel (retrieval/_topk.c) against the numpy `topk._top_numpy`, its specification: same passages,
same order, bit-identical scores."""

import json
import os
import random
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from benchmarks import bm25_reference
from retrieval import bm25, indexfile, topk

from .conftest import run_in_threads

pytestmark = pytest.mark.skipif(not topk.NATIVE_TOPK and os.environ.get("NEWSBOT_ALLOW_PURE_PYTHON") == "1",
                                reason="native top-k kernel not built, allowed by NEWSBOT_ALLOW_PURE_PYTHON=1")

# A tiny vocabulary: many passages share the same words, so scores tie often. "w0" is in most passages
# (the long common-word list that makes pruning worth it), and on a small corpus Okapi floors its idf.
WORDS = [f"w{i}" for i in range(8)]


def same(native: tuple[np.ndarray, np.ndarray], numpy: tuple[np.ndarray, np.ndarray]) -> bool:
    """Same passages in the same order, and scores equal bit for bit (0.0 and -0.0 differ)."""
    return (native[0].dtype == numpy[0].dtype and native[1].dtype == numpy[1].dtype
            and np.array_equal(native[0], numpy[0])
            and np.array_equal(native[1].view(np.int64), numpy[1].view(np.int64)))


def assert_clean(index: bm25.BM25Index) -> None:
    buf, seen = index.scratch()
    assert not buf.any() and not seen.any()


@st.composite
def corpora(draw: st.DrawFn) -> tuple[bm25.BM25Index, list[int]]:
    n = draw(st.integers(1, 60))
    common = st.lists(st.sampled_from(WORDS[:3]), min_size=0, max_size=3)
    rare = st.lists(st.sampled_from(WORDS), min_size=0, max_size=4)
    docs = [draw(common) + draw(rare) for _ in range(n)]
    if draw(st.booleans()):  # exact copies: ties broken by passage number
        docs = [docs[i % max(1, n // 3)] for i in range(n)]
    params = bm25.BM25Params(variant=draw(st.sampled_from(bm25.VARIANTS)), k1=draw(st.sampled_from([0.0, 0.9, 1.5])),
                             b=draw(st.sampled_from([0.0, 0.75, 1.0])), epsilon=draw(st.sampled_from([0.0, 0.25])))
    articles = draw(st.lists(st.integers(0, 6), min_size=n, max_size=n))
    index = bm25.build_index(docs, range(n), articles, params)
    return index, articles


@st.composite
def queries(draw: st.DrawFn, index: bm25.BM25Index) -> dict[int, float]:
    terms = draw(st.lists(st.sampled_from([*WORDS, "unknown"]), min_size=1, max_size=8))  # repeats count twice
    weights = bm25_reference.query_weights(index, terms)
    if weights and draw(st.booleans()):  # engine-like fractional weights, and factors <= 0 (no bound holds)
        tid = draw(st.sampled_from(sorted(weights)))
        weights[tid] = draw(st.sampled_from([0.6, 0.0, -0.5, -1.0, 1e-300]))
    return weights


def test_native_topk_is_built():
    # CI builds the extension (`pip install -e .`); a silent fallback to numpy there would hide a broken build
    # behind slower searches.
    assert topk.NATIVE_TOPK, "retrieval._topk is not importable: run `pip install -e .` with a C compiler"
    assert topk.USE_NATIVE_TOPK or os.environ.get("NEWSBOT_NUMPY_TOPK") == "1"


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_kernel_equals_numpy_top(data):
    index, _ = data.draw(corpora())
    weights = data.draw(queries(index))
    k = data.draw(st.integers(1, index.n_passages + 3))  # k beyond the candidates too
    prune_min = data.draw(st.sampled_from([0, 1, 8, 1 << 40]))
    for groups in (None, index.article_numbers):
        expected = topk._top_numpy(index, weights, k, groups)
        assert_clean(index)
        got = topk._top_native(index, weights, k, groups, prune_min=prune_min)
        assert_clean(index)
        assert same(got, expected), (weights, k, groups is not None, got, expected)


def zipf_index(n: int, seed: int, variant: str = "plus") -> bm25.BM25Index:
    """A Zipf-like corpus: lists from a few passages to nearly all of them, articles of 1-6 passages."""
    rng = random.Random(seed)
    vocab = [f"t{i}" for i in range(200)]
    weights = [1 / (i + 1) ** 1.1 for i in range(len(vocab))]
    docs = [rng.choices(vocab, weights, k=rng.randint(3, 30)) for _ in range(n)]
    for i in range(5, n, 7):
        docs[i] = list(docs[i - 5])
    articles = [i // rng.randint(1, 6) for i in range(n)]
    return bm25.build_index(docs, range(n), articles, bm25.BM25Params(variant=variant))


@pytest.mark.parametrize("variant", bm25.VARIANTS)
def test_pruned_kernel_equals_numpy_top(variant):
    index = zipf_index(3000, seed=3, variant=variant)
    rng = random.Random(5)
    pruned = declined = 0
    for _ in range(150):
        # a few common words (long lists) and some rarer ones, repeats included
        terms = rng.choices([f"t{i}" for i in range(4)], k=rng.randint(1, 3)) + \
            rng.choices([f"t{i}" for i in range(4, 200)], k=rng.randint(1, 5))
        weights = bm25_reference.query_weights(index, terms)
        k = rng.choice([1, 3, 10, 30])
        for groups in (None, index.article_numbers):
            want = topk._top_numpy(index, weights, k, groups)
            # complete_cost=0: completes candidates whenever the bounds allow; the default only when
            # that is cheaper than adding the remaining lists whole (else it adds them).
            always: list[tuple[int, int]] = []
            got = topk._top_native(index, weights, k, groups, prune_min=64, complete_cost=0, stats=always)
            assert same(got, want), (terms, k, groups is not None)
            assert_clean(index)
            stats: list[tuple[int, int]] = []
            got = topk._top_native(index, weights, k, groups, prune_min=64, stats=stats)
            assert same(got, want), (terms, k, groups is not None, "default cost")
            assert_clean(index)
            pruned += always[0][0] >= 0
            declined += always[0][0] >= 0 and stats[0][0] != always[0][0]
    assert pruned > 60, "the kernel's pruned path was rarely taken"
    # A declined switch adds the remaining lists whole to the candidates still in the race only.
    assert declined > 10, "the kernel never found completing candidates too dear"


def test_top_k_and_top_articles_use_the_kernel():
    index = zipf_index(500, seed=1)
    weights = bm25_reference.query_weights(index, ["t0", "t5", "t9", "t9"])
    assert same(bm25_reference.top_k(index, weights, 10), topk._top_native(index, weights, 10, None))
    assert same(topk.top_articles(index, weights, 10), topk._top_native(index, weights, 10, index.article_numbers))
    assert same(bm25_reference.top_k(index, weights, 10), topk._top_numpy(index, weights, 10, None))


def test_an_index_with_other_array_types_takes_the_numpy_path():
    index = zipf_index(300, seed=2)
    arrays = {name: getattr(index, name) for name in indexfile._ARRAYS}
    arrays["impacts"] = index.impacts.astype(np.float64)
    wide = bm25.BM25Index(vocabulary=index.vocabulary, params=index.params, **arrays)
    weights = bm25_reference.query_weights(index, ["t0", "t3", "t40"])
    assert not topk._native_layout(wide)
    top5 = [[int(p) for p in bm25_reference.top_k(i, weights, 5)[0]] for i in (wide, index)]
    assert top5[0] == top5[1]


def test_environment_variable_forces_the_numpy_version():
    code = "from retrieval import topk; print(topk.NATIVE_TOPK, topk.USE_NATIVE_TOPK)"
    env = {**os.environ, "NEWSBOT_NUMPY_TOPK": "1"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    assert out.split() == ["True", "False"]


def test_without_the_extension_the_numpy_version_answers_with_a_warning():
    code = """
import json, logging, sys
logging.basicConfig()
sys.modules["retrieval._topk"] = None  # as if it had not been built
from benchmarks import bm25_reference
from retrieval import bm25, scoring, topk
index = bm25.build_index([["a", "b"], ["b"], ["a", "c"]], range(3), range(3))
weights = bm25_reference.query_weights(index, ["a", "b"])
cand, scores = scoring.score(index, weights)
print(json.dumps([topk.NATIVE_TOPK, bm25_reference.top_k(index, weights, 2)[0].tolist(),
                  cand[scoring.rank(cand, scores, 2)].tolist()]))
"""
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    native, ours, exhaustive = json.loads(run.stdout)
    assert native is False and ours == exhaustive and len(ours) == 2
    assert "native top-k kernel unavailable" in run.stderr


def test_threads_share_an_index():
    # Long lists: the kernel releases the GIL, each thread scoring in its own scratch buffer.
    docs = [["common", f"r{i % 97}", f"s{i % 13}"] for i in range(40_000)]
    index = bm25.build_index(docs, range(len(docs)), [i // 3 for i in range(len(docs))])
    queries = [bm25_reference.query_weights(index, ["common", f"r{i}", f"s{i % 13}"]) for i in range(40)]
    expected = [topk._top_numpy(index, w, 10, index.article_numbers) for w in queries]
    failures: list[int] = []

    def work() -> None:
        for i, w in enumerate(queries):
            if not same(topk._top_native(index, w, 10, index.article_numbers), expected[i]):
                failures.append(i)
        assert_clean(index)

    run_in_threads(work)
    assert not failures


# --- bad arguments ---------------------------------------------------------------------------

def kernel_args(index: bm25.BM25Index, **changes: object) -> dict[str, object]:
    args: dict[str, object] = dict(
        offsets=index.offsets, doc_ids=index.doc_ids, impacts=index.impacts, idf=index.idf,
        max_impact=index.max_impact, term_ids=[0, 1], weights=[1.0, 1.0], k=5, groups=None,
        scratch=index.scratch()[0], out_docs=np.empty(5, np.int32), out_scores=np.empty(5, np.float64))
    args.update(changes)
    return args


@pytest.fixture()
def small_index() -> bm25.BM25Index:
    return zipf_index(200, seed=4)


@pytest.mark.parametrize(("changes", "error", "message"), [
    ({"offsets": "int32 offsets"}, ValueError, "offsets must be a int64 array"),
    ({"doc_ids": "not an array"}, TypeError, "doc_ids must be a contiguous int32 array, not str"),
    ({"impacts": "float64 impacts"}, ValueError, "impacts must be a float32 array"),
    ({"impacts": "strided impacts"}, ValueError, "impacts must be a contiguous array"),
    ({"idf": "2-d idf"}, ValueError, "idf must be a one-dimensional array"),
    ({"scratch": "read-only scratch"}, ValueError, "scratch must be a writable, contiguous float64 array"),
    ({"impacts": "short impacts"}, ValueError, "impacts has"),
    ({"max_impact": "short max_impact"}, ValueError, "must be one longer than idf"),
    ({"groups": "short groups"}, ValueError, "groups has"),
    ({"out_docs": "short out_docs"}, ValueError, "out_docs and out_scores need"),
    ({"term_ids": [0, 10**6]}, ValueError, "term id 1000000 is outside the vocabulary"),
    ({"term_ids": [-1], "weights": [1.0]}, ValueError, "term id -1 is outside the vocabulary"),
    ({"term_ids": [0], "weights": [1.0, 2.0]}, ValueError, "term_ids has 1 entries, weights 2"),
    ({"term_ids": 5}, TypeError, "term_ids must be a sequence"),
    ({"weights": ["x", "y"]}, TypeError, "must be real number"),
    ({"k": -1}, ValueError, "k must be >= 0"),
    ({"stats": ()}, TypeError, "stats must be a list or None"),
])
def test_bad_arguments_are_named(small_index, changes, error, message):
    index = small_index
    concrete = {
        "int32 offsets": index.offsets.astype(np.int32), "float64 impacts": index.impacts.astype(np.float64),
        "strided impacts": np.repeat(index.impacts, 2)[::2], "2-d idf": index.idf.reshape(1, -1),
        "read-only scratch": np.frombuffer(bytes(8 * index.n_passages), dtype=np.float64),
        "short impacts": index.impacts[:-1], "short max_impact": index.max_impact[:-1],
        "short groups": index.article_numbers[:-1], "short out_docs": np.empty(2, np.int32),
    }
    changes = {name: concrete.get(value, value) if isinstance(value, str) else value for name, value in changes.items()}
    with pytest.raises(error, match=message):
        topk._native_topk.top(**kernel_args(index, **changes))
    assert_clean(index)


def test_a_damaged_posting_raises_and_leaves_the_scratch_clean(small_index):
    index = small_index
    doc_ids = index.doc_ids.copy()
    lo, hi = index.offsets[1], index.offsets[2]
    doc_ids[(lo + hi) // 2] = index.n_passages + 7  # in the middle of term 1's list, after term 0 was added
    with pytest.raises(ValueError, match=f"term 1 has a posting for passage {index.n_passages + 7}"):
        topk._native_topk.top(**kernel_args(index, doc_ids=doc_ids))
    assert_clean(index)
    offsets = index.offsets.copy()
    offsets[2] = index.doc_ids.size + 1
    with pytest.raises(ValueError, match="offsets of term 1"):
        topk._native_topk.top(**kernel_args(index, offsets=offsets))
    assert_clean(index)


def test_floor_prunes_below_it_and_keeps_everything_above():
    """With a floor, the kernel returns every article of the top k scoring at least the floor, in order."""
    rng = np.random.default_rng(7)
    vocab = [f"t{i}" for i in range(40)]
    docs = [list(rng.choice(vocab, size=rng.integers(5, 30))) for _ in range(3000)]
    index = bm25.build_index(docs, np.arange(3000), np.arange(3000) // 3)
    pruned_early = 0
    for _ in range(30):
        terms = list(rng.choice(vocab, size=4, replace=False))
        weights = bm25_reference.query_weights(index, terms)
        groups = index.article_numbers
        # prune_min=1: small lists prune too, so the floor is what the kernel prunes by.
        plain: list = []
        docs_all, scores_all = topk._top_native(index, weights, 30, groups, prune_min=1, complete_cost=0, stats=plain)
        assert docs_all.size == 30
        floor = float(scores_all[10])
        stats: list = []
        got_docs, got_scores = topk._top_native(index, weights, 30, groups, prune_min=1, complete_cost=0,
                                                floor=floor, stats=stats)
        (at, completed), (plain_at, plain_completed) = stats[0], plain[0]
        pruned_early += at != -1 and (plain_at == -1 or at < plain_at or completed < plain_completed)
        keep = scores_all >= floor
        assert got_docs[:keep.sum()].tolist() == docs_all[keep].tolist()
        assert np.array_equal(got_scores[:keep.sum()], scores_all[keep])
    assert pruned_early > 0  # the floor let the kernel prune sooner, or complete fewer candidates
