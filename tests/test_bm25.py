"""The index ranks exactly as rank-bm25 does over the same tokens."""

import random
from pathlib import Path

import numpy as np
import pytest
from rank_bm25 import BM25L, BM25Okapi, BM25Plus

from benchmarks import bm25_reference
from retrieval import bm25, indexfile
from retrieval.analysis import analyze

WORDS = ("سوريا روسيا ايران مجلس الأمن قرار الحكومة الرئيس الوزير الخارجية النفط الأسعار المنتخب مباراة هدف "
         "الشركة هاتف إطلاق الأسواق الاقتصاد العاصمة طهران موسكو دمشق اللجنة الدستورية المساعدات الإنسانية "
         "اللاجئين الحدود الجيش الهجوم السلام المفاوضات الانتخابات البرلمان المعارضة").split()


def make_corpus(n_docs: int, seed: int = 7) -> list[list[str]]:
    rng = random.Random(seed)
    weights = [1 / (i + 1) for i in range(len(WORDS))]  # Zipf-like: realistic df spread
    docs = []
    for _ in range(n_docs):
        words = rng.choices(WORDS, weights, k=rng.randint(8, 60))
        docs.append(analyze(" ".join(words)))
    return docs


def reference_top(model, query: list[str], k: int) -> list[int]:
    scores = model.get_scores(query)
    order = sorted(range(len(scores)), key=lambda i: (-scores[i], i))
    return [i for i in order[:k] if scores[i] > 0 or type(model) is not BM25Okapi]


@pytest.mark.parametrize(("variant", "cls"), [("okapi", BM25Okapi), ("l", BM25L), ("plus", BM25Plus)])
def test_top10_equals_rank_bm25(variant, cls):
    docs = make_corpus(400)
    index = bm25.build_index(docs, range(len(docs)), range(len(docs)), bm25.BM25Params(variant=variant))
    model = cls(docs)
    rng = random.Random(1)
    for _ in range(60):
        query = analyze(" ".join(rng.sample(WORDS, rng.randint(1, 5))))
        ours = bm25_reference.top_passages(index, query, 10)
        expected_scores = model.get_scores(query)
        # Same scores (up to float32 impacts, and rank-bm25's constant for absent
        # terms in BM25L/Plus), same order.
        order = sorted(range(len(docs)), key=lambda i: (-expected_scores[i], i))[:10]
        assert [p for p, _ in ours] == order[:len(ours)]
        assert len(ours) == min(10, len({d for d in range(len(docs)) if set(query) & set(docs[d])}))
        if variant == "okapi":
            for p, s in ours:
                assert s == pytest.approx(expected_scores[p], rel=1e-5)


def test_repeated_query_terms_count_twice_like_rank_bm25():
    docs = make_corpus(200, seed=3)
    index = bm25.build_index(docs, range(len(docs)), range(len(docs)), bm25.BM25Params(variant="okapi"))
    model = BM25Okapi(docs)
    query = analyze("سوريا سوريا روسيا")
    scores = model.get_scores(query)
    for p, s in bm25_reference.top_passages(index, query, 5):
        assert s == pytest.approx(scores[p], rel=1e-5)


def test_unknown_terms_score_nothing():
    docs = make_corpus(50)
    index = bm25.build_index(docs, range(50), range(50))
    assert bm25_reference.top_passages(index, ["غيرموجود"], 10) == []


def test_ties_are_broken_by_passage_order():
    docs = [["a", "b"], ["a", "b"], ["c"], ["a", "b"]]
    index = bm25.build_index(docs, [10, 11, 12, 13], [1, 1, 2, 3], bm25.BM25Params(variant="plus"))
    assert [p for p, _ in bm25_reference.top_passages(index, ["a"], 3)] == [0, 1, 3]


def test_save_and_load_roundtrip(tmp_path: Path):
    docs = make_corpus(120)
    params = bm25.BM25Params(variant="l", k1=1.2, b=0.6)
    index = bm25.build_index(docs, range(1000, 1120), [i // 3 for i in range(120)], params)
    path = tmp_path / "index.npz"
    indexfile.save_index(index, path)
    loaded = indexfile.load_index(path)
    assert loaded.params == params
    assert loaded.vocabulary == index.vocabulary
    for name in ("offsets", "doc_ids", "impacts", "idf", "doc_len", "passage_ids", "article_ids"):
        assert np.array_equal(getattr(loaded, name), getattr(index, name)), name
    query = analyze("روسيا ايران")
    assert bm25_reference.top_passages(loaded, query, 10) == bm25_reference.top_passages(index, query, 10)


def test_invalid_params_are_refused_with_the_reason():
    with pytest.raises(ValueError, match="variant"):
        bm25.BM25Params(variant="bm42")
    with pytest.raises(ValueError, match="k1"):
        bm25.BM25Params(k1=-1)
