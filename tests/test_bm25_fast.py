"""The fast scoring paths rank exactly as the plain ones (and as rank-bm25) on corpora built here."""

import random

import numpy as np
import pytest
from rank_bm25 import BM25Okapi

from retrieval import bm25

# Few distinct words with a steep Zipf spread, so that posting lists range
# from a handful of passages to nearly all of them, and the pruning in
# `top_k` (which needs long lists of common words) actually triggers.
VOCAB = [f"w{i}" for i in range(300)]


def zipf_corpus(n_docs: int, seed: int, dup_every: int = 0) -> list[list[str]]:
    rng = random.Random(seed)
    weights = [1 / (i + 1) ** 1.1 for i in range(len(VOCAB))]
    docs = [rng.choices(VOCAB, weights, k=rng.randint(3, 40)) for _ in range(n_docs)]
    if dup_every:  # exact duplicates: ties the ranking must break by passage order
        for i in range(dup_every, n_docs, dup_every):
            docs[i] = list(docs[i - dup_every])
    return docs


def exhaustive_top(index: bm25.BM25Index, weights: dict[int, float], k: int) -> tuple[list[int], np.ndarray]:
    cand, scores = bm25.score(index, weights)
    order = bm25.rank(cand, scores, k)
    return [int(c) for c in cand[order]], scores[order]


def random_weights(index: bm25.BM25Index, rng: random.Random) -> dict[int, float]:
    terms = rng.sample(VOCAB[:120], rng.randint(1, 9)) + rng.sample(VOCAB, rng.randint(0, 3))
    return {index.vocabulary[t]: float(rng.choice([1, 1, 2, 0.6])) for t in terms if t in index.vocabulary}


@pytest.mark.parametrize("variant", ["okapi", "l", "plus"])
@pytest.mark.parametrize("dup_every", [0, 3])
def test_top_k_equals_exhaustive_scoring(variant, dup_every, monkeypatch):
    monkeypatch.setattr(bm25, "_PRUNE_MIN_POSTINGS", 64)  # prune on this small corpus too
    docs = zipf_corpus(3000, seed=11, dup_every=dup_every)
    index = bm25.build_index(docs, range(len(docs)), range(len(docs)), bm25.BM25Params(variant=variant))
    rng = random.Random(4)
    for _ in range(150):
        weights = random_weights(index, rng)
        k = rng.choice([1, 3, 10, 40])
        cand, scores = bm25.top_k(index, weights, k)
        expected, expected_scores = exhaustive_top(index, weights, k)
        assert [int(c) for c in cand] == expected, weights
        assert np.allclose(scores, expected_scores, rtol=1e-12, atol=0)


def test_top_k_prunes_yet_matches_rank_bm25(monkeypatch):
    calls = []
    prune = bm25._prune
    monkeypatch.setattr(bm25, "_PRUNE_MIN_POSTINGS", 64)
    monkeypatch.setattr(bm25, "_prune", lambda *a: calls.append(r := prune(*a)) or r)
    docs = zipf_corpus(2000, seed=5)
    index = bm25.build_index(docs, range(len(docs)), range(len(docs)), bm25.BM25Params(variant="okapi"))
    model = BM25Okapi(docs)
    rng = random.Random(9)
    for _ in range(80):
        query = rng.sample(VOCAB[:150], rng.randint(2, 8))
        ours = [p for p, _ in bm25.top_passages(index, query, 10)]
        scores = model.get_scores(query)
        expected = [int(i) for i in np.lexsort((np.arange(scores.size), -scores))[:10] if scores[i] > 0]
        assert ours == expected, query
    assert any(r is not None for r in calls), "the pruned path was never taken"


def test_scoring_leaves_the_scratch_buffers_clean():
    docs = zipf_corpus(500, seed=2)
    index = bm25.build_index(docs, range(500), range(500), bm25.BM25Params(variant="okapi"))
    rng = random.Random(3)
    for _ in range(30):
        weights = random_weights(index, rng)
        bm25.score(index, weights)
        bm25.top_k(index, weights, 5)
        buf, seen = index.scratch()
        assert not buf.any() and not seen.any()


def test_score_with_a_non_positive_weight_keeps_every_candidate():
    docs = [["a", "b"], ["b"], ["c"], ["a"]]
    index = bm25.build_index(docs, range(4), range(4), bm25.BM25Params(variant="plus"))
    weights = {index.vocabulary["a"]: 1.0, index.vocabulary["b"]: 0.0}
    cand, _ = bm25.score(index, weights)
    assert sorted(int(c) for c in cand) == [0, 1, 3]
    # The passage holding only the zero-weight term still ranks, last.
    assert [int(c) for c in bm25.top_k(index, weights, 3)[0]] == [3, 0, 1]


def test_max_impact_is_each_terms_largest_impact_and_survives_save(tmp_path):
    docs = zipf_corpus(400, seed=8)
    index = bm25.build_index(docs, range(400), range(400))
    for tid in range(len(index.vocabulary)):
        _, imp = index.postings(tid)
        assert index.max_impact[tid] == imp.max()
    bm25.save_index(index, tmp_path / "i.npz")
    assert np.array_equal(bm25.load_index(tmp_path / "i.npz").max_impact, index.max_impact)
