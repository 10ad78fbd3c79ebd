"""The no-answer model (retrieval/confidence.py) as the engine uses it."""

import numpy as np

from retrieval import bm25, confidence, rerank, topk
from retrieval.analysis import analyze, analyze_query
from retrieval.engine import RetrievalConfig, SearchEngine
from retrieval.query import query_terms

FILLER = "x1 x2 x3 x4"


def engine_over(docs: list[str], **config: object) -> SearchEngine:
    index = bm25.build_index([analyze(d) for d in docs], range(len(docs)), range(len(docs)),
                             bm25.BM25Params(k1=0.9, b=0.5))
    return SearchEngine.over_index(index, RetrievalConfig(**config))


# Forty articles on the same story, none better than another, and one on something else.
SAME_STORY = [f"ترامب يزور بغداد خبر{i} {FILLER}" for i in range(40)] + [f"زلزال في اليابان {FILLER}"]


def test_one_word_question_matching_many_articles_equally_is_answered():
    # Many equal matches is what an unanswerable question looks like to the
    # model, but a passage holding every question word is never refused by it.
    ranking = engine_over(SAME_STORY).rank("ترامب", 3)
    assert ranking.no_answer is None and len(ranking.picked) == 3


def test_partial_match_is_judged_by_the_model_and_full_match_is_not():
    strict = engine_over(SAME_STORY, min_confidence=1.0)  # no probability reaches 1: every partial match is refused
    assert strict.rank("ترامب يزور اليابان", 3).no_answer == "weak"
    assert strict.rank("ترامب يزور بغداد", 3).no_answer is None
    off = engine_over(SAME_STORY, min_confidence=0.0)
    assert off.rank("ترامب يزور اليابان", 3).no_answer is None


def test_probability_rises_with_coverage_and_falls_with_many_equal_rivals():
    base = np.array(confidence.FEATURE_MEAN)
    at = confidence.FEATURES.index
    more_covered, more_rivals = base.copy(), base.copy()
    more_covered[at("passage_coverage")] += 0.2
    more_rivals[at("depth_ratio")] += 0.2
    p = confidence.answerable_probability(base)
    assert confidence.answerable_probability(more_covered) > p > confidence.answerable_probability(more_rivals)


def test_features_are_on_index_independent_scales():
    engine = engine_over(SAME_STORY)
    index = engine.index
    terms = analyze_query("ترامب يزور موسكو")
    expanded = engine.expand(index, terms)
    weights = {index.vocabulary[t]: w for t, w in expanded.items()}
    query = query_terms(index, terms, expanded, engine.config)
    leaders = topk.top_articles(index, weights, 30)[0].tolist()
    evidence = rerank.rerank(index, rerank.article_layout(index), weights, query, leaders,
                             rerank.RerankWeights(0.3, 0.2))
    x = dict(zip(confidence.FEATURES, confidence.features(index, terms, query, weights, evidence), strict=True))
    assert 0 < x["passage_coverage"] < 1 and x["passage_coverage"] == x["article_coverage"]
    assert x["depth_ratio"] == 1.0 and x["gap"] == 0.0  # forty equal articles
    assert x["missing_rarity"] == 1.0  # موسكو is unknown to the index: as rare as can be
    assert x["unknown_share"] == 1 / 3


def test_coverage_rule_counts_the_words_of_the_whole_article():
    # A headline's rare words are spread over its story: no single passage
    # holds enough of them, the article does. Unrelated filler articles give
    # the words their rarity.
    docs = ["بركان ايسلندا يثور", "رحلات الطيران تلغى", *[f"خبر{i} {FILLER}" for i in range(30)]]
    index = bm25.build_index([analyze(d) for d in docs], range(len(docs)), [0, 0, *range(1, 31)],
                             bm25.BM25Params(k1=0.9, b=0.5))
    question = "بركان يلغي رحلات الطيران"
    for min_coverage, refused in ((0.5, False), (0.9, True)):
        engine = SearchEngine.over_index(index, RetrievalConfig(min_coverage=min_coverage, min_confidence=0.0))
        ranking = engine.rank(question, 3)
        assert (ranking.no_answer == "weak") is refused
    terms = analyze_query(question)
    _, _, evidence = engine.leading_evidence(index, terms, engine.expand(index, terms), 3)
    assert evidence[0].passage_coverage < 0.5 <= evidence[0].article_coverage
