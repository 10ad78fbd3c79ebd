"""From a question to ranked evidence: expansion, ranking over every segment, re-ranking, the no-answer rule.

Everything here reads one `segments.LiveIndex` (a plain `bm25.BM25Index` is
wrapped as one): the index-wide statistics from it, the postings from its
views. An article's live passages are always in one view (an article is
written, replaced or deleted whole, in one transaction), so the best passage
of each of the top articles overall is among the per-view top articles, and
re-ranking an article reads its own view only.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass

import numpy as np

from . import bm25, confidence, newsrank, rerank, topk
from .analysis import analyze_query
from .config import FULL_COVERAGE, RetrievalConfig
from .segments import LiveIndex
from .variants import known_variants, one_edit_of

Index = LiveIndex | bm25.BM25Index


@dataclass(frozen=True, slots=True)
class Ranking:
    terms: list[str]  # the analysed question
    expanded: dict[str, float]  # index terms searched, with weights (variants included)
    picked: list[tuple[int, float]]  # (global passage number, score), one per article
    has_more: bool
    no_answer: str | None
    confidence: str = "high"  # "high" or "low" (closest matches): see RetrievalConfig.low_confidence


def live(index: Index) -> LiveIndex:
    """`index` as a live index (a plain one wrapped once, and remembered with it)."""
    if isinstance(index, LiveIndex):
        return index
    return index.derived("live_index", LiveIndex.of_index)


def passage_ids(index: LiveIndex, passages: list[int]) -> list[int]:
    """The passage ids of global passage numbers (a search's few shown ones).

    `LiveIndex.passage_id` one by one is a numpy search of the views' starts each (~2 µs with
    segments); a few passages are placed faster by `bisect` on the starts as a list, kept with the snapshot.
    """
    views = index.views
    if len(views) == 1:
        ids = views[0].passage_ids
        return [int(ids[p]) for p in passages]
    starts = index.derived("starts_list", _starts_list)
    out = []
    for p in passages:
        v = bisect.bisect_right(starts, p) - 1
        out.append(int(views[v].passage_ids[p - starts[v]]))
    return out


def _starts_list(index: LiveIndex) -> list[int]:
    return index.starts.tolist()


def expand(index: Index, terms: list[str], config: RetrievalConfig, *,
           ids: dict[str, int | None] | None = None) -> dict[str, float]:
    """Query term → weight, with spelling variants of rare or unknown words added.

    A transliterated name is spelled several ways (لافرينتييف / لافرنتييف);
    a word that is rare or absent in the index also matches index terms
    one edit away, at a lower weight. Common words are left alone: their
    one-edit neighbours are usually different words.
    """
    index = live(index)
    if ids is None:
        ids = term_ids(index, terms)
    weights: dict[str, float] = {}
    for term in terms:
        if ids[term] is not None:
            weights[term] = weights.get(term, 0.0) + 1.0
    if not config.fuzzy:
        return weights
    rare = max(3, index.n_passages // 500)
    df = index.df
    for term, tid in ids.items():
        if not _fuzzy_eligible(term, tid is not None, config) or not term.isalpha() or term.isascii():
            continue
        if tid is not None and df(tid) > rare:
            continue
        variants = [(df, v) for df, v in known_variants(index, term) if v not in weights]  # type: ignore[arg-type]
        if tid is not None:
            variants = [(df, v) for df, v in variants if df <= rare]
        for _, v in sorted(variants, reverse=True)[:3]:
            weights[v] = weights.get(v, 0.0) + config.fuzzy_weight
    return weights


def term_ids(index: LiveIndex, terms: list[str]) -> dict[str, int | None]:
    """Each distinct question word (in first-seen order) with its live term id, None if no live passage holds it.

    Looked up once a question: a live vocabulary's lookup is a Python method.
    """
    get = index.vocabulary.get
    return {term: get(term) for term in dict.fromkeys(terms)}


def query_terms(index: Index, terms: list[str], expanded: dict[str, float], config: RetrievalConfig, *,
                ids: dict[str, int | None] | None = None, tid_of: dict[str, int] | None = None,
                ) -> list[rerank.QueryTerm]:
    """Each distinct question word with the index terms standing for it (its spelling variants at their weight).

    A variant is matched back to its word by an edit-distance check on
    the few variants `expand` found, not by regenerating every word's
    hundreds of one-edit neighbours. `ids` (`term_ids`) and `tid_of` (each expanded term's id), when
    the caller has them, spare the lookups.
    """
    index = live(index)
    if ids is None:
        ids = term_ids(index, terms)
    variants = [v for v in expanded if v not in ids]
    vocabulary = index.vocabulary if tid_of is None else tid_of
    idf = index.idf
    n = index.n_passages
    unseen_idf = math.log(n + 0.5) - math.log(0.5) if n else 0.0  # bm25.idf_of's for a word never seen
    out = []
    fuzzy = config.fuzzy and variants
    for term, tid in ids.items():
        if tid is None:
            matches = []
            if fuzzy and _fuzzy_eligible(term, False, config):
                # Credit for coverage: a variant of a word the index knows is another word, partly; of one
                # it has never seen, the same word misspelled (scores keep fuzzy_weight either way).
                matches = [(vocabulary[v], 1.0) for v in one_edit_of(term, variants)]
            out.append(rerank.QueryTerm(unseen_idf, tuple(matches)))
            continue
        matches = [(tid, 1.0)]
        if fuzzy and _fuzzy_eligible(term, True, config):
            credit = config.fuzzy_weight
            matches += [(vocabulary[v], credit) for v in one_edit_of(term, variants)]
        # .item: a Python float at once (the value float() of the numpy scalar gives); then max(idf, 0.0)'s
        # choice exactly (the first argument unless 0.0 is greater: -0.0 and NaN kept).
        idf_t = idf.item(tid)
        out.append(rerank.QueryTerm(0.0 if 0.0 > idf_t else idf_t, tuple(matches)))
    return out


def fuzzy_eligible(index: Index, term: str, config: RetrievalConfig) -> bool:
    """Whether a question word is long enough to be matched through its spelling variants."""
    return _fuzzy_eligible(term, term in index.vocabulary, config)


def _fuzzy_eligible(term: str, known: bool, config: RetrievalConfig) -> bool:
    return len(term) >= (config.fuzzy_min_chars if known else config.fuzzy_unknown_min_chars)


def leading_passages(index: LiveIndex, weights: dict[int, float], depth: int) -> list[tuple[int, int]]:
    """(view, passage number in it) of the best passage of each of the top `depth` live articles, best first.

    The order a full build gives: by score, ties to the lower passage id. In one C call when the
    kernel is built (`topk.ViewsKernel`); the Python below is its specification and fallback.
    """
    kernel = index.derived("views_kernel", _views_kernel)
    if kernel is not None:
        return kernel.leading(weights, depth)
    return _leading_passages(index, weights, depth)


def _views_kernel(index: LiveIndex) -> topk.ViewsKernel | None:
    return topk.views_kernel(index.views, [None if seg is None else seg.live for seg in index.segments])


def _leading_passages(index: LiveIndex, weights: dict[int, float], depth: int) -> list[tuple[int, int]]:
    """`leading_passages` in Python, a kernel call per view: the C version's specification."""
    found: list[tuple[float, int, int, int]] = []
    floor: float | None = None
    items = list(weights.items())
    tids = np.fromiter(weights, dtype=np.int64, count=len(items))
    for v, view in enumerate(index.views):
        offsets = view.offsets
        # The terms with postings in this view, checked in one numpy call (not two scalar reads a term).
        w = {t: x for (t, x), has in zip(items, (offsets[tids + 1] > offsets[tids]).tolist(), strict=True) if has}
        if not w:
            continue
        seg = index.segments[v]
        want = depth
        while True:
            # The views after the base need not find articles below the depth-th best found so far.
            docs, scores = topk.top_articles(view, w, want, floor)
            pids = view.passage_ids[docs].tolist()
            if seg is None:
                kept = [(-s, pid, v, d) for d, s, pid in zip(docs.tolist(), scores.tolist(), pids, strict=True)]
                break
            live_marks = seg.live[docs].tolist()
            kept = [(-s, pid, v, d) for d, s, pid, ok in zip(docs.tolist(), scores.tolist(), pids, live_marks,
                                                              strict=True) if ok]
            # A deleted passage scores 0 (its impacts are 0): after every live one whenever all
            # factors are positive. Otherwise live articles may score <= 0 and rank below it: ask for all.
            if (len(kept) == len(docs) or len(docs) < want or want >= view.n_passages
                    or all(x * index.idf[t] > 0 for t, x in w.items())):
                break
            want = view.n_passages
        found += kept
        if len(found) >= depth and v + 1 < len(index.views):
            # The depth-th best score so far (floats alone sort faster than the tuples).
            floor = sorted([-x[0] for x in found], reverse=True)[depth - 1]
    found.sort()
    return [(v, d) for _, _, v, d in found[:depth]]


class _ViewStats:
    """The index-wide statistics with one view's postings in global passage numbers (what confidence reads)."""

    def __init__(self, index: LiveIndex, v: int) -> None:
        self.n_passages = index.n_passages
        self.idf = index.idf
        self.vocabulary = index.vocabulary
        self._view = index.views[v]
        self.start = int(index.starts[v])  # the view's first global passage number

    def docs_of(self, term_id: int) -> np.ndarray:
        docs = self._view.docs_of(term_id)
        return docs + self.start if self.start else docs

    def contains(self, term_id: int, passage: int) -> bool:
        """Whether global passage `passage` (one of this view's) holds the term, without renumbering the list."""
        return bm25.contains(self._view, term_id, passage - self.start)


def leading_evidence(index: Index, terms: list[str], expanded: dict[str, float], depth: int,
                     config: RetrievalConfig, *, mask: np.ndarray | None = None,
                     ids: dict[str, int | None] | None = None,
                     ) -> tuple[list[rerank.QueryTerm], dict[int, float], list[rerank.Evidence]]:
    """The top `depth` articles re-ranked, with what the no-answer check judges them by.

    Returns the question words with their index terms, the term weights,
    and each article's evidence (passages in global numbers), best first.
    `mask` (per global passage number) restricts the articles to those it marks.
    """
    index = live(index)
    get = index.vocabulary.get
    if ids is None:
        ids = term_ids(index, terms)
    # The question's own words' ids are known (`ids`); only their spelling variants are looked up.
    tid_of = {t: tid if (tid := ids.get(t)) is not None else get(t) for t in expanded}
    weights = {tid_of[t]: w for t, w in expanded.items()}
    if None in weights:
        raise KeyError(f"expanded terms not in the index: {[t for t in expanded if get(t) is None]}")
    leaders = (leading_passages(index, weights, depth) if mask is None
               else newsrank.leading_passages(index, weights, depth, mask))
    qterms = query_terms(index, terms, expanded, config, ids=ids, tid_of=tid_of)  # type: ignore[arg-type]
    rw = _rerank_weights(config)
    kernel = rerank.rerank_views(index)
    found = None if kernel is None else kernel.evidence(leaders, weights, qterms, rw)
    if found is not None:  # best first already, equal scores in the passage ranking's order
        return qterms, weights, found
    by_view: dict[int, list[int]] = {}
    for v, d in leaders:
        by_view.setdefault(v, []).append(d)
    views = list(by_view)
    parts = [(index.views[v], rerank.article_layout(index.views[v]), by_view[v]) for v in views]
    evidence = rerank.rerank_parts(parts, weights, qterms, rw)
    if len(views) == 1 and not index.starts[views[0]]:
        # One view numbered from 0: its leaders are `leaders` in order, its passages global numbers.
        ranked = [e for _, e in evidence]
    else:
        # rerank_parts answers in the order of the parts' leaders: view by view, each view's in turn;
        # so a leader's evidence is the next one of its view's run (`at`: where each view's next is).
        at, n = {}, 0
        for v in views:
            at[v] = n
            n += len(by_view[v])
        if n != len(evidence):
            raise RuntimeError(f"re-ranking answered {len(evidence)} articles for {n} leaders")
        starts = index.derived("starts_list", _starts_list)
        ranked = []
        for v, _ in leaders:
            e = evidence[at[v]][1]
            at[v] += 1
            # The passage renumbered globally in place: rerank_parts made this Evidence for this call
            # alone, and nothing has seen it yet (a new one cost ~0.5 µs, a replace ~5 µs, 30 a question).
            e.passage += starts[v]
            ranked.append(e)
    # Stable: equal scores keep the passage ranking's order.
    return qterms, weights, sorted(ranked, key=lambda e: -e.score)


def _rerank_weights(config: RetrievalConfig) -> rerank.RerankWeights:
    """The re-ranking weights of `config` (one object per configuration, not one a question)."""
    key = (config.lead_boost, config.spread_weight)
    rw = _RERANK_WEIGHTS.get(key)
    if rw is None:
        if len(_RERANK_WEIGHTS) >= 16:  # bounded whatever configurations come and go
            _RERANK_WEIGHTS.clear()
        rw = _RERANK_WEIGHTS[key] = rerank.RerankWeights(*key)
    return rw


_RERANK_WEIGHTS: dict[tuple[float, float], rerank.RerankWeights] = {}


def judge(index: Index, terms: list[str], qterms: list[rerank.QueryTerm], weights: dict[int, float],
          evidence: list[rerank.Evidence], config: RetrievalConfig) -> str:
    """How sure the best answer is: "refuse" (nothing meaningful matched), "low" (closest matches) or "high"."""
    if evidence[0].article_coverage < config.min_coverage:
        return "refuse"
    index = live(index)
    low = confidence.names_unseen_year(index, terms)  # type: ignore[arg-type]
    # A passage holding every question word is as good an answer as word
    # matching can find: the model judges partial matches only. (Without
    # this it refused one-word news questions such as ترامب, which match
    # hundreds of articles equally well.)
    if config.min_confidence <= 0 or evidence[0].passage_coverage >= FULL_COVERAGE:
        return "low" if low else "high"
    v = index.locate(evidence[0].passage)[0]
    stats = _ViewStats(index, v)
    kernel = rerank.rerank_views(index)
    if kernel is not None:
        start = stats.start

        def contains(tid: int, passage: int) -> bool:
            return kernel.holds(v, tid, passage - start)
    else:
        contains = stats.contains
    x = confidence.features(stats, terms, qterms, weights, evidence, contains=contains)  # type: ignore[arg-type]
    p = confidence.answerable_probability(x)
    if p < config.min_confidence:
        return "refuse"
    return "low" if low or p < config.low_confidence else "high"


def rank(index: Index | None, query: str, k: int, offset: int, config: RetrievalConfig, *,
         mask: np.ndarray | None = None, published: np.ndarray | None = None) -> Ranking:
    """The CPU part of a search: analysis, scoring, one passage per article, re-ranking, no-answer check.

    `mask` (per global passage number) restricts the ranking to the passages it marks (date and
    outlet filters); with `published` (per global passage number) the confident matches are
    ordered newest first.
    """
    terms = analyze_query(query)
    if not terms and mask is not None and published is not None and index is not None:
        # A window and no subject (أخبار أمس): that window's articles, newest first (newsrank).
        latest = newsrank.latest_in(live(index), mask, published, offset + k + 1)
        return Ranking(terms, {}, latest[offset:offset + k], len(latest) > offset + k,
                       None if latest else "empty_window")
    if not terms:
        return Ranking(terms, {}, [], False, "no_terms")
    if index is None or index.n_passages == 0:
        return Ranking(terms, {}, [], False, "unknown_terms")
    index = live(index)
    ids = term_ids(index, terms)  # looked up once for the steps below (a live vocabulary's lookup is Python)
    expanded = expand(index, terms, config, ids=ids)
    if not expanded:
        return Ranking(terms, {}, [], False, "unknown_terms")
    wanted = offset + k + 1  # one more than shown tells whether a next page exists
    # Every page re-ranks the same leading articles, so paging through
    # them neither repeats nor skips one.
    depth = max(wanted, config.rerank_depth if published is None else newsrank.NEWEST_DEPTH)
    qterms, weights, evidence = leading_evidence(index, terms, expanded, depth, config, mask=mask, ids=ids)
    verdict = judge(index, terms, qterms, weights, evidence, config) if evidence else "high"
    if offset == 0 and verdict == "refuse":
        return Ranking(terms, expanded, [], False, "weak")
    if published is not None:
        evidence = newsrank.newest_first(evidence, published)
    picked = [(e.passage, e.score) for e in evidence[:wanted]]
    return Ranking(terms, expanded, picked[offset:offset + k], len(picked) == wanted, None,
                   "low" if verdict == "low" else "high")
