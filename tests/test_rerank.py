"""Article-level re-ranking (retrieval/rerank.py) on small hand-made indexes."""

import pytest

from retrieval import bm25
from retrieval.analysis import analyze
from retrieval.engine import RetrievalConfig, SearchEngine
from retrieval.rerank import ArticleLayout, QueryTerm, RerankWeights, one_edit_apart, rerank

PARAMS = bm25.BM25Params(k1=0.9, b=0.5)


def make_index(docs: list[str], articles: list[int]) -> bm25.BM25Index:
    return bm25.build_index([analyze(d) for d in docs], range(len(docs)), articles, PARAMS)


def engine_over(index: bm25.BM25Index, **config: object) -> SearchEngine:
    engine = SearchEngine(":memory:", RetrievalConfig(**config), None, None)  # type: ignore[arg-type]
    engine._index = index
    return engine


def test_layout_groups_passages_of_an_article_even_when_not_adjacent():
    index = make_index(["a", "b", "c", "d", "e"], [7, 7, 9, 7, 9])
    layout = ArticleLayout.of(index)
    assert layout.passages_of(3).tolist() == [0, 1, 3]
    assert layout.passages_of(2).tolist() == [2, 4]
    assert layout.ordinal.tolist() == [0, 1, 0, 2, 1]


@pytest.mark.parametrize(("a", "b", "near"), [
    ("لافرينتييف", "لافرنتييف", True),  # deletion
    ("كتاب", "كتاب", False),  # the same word is not a variant
    ("كتاب", "كتبا", True),  # swap of adjacent letters
    ("كتاب", "كناب", True),  # substitution
    ("كتاب", "كتابات", False),  # two letters more
    ("كتاب", "بتاك", False),  # two substitutions
])
def test_one_edit_apart(a, b, near):
    assert one_edit_apart(a, b) is near
    assert one_edit_apart(b, a) is near


def scored(index: bm25.BM25Index, words: list[str], rw: RerankWeights) -> list[tuple[int, float]]:
    query = analyze(" ".join(words))
    weights = bm25.query_weights(index, query)
    terms = [QueryTerm(bm25.idf_of(index, t), ((index.vocabulary[t], 1.0),)) for t in query]
    leaders = [int(p) for p, _ in bm25.top_passages(index, query, 10)]
    seen, firsts = set(), []
    for p in leaders:
        if int(index.article_ids[p]) not in seen:
            seen.add(int(index.article_ids[p]))
            firsts.append(p)
    return [(e.passage, e.score) for e in rerank(index, ArticleLayout.of(index), weights, terms, firsts, rw)]


FILLER = "x1 x2 x3 x4"


def test_no_weights_keeps_the_passage_ranking():
    index = make_index([f"قمة {FILLER}", f"قمة قمة بغداد {FILLER}", f"بغداد {FILLER}"], [1, 2, 2])
    plain = bm25.top_passages(index, analyze("قمة بغداد"), 10)
    got = scored(index, ["قمة", "بغداد"], RerankWeights(0.0, 0.0))
    assert got[0][0] == plain[0][0]
    assert got[0][1] == pytest.approx(plain[0][1])


def test_lead_boost_prefers_an_article_whose_first_passage_matches():
    # Article 1 mentions the story in its second passage, article 2 leads with it: equal passages.
    docs = [f"مقدمة {FILLER}", f"قمة بغداد {FILLER}", f"قمة بغداد {FILLER}", f"خاتمة {FILLER}"]
    index = make_index(docs, [1, 1, 2, 2])
    assert scored(index, ["قمة", "بغداد"], RerankWeights(0.0, 0.0))[0][0] == 1  # tie: lower passage number
    assert scored(index, ["قمة", "بغداد"], RerankWeights(0.3, 0.0))[0][0] == 2


def test_spread_credits_words_found_elsewhere_in_the_article_once():
    # Both best passages hold قمة; article 2 names بغداد in another passage, article 1 repeats قمة instead.
    docs = [f"قمة {FILLER}", f"قمة قمة {FILLER}", f"قمة {FILLER}", f"بغداد {FILLER}", f"مقال {FILLER}"]
    index = make_index(docs, [1, 1, 2, 2, 3])
    without = dict(scored(index, ["قمة", "بغداد"], RerankWeights(0.0, 0.0)))
    with_spread = scored(index, ["قمة", "بغداد"], RerankWeights(0.0, 0.5))
    assert with_spread[0][0] in (2, 3)  # article 2 first, shown by one of its passages
    assert with_spread[0][1] > max(without.values())


def test_engine_pages_through_reranked_articles_without_repeats():
    docs = [f"قمة بغداد خبر{i} {FILLER}" if i % 3 == 0 else f"قمة خبر{i} {FILLER}" for i in range(60)]
    index = make_index(docs, [i // 2 for i in range(60)])
    engine = engine_over(index, min_confidence=0.0)  # paging alone; the no-answer model has its own tests
    seen = []
    for offset in range(0, 30, 3):
        ranking = engine.rank("قمة بغداد", 3, offset)
        seen += [int(index.article_ids[p]) for p, _ in ranking.picked]
    assert len(seen) == len(set(seen)) == 30


def test_variant_of_a_name_counts_for_its_word_in_coverage():
    docs = [f"لافرنتييف موسكو {FILLER}"] + [f"خبر{i} {FILLER}" for i in range(40)]
    index = make_index(docs, list(range(41)))
    ranking = engine_over(index, min_confidence=0.0).rank("لافرينتييف موسكو", 3)
    assert ranking.no_answer is None and ranking.picked[0][0] == 0
    assert len(ranking.picked) == 1
