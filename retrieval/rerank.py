"""Article-level evidence over the top of a passage ranking.

BM25 ranks passages; the bot shows articles. Summing an article's passage
scores was tried and failed (docs/retrieval-quality.md, row 10): a long
article piles up evidence from common words. What is measured here counts
each question word once per article instead:

* the best passage's score, as before;
* the lead: news is written as an inverted pyramid, the first passage sums
  up the story, so its score counts a little more;
* spread: question words the best passage lacks but the article has
  elsewhere add what they would have added to the passage at one occurrence
  (a headline's words are scattered over the story it heads).

Only the top `depth` articles of the passage ranking are re-ordered, so the
cost is a binary search per query term over the passages of a few dozen
articles, and an article outside the first `depth` can never be promoted.
The same pass yields what the no-answer check needs (`Evidence`).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, fields
from typing import Any, NamedTuple

import numpy as np

from . import bm25


@dataclass(frozen=True, slots=True)
class ArticleLayout:
    """Where each article's passages are: derived once per index from `article_ids`."""

    order: np.ndarray  # passage numbers grouped by article, ascending within each article
    start: np.ndarray  # per passage number: first position of its article's group in `order`
    end: np.ndarray  # per passage number: one past the last position of its group
    ordinal: np.ndarray  # per passage number: its place in its article (0 = the lead)

    @classmethod
    def of(cls, index: bm25.BM25Index) -> ArticleLayout:
        articles = index.article_ids
        n = articles.size
        # Passages are numbered in database id order, and an article's passages
        # are written together in reading order; a stable sort by article keeps
        # that order inside each group even if an article's passages are not
        # adjacent (say, an article updated after others were added).
        order = np.argsort(articles, kind="stable").astype(np.int32)
        grouped = articles[order]
        bounds = np.flatnonzero(grouped[1:] != grouped[:-1]) + 1
        starts = np.concatenate(([0], bounds)).astype(np.int64)
        ends = np.concatenate((bounds, [n])).astype(np.int64)
        group = np.zeros(n, dtype=np.int64)
        if bounds.size:
            group[bounds] = 1
        group = np.cumsum(group)
        # int32: 16 bytes a passage for the four arrays (16 MB at a million
        # passages); built on the first question after an index swap (~70 ms
        # at a million passages).
        start, end, ordinal = (np.empty(n, dtype=np.int32) for _ in range(3))
        start[order] = starts[group]
        end[order] = ends[group]
        ordinal[order] = np.arange(n, dtype=np.int64) - starts[group]
        return cls(order=order, start=start, end=end, ordinal=ordinal)

    def passages_of(self, passage: int) -> np.ndarray:
        """All passage numbers of the article holding `passage`, in reading order."""
        return self.order[self.start[passage]:self.end[passage]]


def article_layout(index: bm25.BM25Index) -> ArticleLayout:
    """The layout of `index`, derived on its first question and kept with it."""
    return index.derived("article_layout", ArticleLayout.of)


class QueryTerm(NamedTuple):
    """One distinct question word: its idf, and the index terms that stand for it with their credit.

    A named tuple (immutable, ~0.25 µs to make against 0.7 µs for a frozen dataclass; a question
    makes one per word), which the re-ranking kernel reads as a tuple.
    """

    idf: float
    matches: tuple[tuple[int, float], ...]  # (term id, credit: 1 for the word itself, less for a variant)


@dataclass(frozen=True, slots=True)
class RerankWeights:
    lead_boost: float  # the lead passage's score × (1 + lead_boost)
    spread_weight: float  # share of a missing word's one-occurrence score credited when elsewhere in the article


@dataclass(slots=True)
class Evidence:
    """What the re-ranking saw for one article (a value once ranked: only `query.leading_evidence` renumbers its
    passage globally, right after `rerank_parts` made it).

    Not a frozen dataclass: a question makes ~30 of these, and a frozen one's __init__ (a
    generic setattr per field) cost 1.2 µs each against 0.3 µs.
    """

    passage: int  # the passage shown for it
    score: float  # the article's score after re-ranking
    passage_score: float  # that passage's plain BM25 score
    passage_coverage: float  # share of the question's idf mass present in that passage
    article_coverage: float  # share present anywhere in the article


def rerank(index: bm25.BM25Index, layout: ArticleLayout, weights: dict[int, float], query: list[QueryTerm],
           leaders: list[int], rw: RerankWeights) -> list[Evidence]:
    """Evidence for the articles of `leaders` (each article's best passage), best first."""
    out = [e for _, e in rerank_parts([(index, layout, leaders)], weights, query, rw)]
    # Stable: equal scores keep the passage ranking's order.
    return sorted(out, key=lambda e: -e.score)


def rerank_parts(parts: list[tuple[bm25.BM25Index, ArticleLayout, list[int]]], weights: dict[int, float],
                 query: list[QueryTerm], rw: RerankWeights) -> list[tuple[int, Evidence]]:
    """Evidence for leading articles held in several indexes (the segments of one index, sharing its
    term ids and idf): (part, evidence with the passage numbered in that part), in the order of the
    parts' leaders. One pass for all, so a question pays the fixed costs once, however many segments.

    The C kernel when it is built (and the arrays have the types it reads), else the numpy
    version, its specification: bit-identical evidence (tests/test_rerank.py).
    """
    if USE_NATIVE_RERANK and all(index.derived("native_rerank", _native_arrays) for index, _, _ in parts):
        return _rerank_parts_native(parts, weights, query, rw)
    return _rerank_parts_numpy(parts, weights, query, rw)


# --- the per-passage work in C ------------------------------------------------------------

# retrieval/_rerank.c scores every passage of the leading articles, picks each article's best
# passage and the words' credits in one pass, where the numpy version makes ~10 numpy calls per
# term and ~30 fixed ones (~0.4 ms a question at 100k passages, the largest part of ranking).
# `_rerank_parts_native` leaves the dot products to numpy (below), so that every float is the one the
# numpy version makes; `RerankViews` (the path a question takes) makes them in C, in the order
# OpenBLAS sums them, where a check when this module loads finds that order on this machine.
try:
    from . import _rerank as _native_rerank
except ImportError as exc:  # built without a C compiler: correct, only slower
    logging.getLogger(__name__).warning(
        "native re-ranking kernel unavailable (%s): re-ranking uses the numpy version, slower", exc)
    _native_rerank = None

NATIVE_RERANK: bool = _native_rerank is not None
# NEWSBOT_NUMPY_RERANK=1 makes `rerank_parts` use the numpy version although the kernel is built
# (for A/B measurements of whole processes).
USE_NATIVE_RERANK: bool = NATIVE_RERANK and os.environ.get("NEWSBOT_NUMPY_RERANK") != "1"


def _native_arrays(index: bm25.BM25Index) -> bool:
    """Whether the index arrays have the types and layout the kernel reads (build_index's and load_index's do)."""
    wanted = (("offsets", np.int64), ("doc_ids", np.int32), ("idf", np.float64),
              *((("codes", np.uint32), ("table", np.float32)) if index.codes is not None
                else (("impacts", np.float32),)))
    return all(getattr(index, name).dtype == dtype and getattr(index, name).flags.c_contiguous
               for name, dtype in wanted)


def _rerank_parts_native(parts: list[tuple[bm25.BM25Index, ArticleLayout, list[int]]], weights: dict[int, float],
                         query: list[QueryTerm], rw: RerankWeights) -> list[tuple[int, Evidence]]:
    """`_rerank_parts_numpy`'s result, the per-passage work done by the C kernel (which must be built)."""
    if _native_rerank is None:
        raise RuntimeError("retrieval._rerank is not built: run `pip install -e .` with a C compiler")
    parts = [(index, layout, leaders) for index, layout, leaders in parts if leaders]
    if not parts:
        return []
    idf = parts[0][0].idf
    # The numpy version's term order (a set's), which is the order each passage's sum is formed in.
    tids = list({tid for term in query for tid, _ in term.matches} | weights.keys())
    slot = {tid: k for k, tid in enumerate(tids)}
    words = [[(slot[tid], c) for tid, c in term.matches] for term in query]
    # weights.get(tid, 0.0): the weight the numpy version's `unit` multiplies (the kernel computes it).
    term_weights = [weights.get(tid, 0.0) for tid in tids]
    n, g_count = len(query), sum(len(leaders) for _, _, leaders in parts)
    best = np.empty(g_count, dtype=np.int64)
    boosted, plain = np.empty(g_count), np.empty(g_count)
    credit, in_article, missing = np.empty(g_count * n), np.empty(g_count * n), np.empty(g_count * n)
    # What each query word adds at one occurrence (the numpy version's `unit`), from the first call.
    unit = np.empty(n)
    passages, g0, part_of = 0, 0, []
    for p, (index, layout, leaders) in enumerate(parts):
        g1 = g0 + len(leaders)
        coded = index.codes is not None
        passages += _native_rerank.evidence(
            index.offsets, index.doc_ids, index.codes if coded else index.impacts, index.table if coded else None,
            idf, layout.order, layout.start, layout.end, layout.ordinal, leaders, tids, term_weights, words,
            rw.lead_boost, best[g0:g1], boosted[g0:g1], plain[g0:g1], credit[g0 * n:g1 * n],
            in_article[g0 * n:g1 * n], missing[g0 * n:g1 * n], unit if p == 0 else None)
        part_of += [p] * len(leaders)
        g0 = g1
    total_idf = sum(t.idf for t in query) or 1.0
    idfs = np.array([t.idf for t in query], dtype=np.float64)
    # numpy's matmul over a stack of vectors takes each dot product through the same BLAS call, with the
    # same strides, as `a @ b` on one: the numpy version's rows are contiguous, and its best passage's
    # credits are a column of a (words × passages) matrix, strided unless the articles hold one passage.
    rows = credit.reshape(g_count, n)
    if passages > 1:
        columns = np.empty((n, max(g_count, 2)))
        columns[:, :g_count] = rows.T
        rows = columns.T[:g_count]
    spread = np.matmul(unit, missing.reshape(g_count, n, 1))[:, 0]
    passage_cov = np.matmul(idfs, rows[:, :, None])[:, 0]
    article_cov = np.matmul(idfs, in_article.reshape(g_count, n, 1))[:, 0]
    # Elementwise in float64, each operation rounded once as the numpy version's Python floats are.
    scores = (boosted + rw.spread_weight * spread).tolist()
    passage_cov = (passage_cov / total_idf).tolist()
    article_cov = (article_cov / total_idf).tolist()
    return list(zip(part_of, map(Evidence, best.tolist(), scores, plain.tolist(), passage_cov, article_cov),
                    strict=True))


def _dots_match_numpy() -> bool:
    """Whether the kernel's dot products are numpy's, bit for bit, at every length it makes them.

    numpy sums a dot product through OpenBLAS, whose loop (and whether it fuses a multiply and an
    add) depends on the kernel it picked for this CPU; `Layouts.evidence` follows the loop measured
    here, so it is used only where it gives numpy's every float (random vectors, each length, both the
    contiguous and the strided loop).
    """
    if _native_rerank is None:
        return False
    rng = np.random.default_rng(1405)
    for n in range(1, _native_rerank.MAX_DOT_WORDS + 1):
        for _ in range(4):
            x, y = rng.random(n) * rng.uniform(0.5, 12.0), rng.random(n)
            column = np.zeros((n, 3))
            column[:, 1] = y
            if (_native_rerank.dot(x, y, False) != float(x @ y)
                    or _native_rerank.dot(x, y, True) != float(x @ column[:, 1])):
                return False
    return True


# Checked once, when the module loads (~1 ms): see _dots_match_numpy.
NATIVE_DOTS: bool = _dots_match_numpy()


_EVIDENCE_FIELDS = ("passage", "score", "passage_score", "passage_coverage", "article_coverage")


class RerankViews:
    """`rerank_parts` and its caller's renumbering over every view of a live index, in one C call
    (`_rerank.Layouts`): the views' arrays and article layouts taken and checked once per snapshot."""

    def __init__(self, views: list[bm25.BM25Index], starts: list[int]) -> None:
        if _native_rerank is None:
            raise RuntimeError("retrieval._rerank is not built: run `pip install -e .` with a C compiler")
        # The kernel makes Evidence objects by setting these five slots, as its __init__ would.
        if [f.name for f in fields(Evidence)] != list(_EVIDENCE_FIELDS) or hasattr(Evidence, "__post_init__"):
            raise RuntimeError(f"Evidence is no longer {_EVIDENCE_FIELDS} alone: update _rerank.c's Layouts")
        self._layouts = _native_rerank.Layouts([
            (view.offsets, view.doc_ids, view.codes if view.codes is not None else view.impacts,
             view.table if view.codes is not None else None, view.idf, layout.order, layout.start, layout.end,
             layout.ordinal, start)
            for view, layout, start in ((view, article_layout(view), start)
                                        for view, start in zip(views, starts, strict=True))], Evidence)

    def evidence(self, leaders: list[tuple[int, int]], weights: dict[int, float], query: list[QueryTerm],
                 rw: RerankWeights) -> list[Evidence] | None:
        """Evidence for the articles of `leaders` ((view, passage number) of each one's best passage),
        passages numbered globally, best first (equal scores in the leaders' order, as a stable sort
        by score makes it); None when the kernel cannot sum the question's dot products as numpy does
        (more words than `_rerank.MAX_DOT_WORDS`): the caller uses `rerank_parts`.
        """
        # The terms' order (the numpy version's set's, the order each passage's sum is formed in) is
        # made in C from `query` and `weights`; the idf total here, as Python's sum adds floats.
        got = self._layouts.evidence(leaders, query, weights, rw.lead_boost, rw.spread_weight,
                                     sum(t.idf for t in query) or 1.0)
        if got is None:
            return None
        evidence, ranked = got
        # Not ranked when some score is NaN (a damaged index): Python's sort orders those as it always has.
        return evidence if ranked else sorted(evidence, key=lambda e: -e.score)


    def holds(self, view: int, term_id: int, passage: int) -> bool:
        """Whether passage `passage` of view `view` holds the term (`bm25.contains` in one C call)."""
        return self._layouts.holds(view, term_id, passage)


def rerank_views(index: Any) -> RerankViews | None:
    """The one-call kernel over a live index's views (kept with the snapshot), or None where it does not
    apply: not built, switched off (`NEWSBOT_NUMPY_RERANK`), dot products unlike numpy's on this CPU, or
    some view's arrays not of the types it reads."""
    if not (USE_NATIVE_RERANK and NATIVE_DOTS):
        return None
    return index.derived("rerank_views", _rerank_views)


def _rerank_views(index: Any) -> RerankViews | None:
    if not all(view.derived("native_rerank", _native_arrays) for view in index.views):
        return None
    return RerankViews(index.views, index.starts.tolist()[:-1])


# --- the numpy version ---------------------------------------------------------------------

def _rerank_parts_numpy(parts: list[tuple[bm25.BM25Index, ArticleLayout, list[int]]], weights: dict[int, float],
                        query: list[QueryTerm], rw: RerankWeights) -> list[tuple[int, Evidence]]:
    """`rerank_parts` in numpy: the specification of the C kernel and its fallback."""
    parts = [(index, layout, leaders) for index, layout, leaders in parts if leaders]
    if not parts:
        return []
    idf = parts[0][0].idf
    tids = {tid for term in query for tid, _ in term.matches} | weights.keys()
    passage_parts, score_parts, size_parts, lead_parts, credit_parts, part_of = [], [], [], [], [], []
    for p, (index, layout, leaders) in enumerate(parts):
        # The passages of each leading article in turn: its group of layout.order.
        first, sizes = layout.start[leaders], layout.end[leaders] - layout.start[leaders]
        starts = np.zeros(sizes.size, dtype=np.intp)
        np.cumsum(sizes[:-1], out=starts[1:])
        passages = layout.order[np.arange(int(sizes.sum())) + np.repeat(first - starts, sizes)]
        order = np.argsort(passages, kind="stable")
        sorted_passages = passages[order]
        # Every passage of the leading articles, scored exactly as top_k scores
        # them, in ascending passage order (what the binary searches need), put
        # back in article order once at the end.
        sorted_scores = np.zeros(passages.size, dtype=np.float64)
        present: dict[int, np.ndarray] = {}
        for tid in tids:
            docs = index.docs_of(tid)
            if docs.size == 0:  # a term only other segments hold: absent here
                continue
            pos = np.searchsorted(docs, sorted_passages)
            np.minimum(pos, docs.size - 1, out=pos)
            hit = docs[pos] == sorted_passages
            present[tid] = hit
            w = weights.get(tid)
            if w:
                # float32 impacts times a float64 factor: the products top_k adds (0 where absent).
                sorted_scores += np.where(hit, index.impacts_at(tid, pos), np.float32(0)) * (np.float64(w) * idf[tid])
        scores = np.empty_like(sorted_scores)
        scores[order] = sorted_scores
        # credit[i, j]: how much of query word i passage j holds (its best match).
        sorted_credit = np.zeros((len(query), passages.size), dtype=np.float64)
        for i, term in enumerate(query):
            for tid, c in term.matches:
                hit = present.get(tid)
                if hit is not None:
                    np.maximum(sorted_credit[i], hit * c, out=sorted_credit[i])
        credit = np.empty_like(sorted_credit)
        credit[:, order] = sorted_credit
        passage_parts.append(passages)
        score_parts.append(scores)
        size_parts.append(sizes)
        lead_parts.append(layout.ordinal[passages] == 0)
        credit_parts.append(credit)
        part_of += [p] * len(leaders)
    one = len(parts) == 1
    passages = passage_parts[0] if one else np.concatenate(passage_parts)
    scores = score_parts[0] if one else np.concatenate(score_parts)
    sizes = size_parts[0] if one else np.concatenate(size_parts)
    lead = lead_parts[0] if one else np.concatenate(lead_parts)
    credit = credit_parts[0] if one else np.concatenate(credit_parts, axis=1)
    starts = np.zeros(sizes.size, dtype=np.intp)
    np.cumsum(sizes[:-1], out=starts[1:])
    total_idf = sum(t.idf for t in query) or 1.0
    idfs = np.array([t.idf for t in query], dtype=np.float64)
    # What each query word adds to a passage at one occurrence in a passage of average length.
    unit = np.array([max((weights.get(tid, 0.0) * float(idf[tid]) for tid, _ in t.matches), default=0.0)
                     for t in query], dtype=np.float64)
    boosted = np.where(lead, scores * (1.0 + rw.lead_boost), scores)
    # Each article's best passage: the first of its group holding the group's highest boosted score.
    tops = np.flatnonzero(boosted == np.repeat(np.maximum.reduceat(boosted, starts), sizes))
    best = tops[np.searchsorted(tops, starts)]
    # One row per article, contiguous: the dot products below read it row by row.
    in_article = np.maximum.reduceat(credit, starts, axis=1).T.copy()
    missing = np.ascontiguousarray(np.maximum(in_article - credit[:, best].T, 0.0))
    out = []
    for g, (b, passage, boost, score) in enumerate(zip(best.tolist(), passages[best].tolist(), boosted[best].tolist(),
                                                       scores[best].tolist(), strict=True)):
        spread = float(unit @ missing[g])
        out.append((part_of[g], Evidence(
            passage=passage, score=boost + rw.spread_weight * spread, passage_score=score,
            # credit[:, b] a column view, as always: BLAS sums a strided vector in another order.
            passage_coverage=float(idfs @ credit[:, b]) / total_idf,
            article_coverage=float(idfs @ in_article[g]) / total_idf)))
    return out


def one_edit_apart(a: str, b: str) -> bool:
    """Whether b is one insertion, deletion, substitution or swap of adjacent letters away from a."""
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    if len(a) > len(b):
        a, b = b, a
    i = 0
    while i < len(a) and a[i] == b[i]:
        i += 1
    if len(a) < len(b):  # b has one letter more
        return a[i:] == b[i + 1:]
    if a[i + 1:] == b[i + 1:]:  # substitution
        return True
    return i + 1 < len(a) and a[i] == b[i + 1] and a[i + 1] == b[i] and a[i + 2:] == b[i + 2:]
