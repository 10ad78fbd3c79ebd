"""Article-level re-ranking (retrieval/rerank.py) on small hand-made indexes."""

import subprocess
import sys

import numpy as np
import pytest

from benchmarks import bm25_reference
from retrieval import bm25, query, segment, segments, topk
from retrieval import rerank as rerank_module
from retrieval.analysis import analyze
from retrieval.engine import RetrievalConfig, SearchEngine
from retrieval.rerank import ArticleLayout, Evidence, QueryTerm, RerankWeights, one_edit_apart, rerank

PARAMS = bm25.BM25Params(k1=0.9, b=0.5)


def make_index(docs: list[str], articles: list[int]) -> bm25.BM25Index:
    return bm25.build_index([analyze(d) for d in docs], range(len(docs)), articles, PARAMS)


def engine_over(index: bm25.BM25Index, **config: object) -> SearchEngine:
    return SearchEngine.over_index(index, RetrievalConfig(**config))


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
    weights = bm25_reference.query_weights(index, query)
    terms = [QueryTerm(bm25.idf_of(index, t), ((index.vocabulary[t], 1.0),)) for t in query]
    leaders = [int(p) for p, _ in bm25_reference.top_passages(index, query, 10)]
    seen, firsts = set(), []
    for p in leaders:
        if int(index.article_ids[p]) not in seen:
            seen.add(int(index.article_ids[p]))
            firsts.append(p)
    return [(e.passage, e.score) for e in rerank(index, ArticleLayout.of(index), weights, terms, firsts, rw)]


FILLER = "x1 x2 x3 x4"


def test_no_weights_keeps_the_passage_ranking():
    index = make_index([f"قمة {FILLER}", f"قمة قمة بغداد {FILLER}", f"بغداد {FILLER}"], [1, 2, 2])
    plain = bm25_reference.top_passages(index, analyze("قمة بغداد"), 10)
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


# --- the vectorised rerank against the plain one ------------------------------------------

def plain_rerank(index: bm25.BM25Index, layout: ArticleLayout, weights: dict[int, float], query: list[QueryTerm],
           leaders: list[int], rw: RerankWeights) -> list[Evidence]:
    """The re-ranking as first written (a loop per article): the vectorised one must match it bit for bit."""
    if not leaders:
        return []
    groups = [layout.passages_of(p) for p in leaders]
    passages = np.concatenate(groups)
    order = np.argsort(passages, kind="stable")
    sorted_passages = passages[order]
    # Every passage of the leading articles, scored exactly as top_k scores them.
    scores = np.zeros(passages.size, dtype=np.float64)
    present: dict[int, np.ndarray] = {}
    for tid in {tid for term in query for tid, _ in term.matches} | weights.keys():
        docs, impacts = index.postings(tid)
        pos = np.searchsorted(docs, sorted_passages)
        np.minimum(pos, docs.size - 1, out=pos)
        hit_sorted = docs[pos] == sorted_passages
        hit = np.empty_like(hit_sorted)
        hit[order] = hit_sorted
        present[tid] = hit
        w = weights.get(tid)
        if w:
            contribution = np.zeros(passages.size, dtype=np.float64)
            contribution[order[hit_sorted]] = impacts[pos[hit_sorted]]
            scores += contribution * (np.float64(w) * index.idf[tid])
    total_idf = sum(t.idf for t in query) or 1.0
    # credit[i, j]: how much of query word i passage j holds (its best match).
    credit = np.zeros((len(query), passages.size), dtype=np.float64)
    for i, term in enumerate(query):
        for tid, c in term.matches:
            np.maximum(credit[i], present[tid] * c, out=credit[i])
    idfs = np.array([t.idf for t in query], dtype=np.float64)
    # What each query word adds to a passage at one occurrence in a passage of average length.
    unit = np.array([max((weights.get(tid, 0.0) * float(index.idf[tid]) for tid, _ in t.matches), default=0.0)
                     for t in query], dtype=np.float64)
    lead = layout.ordinal[passages] == 0
    boosted = np.where(lead, scores * (1.0 + rw.lead_boost), scores)
    out = []
    at = 0
    for g in groups:
        sl = slice(at, at + g.size)
        at += g.size
        best = at - g.size + int(np.argmax(boosted[sl]))
        in_article = credit[:, sl].max(axis=1)
        in_passage = credit[:, best]
        spread = float(unit @ np.maximum(in_article - in_passage, 0.0))
        out.append(Evidence(passage=int(passages[best]), score=float(boosted[best]) + rw.spread_weight * spread,
                            passage_score=float(scores[best]),
                            passage_coverage=float(idfs @ in_passage) / total_idf,
                            article_coverage=float(idfs @ in_article) / total_idf))
    # Stable: equal scores keep the passage ranking's order.
    return sorted(out, key=lambda e: -e.score)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_rerank_is_bit_identical_to_the_plain_loop(seed):
    import random

    rng = random.Random(seed)
    vocab = [f"w{i}" for i in range(60)]
    docs, articles = [], []
    for article in range(400):
        for _ in range(rng.randint(1, 7)):
            docs.append(rng.choices(vocab, [1 / (i + 1) for i in range(60)], k=rng.randint(3, 30)))
            articles.append(article * 3 + 1)
    index = bm25.build_index(docs, range(len(docs)), articles, PARAMS)
    layout = ArticleLayout.of(index)
    for _ in range(40):
        words = rng.sample(vocab, rng.choice([1, 3, 5, 17]))  # 17 words: BLAS's unrolled dot kernel too
        weights = {index.vocabulary[w]: rng.choice([1.0, 2.0, 0.6]) for w in words}
        query = []
        for w in words:
            matches = [(index.vocabulary[w], 1.0)]
            if rng.random() < 0.3:  # a spelling variant, credited less
                matches.append((index.vocabulary[rng.choice(vocab)], 0.6))
            query.append(QueryTerm(rng.uniform(0.5, 6.0), tuple(matches)))
        leaders = topk.top_articles(index, weights, rng.choice([1, 10, 30]))[0].tolist()
        rw = RerankWeights(rng.choice([0.0, 0.3]), rng.choice([0.0, 0.2]))
        assert rerank(index, layout, weights, query, leaders, rw) == plain_rerank(
            index, layout, weights, query, leaders, rw)


# --- the C kernel against the numpy version ----------------------------------------------------

def test_native_rerank_is_built():
    assert rerank_module.NATIVE_RERANK, "retrieval._rerank is not importable: run `pip install -e .` with a C compiler"


def segmented(rng, vocab: list[str]) -> segments.LiveIndex:
    """A base and two segments (coded impacts, shared term ids), some passages deleted."""
    def articles(first: int, count: int) -> tuple[list[list[str]], list[int]]:
        docs, ids = [], []
        for article in range(first, first + count):
            for _ in range(rng.randint(1, 6)):
                docs.append(rng.choices(vocab, [1 / (i + 1) for i in range(len(vocab))], k=rng.randint(3, 25)))
                ids.append(article)
        return docs, ids

    docs, ids = articles(0, 300)
    vocabulary = segment.Vocabulary()
    state = segments.SegmentedIndex(segment.build_segment(docs, range(len(docs)), ids, vocabulary, PARAMS),
                                    vocabulary, PARAMS, 0)
    next_id = len(docs)
    for first in (300, 340):
        more, more_ids = articles(first, 40)
        state.add(more, range(next_id, next_id + len(more)), more_ids)
        next_id += len(more)
    for pid in rng.sample(range(len(docs)), 30):
        state.delete(pid, " ".join(docs[pid]))
    return state.snapshot()


@pytest.mark.parametrize("seed", [4, 5])
def test_native_rerank_is_bit_identical_to_the_numpy_version_over_segments(seed, monkeypatch):
    import random

    rng = random.Random(seed)
    vocab = [f"w{i}" for i in range(50)]
    live = segmented(rng, vocab)
    assert len(live.views) == 3
    config = RetrievalConfig()
    for _ in range(40):
        words = rng.sample(vocab, rng.choice([1, 2, 4, 9, 17]))
        weights = {live.vocabulary[w]: rng.choice([1.0, 2.0, 0.6]) for w in words}
        qterms = []
        for w in words:
            matches = [(live.vocabulary[w], 1.0)]
            if rng.random() < 0.3:
                matches.append((live.vocabulary[rng.choice(vocab)], 0.6))
            qterms.append(QueryTerm(rng.uniform(0.5, 6.0), tuple(matches)))
        if rng.random() < 0.3:  # a word the index has never seen: no matches, adds 0.0 at one occurrence
            qterms.insert(rng.randrange(len(qterms) + 1), QueryTerm(rng.uniform(0.5, 6.0), ()))
        by_view: dict[int, list[int]] = {}
        for v, d in query.leading_passages(live, weights, rng.choice([1, 10, 30])):
            by_view.setdefault(v, []).append(d)
        parts = [(live.views[v], rerank_module.article_layout(live.views[v]), by_view[v]) for v in by_view]
        rw = RerankWeights(rng.choice([0.0, 0.3]), rng.choice([0.0, 0.2]))
        native = rerank_module._rerank_parts_native(parts, weights, qterms, rw)
        assert native == rerank_module._rerank_parts_numpy(parts, weights, qterms, rw)
        # And the whole evidence a question is judged by, either way.
        expanded = dict.fromkeys(words, 1.0)
        got = query.leading_evidence(live, words, expanded, 10, config)
        monkeypatch.setattr(rerank_module, "USE_NATIVE_RERANK", False)
        assert query.leading_evidence(live, words, expanded, 10, config) == got
        monkeypatch.setattr(rerank_module, "USE_NATIVE_RERANK", True)


def test_the_kernels_dot_products_are_numpys_on_this_machine():
    # Where they are not (another BLAS loop on another CPU) the one-call kernel stays off and
    # rerank_parts answers; on the machines this runs on they must be, or the kernel never runs.
    assert rerank_module.NATIVE_DOTS
    rng = np.random.default_rng(7)
    for n in range(1, rerank_module._native_rerank.MAX_DOT_WORDS + 1):
        x, y = rng.random(n) * 9.0, rng.random(n)
        wide = np.zeros((n, 5))
        wide[:, 3] = y
        assert rerank_module._native_rerank.dot(x, y, False) == float(x @ y)
        assert rerank_module._native_rerank.dot(x, y, True) == float(x @ wide[:, 3])
    with pytest.raises(ValueError, match="at most 15"):
        rerank_module._native_rerank.dot(np.ones(16), np.ones(16), False)


@pytest.mark.parametrize("seed", [6, 7])
def test_one_call_rerank_over_views_gives_the_numpy_versions_evidence(seed):
    import random

    rng = random.Random(seed)
    vocab = [f"w{i}" for i in range(50)]
    live = segmented(rng, vocab)
    kernel = rerank_module.rerank_views(live)
    assert kernel is not None
    for _ in range(60):
        words = rng.sample(vocab, rng.choice([1, 2, 3, 4, 5, 9, 15, 17]))
        weights = {live.vocabulary[w]: rng.choice([1.0, 2.0, 0.6]) for w in words}
        qterms = [QueryTerm(rng.uniform(0.5, 6.0), ((live.vocabulary[w], 1.0),)
                            + (((live.vocabulary[rng.choice(vocab)], 0.6),) if rng.random() < 0.3 else ()))
                  for w in words]
        leaders = query.leading_passages(live, weights, rng.choice([1, 3, 10, 30]))
        rw = RerankWeights(rng.choice([0.0, 0.3]), rng.choice([0.0, 0.2]))
        got = kernel.evidence(leaders, weights, qterms, rw)
        if len(qterms) > rerank_module._native_rerank.MAX_DOT_WORDS:
            assert got is None  # numpy sums these through another loop: left to rerank_parts
            continue
        by_view: dict[int, list[int]] = {}
        for v, d in leaders:
            by_view.setdefault(v, []).append(d)
        parts = [(live.views[v], rerank_module.article_layout(live.views[v]), by_view[v]) for v in by_view]
        spec = rerank_module._rerank_parts_numpy(parts, weights, qterms, rw)
        views = list(by_view)
        # The numpy version answers view by view: a leader's evidence is the next one of its view's run.
        runs = {v: iter([e for p, e in spec if views[p] == v]) for v in views}
        want = []
        for v, _ in leaders:
            e = next(runs[v])
            want.append(Evidence(e.passage + int(live.starts[v]), e.score, e.passage_score, e.passage_coverage,
                                 e.article_coverage))
        assert got == sorted(want, key=lambda e: -e.score)  # stable: equal scores in the leaders' order
        assert all(type(e) is Evidence for e in got)


def test_one_call_rerank_refuses_bad_leaders():
    rng = __import__("random").Random(3)
    live = segmented(rng, [f"w{i}" for i in range(50)])
    kernel = rerank_module.rerank_views(live)
    weights = {live.vocabulary["w1"]: 1.0}
    qterms = [QueryTerm(1.0, ((live.vocabulary["w1"], 1.0),))]
    rw = RerankWeights(0.3, 0.2)
    with pytest.raises(ValueError, match="view 3 is outside the 3 views"):
        kernel.evidence([(3, 0)], weights, qterms, rw)
    with pytest.raises(ValueError, match="leader 99999 is outside"):
        kernel.evidence([(0, 99999)], weights, qterms, rw)
    with pytest.raises(TypeError, match="pairs"):
        kernel.evidence([0], weights, qterms, rw)


def test_holds_is_bm25_contains_per_view():
    rng = __import__("random").Random(8)
    live = segmented(rng, [f"w{i}" for i in range(50)])
    kernel = rerank_module.rerank_views(live)
    for v, view in enumerate(live.views):
        for tid in rng.sample(range(len(view.offsets) - 1), 20):
            for passage in [*rng.sample(range(view.n_passages), 15), -1, view.n_passages, 2**40]:
                assert kernel.holds(v, tid, passage) == (0 <= passage < 2**31 and bm25.contains(view, tid, passage))
    with pytest.raises(ValueError, match="view 3 is outside"):
        kernel.holds(3, 0, 0)
    with pytest.raises(ValueError, match="outside the vocabulary"):
        kernel.holds(0, len(live.views[0].offsets) - 1, 0)


def test_native_rerank_refuses_a_damaged_index():
    index = make_index([f"قمة {FILLER}", f"بغداد {FILLER}", f"قمة بغداد {FILLER}"], [1, 1, 2])
    layout = ArticleLayout.of(index)
    tid = index.vocabulary[analyze("قمة")[0]]
    outs = [np.empty(1, np.int64), np.empty(1), np.empty(1), np.empty(1), np.empty(1), np.empty(1)]

    def call(offsets=index.offsets, order=layout.order, leaders=(0,), term_ids=(tid,)):
        return rerank_module._native_rerank.evidence(
            offsets, index.doc_ids, index.impacts, None, index.idf, order, layout.start, layout.end, layout.ordinal,
            list(leaders), list(term_ids), [1.0] * len(term_ids), [[(0, 1.0)]], 0.3, *outs)

    assert call() == 2  # the article of passage 0 has two passages
    with pytest.raises(ValueError, match="outside the vocabulary"):
        call(term_ids=(len(index.vocabulary),))
    with pytest.raises(ValueError, match="leader 7 is outside"):
        call(leaders=(7,))
    with pytest.raises(ValueError, match="outside the 3 passages"):
        call(order=np.array([0, 9, 2], dtype=np.int32))
    bad = index.offsets.copy()
    bad[tid + 1] = 10**6
    with pytest.raises(ValueError, match="outside the"):
        call(offsets=bad)
    with pytest.raises(ValueError, match="int32"):
        call(order=layout.order.astype(np.int64))


def test_without_the_extension_the_numpy_version_reranks_with_a_warning():
    code = """
import logging, sys
logging.basicConfig()
sys.modules["retrieval._rerank"] = None  # as if it had not been built
from retrieval import rerank
print(rerank.NATIVE_RERANK, rerank.USE_NATIVE_RERANK)
"""
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert run.stdout.split() == ["False", "False"]
    assert "native re-ranking kernel unavailable" in run.stderr
