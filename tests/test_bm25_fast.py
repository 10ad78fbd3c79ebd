"""The fast scoring paths rank exactly as the plain ones (and as rank-bm25) on corpora built here."""

import random

import numpy as np
import pytest
from rank_bm25 import BM25Okapi

from benchmarks import bm25_reference
from retrieval import bm25, indexfile, scoring, topk

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
    cand, scores = scoring.score(index, weights)
    order = scoring.rank(cand, scores, k)
    return [int(c) for c in cand[order]], scores[order]


def random_weights(index: bm25.BM25Index, rng: random.Random) -> dict[int, float]:
    terms = rng.sample(VOCAB[:120], rng.randint(1, 9)) + rng.sample(VOCAB, rng.randint(0, 3))
    return {index.vocabulary[t]: float(rng.choice([1, 1, 2, 0.6])) for t in terms if t in index.vocabulary}


@pytest.mark.parametrize("variant", ["okapi", "l", "plus"])
@pytest.mark.parametrize("dup_every", [0, 3])
def test_top_k_equals_exhaustive_scoring(variant, dup_every, monkeypatch):
    monkeypatch.setattr(topk, "_PRUNE_MIN_POSTINGS", 64)  # prune on this small corpus too
    docs = zipf_corpus(3000, seed=11, dup_every=dup_every)
    index = bm25.build_index(docs, range(len(docs)), range(len(docs)), bm25.BM25Params(variant=variant))
    rng = random.Random(4)
    for _ in range(150):
        weights = random_weights(index, rng)
        k = rng.choice([1, 3, 10, 40])
        cand, scores = bm25_reference.top_k(index, weights, k)
        expected, expected_scores = exhaustive_top(index, weights, k)
        assert [int(c) for c in cand] == expected, weights
        assert np.allclose(scores, expected_scores, rtol=1e-12, atol=0)


def test_top_k_prunes_yet_matches_rank_bm25(monkeypatch):
    monkeypatch.setattr(topk, "USE_NATIVE_TOPK", False)  # the numpy version's pruning (C: test_native_topk)
    calls = []
    prune = topk._prune
    monkeypatch.setattr(topk, "_PRUNE_MIN_POSTINGS", 64)
    monkeypatch.setattr(topk, "_prune", lambda *a: calls.append(r := prune(*a)) or r)
    docs = zipf_corpus(2000, seed=5)
    index = bm25.build_index(docs, range(len(docs)), range(len(docs)), bm25.BM25Params(variant="okapi"))
    model = BM25Okapi(docs)
    rng = random.Random(9)
    for _ in range(80):
        query = rng.sample(VOCAB[:150], rng.randint(2, 8))
        ours = [p for p, _ in bm25_reference.top_passages(index, query, 10)]
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
        scoring.score(index, weights)
        bm25_reference.top_k(index, weights, 5)
        buf, seen = index.scratch()
        assert not buf.any() and not seen.any()


def test_score_with_a_non_positive_weight_keeps_every_candidate():
    docs = [["a", "b"], ["b"], ["c"], ["a"]]
    index = bm25.build_index(docs, range(4), range(4), bm25.BM25Params(variant="plus"))
    weights = {index.vocabulary["a"]: 1.0, index.vocabulary["b"]: 0.0}
    cand, _ = scoring.score(index, weights)
    assert sorted(int(c) for c in cand) == [0, 1, 3]
    # The passage holding only the zero-weight term still ranks, last.
    assert [int(c) for c in bm25_reference.top_k(index, weights, 3)[0]] == [3, 0, 1]


def test_max_impact_is_each_terms_largest_impact_and_survives_save(tmp_path):
    docs = zipf_corpus(400, seed=8)
    index = bm25.build_index(docs, range(400), range(400))
    for tid in range(len(index.vocabulary)):
        _, imp = index.postings(tid)
        assert index.max_impact[tid] == imp.max()
    indexfile.save_index(index, tmp_path / "i.npz")
    assert np.array_equal(indexfile.load_index(tmp_path / "i.npz").max_impact, index.max_impact)


def walked_top_articles(index: bm25.BM25Index, weights: dict[int, float], k: int) -> list[int]:
    """Every candidate ranked exhaustively, each article's first passage kept: what top_articles must return."""
    cand, scores = scoring.score(index, weights)
    picked, seen = [], set()
    for p in cand[scoring.rank(cand, scores, cand.size)].tolist():
        if int(index.article_ids[p]) not in seen:
            seen.add(int(index.article_ids[p]))
            picked.append(p)
    return picked[:k]


def articled_index(n_docs: int, seed: int, variant: str) -> bm25.BM25Index:
    """Passages grouped into articles of 1-8 passages, every third article a copy of an earlier one (ties)."""
    rng = random.Random(seed)
    docs = zipf_corpus(n_docs, seed=seed, dup_every=0)
    articles, article = [], 0
    while len(articles) < n_docs:
        size = rng.randint(1, 8)
        articles += [article * 7 + 3] * size  # any non-negative ids, not 0..n
        article += 1
    for start in range(0, n_docs - 40, 60):  # a run of passages repeated under other articles
        docs[start + 20:start + 40] = [list(d) for d in docs[start:start + 20]]
    return bm25.build_index(docs, range(n_docs), articles[:n_docs], bm25.BM25Params(variant=variant))


@pytest.mark.parametrize("lookup_cost", [0, 4, 10**9])  # always binary search / as shipped / always scan
@pytest.mark.parametrize("variant", ["okapi", "plus"])
def test_top_articles_equals_walking_the_full_ranking(variant, lookup_cost, monkeypatch):
    monkeypatch.setattr(topk, "USE_NATIVE_TOPK", False)  # the numpy version's pruning (C: test_native_topk)
    monkeypatch.setattr(topk, "_PRUNE_MIN_POSTINGS", 64)  # prune on this small corpus too
    monkeypatch.setattr(topk, "_PROBE_POSTINGS", 60)
    monkeypatch.setattr(topk, "_LOOKUP_COST", lookup_cost)
    monkeypatch.setattr(topk, "_SHRINK_MIN", 8)
    pruned = []
    prune = topk._prune
    monkeypatch.setattr(topk, "_prune", lambda *a: pruned.append(1) or prune(*a))
    index = articled_index(3000, seed=21, variant=variant)
    rng = random.Random(6)
    for _ in range(150):
        weights = random_weights(index, rng)
        k = rng.choice([1, 3, 10, 30])
        passages, scores = topk.top_articles(index, weights, k)
        assert passages.tolist() == walked_top_articles(index, weights, k), (weights, k)
        cand, all_scores = scoring.score(index, weights)
        by_passage = dict(zip(cand.tolist(), all_scores.tolist(), strict=True))
        assert np.allclose(scores, [by_passage[p] for p in passages.tolist()], rtol=1e-12, atol=0)
        buf, seen = index.scratch()
        assert not buf.any() and not seen.any()
    assert len(pruned) > 20, "the pruned path was rarely taken"


def test_top_articles_of_one_passage_articles_is_top_k(monkeypatch):
    monkeypatch.setattr(topk, "_PRUNE_MIN_POSTINGS", 64)
    docs = zipf_corpus(2000, seed=13, dup_every=4)
    index = bm25.build_index(docs, range(2000), range(2000), bm25.BM25Params(variant="okapi"))
    rng = random.Random(2)
    for _ in range(60):
        weights = random_weights(index, rng)
        k = rng.choice([1, 5, 30])
        ours, theirs = topk.top_articles(index, weights, k), bm25_reference.top_k(index, weights, k)
        assert np.array_equal(ours[0], theirs[0]) and np.array_equal(ours[1], theirs[1])


def test_distinct_and_first_of_each_agree_with_np_unique():
    rng = np.random.default_rng(5)
    for size in (0, 1, 7, 300, 5000):
        a = rng.integers(0, 50, size).astype(np.int32)
        values, where = topk._distinct(a)
        assert np.array_equal(values, np.unique(a)) and np.array_equal(a[where], values)
        assert np.array_equal(topk._first_of_each(a), np.sort(np.unique(a, return_index=True)[1]))


def test_article_numbers_number_each_article_once():
    index = bm25.build_index([["a"], ["b"], ["c"], ["d"], ["e"]], range(5), [907, 12, 907, 5, 12])
    assert index.article_numbers.tolist() == [2, 1, 2, 0, 1]
