"""Exact top k by BM25 without scoring every candidate: MaxScore pruning, in C when built.

`_top_numpy` is the specification and the fallback of the C kernel
(retrieval/_topk.c): the same passages, order and bit-identical scores.
"""

from __future__ import annotations

import logging
import math
import os
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

from .bm25 import BM25Index
from .scoring import Factors, rank, score

# Pruning is tried only when the lists still to come hold at least this many
# postings (below that, scanning them costs less than the check).
_PRUNE_MIN_POSTINGS = 4096
# Slack on the bounds so float rounding of a sum can never beat them.
_BOUND_SLACK = 1e-9
# After pruning, the candidates still in the race are re-filtered after each
# list while there are at least this many (below, the filter costs more than
# the lookups it saves).
_SHRINK_MIN = 512
# Looking a candidate up in a list by binary search costs about as much as
# scanning this many of the list's postings (adding, reading back, clearing):
# candidates are looked up only when they are fewer than a list's length over this.
_LOOKUP_COST = 4
# The k-th best score is estimated from the lists of the rarest words, up to
# this many postings (more than the first list only if it is shorter).
_PROBE_POSTINGS = 8192
# A check is made only before a list at least this many times the probe's length.
_CHECK_BEFORE = 4


def top_articles(index: BM25Index, weights: dict[int, float], k: int,
                 floor: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The best passage of each of the top k articles, as (passage numbers, scores), best first.

    An article ranks by its best passage (the highest score, ties to the
    lowest passage number), articles by that score, ties again by passage
    number: the same as walking a long enough top k of passages and keeping each
    article's first passage. Pruning here is bounded by the k-th best
    article rather than by the k-th best passage, which is higher when the
    passages of a few articles crowd the top (and asking for a top k of
    several passages per article lowers its bound further).

    With `floor` (a score the caller already holds k better articles than: another segment's k-th
    best), the C kernel may leave out articles scoring below it, so fewer than k may come back.
    """
    return top(index, weights, k, index.article_numbers, floor)


def top(index: BM25Index, weights: dict[int, float], k: int, groups: np.ndarray | None,
        floor: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Top k passages, or with `groups` (the group of each passage) the best passage of each of the top k groups.

    The C kernel when it is built (and the index has the array types it
    reads), else the numpy version, its specification: the same passages,
    order and bit-identical scores (tests/test_native_topk.py).
    """
    if k <= 0 or not weights:
        return np.empty(0, dtype=np.int32), np.empty(0, dtype=np.float64)
    if USE_NATIVE_TOPK and index.derived("native_topk", _native_layout):
        return _top_native(index, weights, k, groups, **({} if floor is None else {"floor": floor}))
    return _top_numpy(index, weights, k, groups)  # the whole top k: a floor only lets the kernel stop sooner


# --- the same top k in C ---------------------------------------------------------------

# retrieval/_topk.c runs `_top_numpy` below in C: the same term order, the same additions in
# the same order (so bit-identical sums), MaxScore pruning with a top-k heap that knows the
# k-th best at every step, where the numpy version pays ~10 calls of Python overhead each: 3-6×
# faster at 100k and 1M passages (docs/performance.md, "Scoring kernel in C", has the figures
# and the command).
try:
    from . import _topk as _native_topk
except ImportError as exc:  # built without a C compiler: correct, only slower
    logging.getLogger(__name__).warning(
        "native top-k kernel unavailable (%s): ranking uses the numpy version, several times slower", exc)
    _native_topk = None

NATIVE_TOPK: bool = _native_topk is not None
# NEWSBOT_NUMPY_TOPK=1 makes `top` use the numpy version although the kernel is built: for
# A/B measurements of whole processes (benchmarks/serve_probe.py run with and without it).
USE_NATIVE_TOPK: bool = NATIVE_TOPK and os.environ.get("NEWSBOT_NUMPY_TOPK") != "1"


def _native_layout(index: BM25Index) -> bool:
    """Whether the index arrays have the types and layout the kernel reads (build_index's and load_index's do)."""
    wanted = (("offsets", np.int64), ("doc_ids", np.int32), ("idf", np.float64), ("max_impact", np.float32),
              *((("codes", np.uint32), ("table", np.float32)) if index.codes is not None
                else (("impacts", np.float32),)))
    return all(getattr(index, name).dtype == dtype and getattr(index, name).flags.c_contiguous
               for name, dtype in wanted)


def _top_native(index: BM25Index, weights: dict[int, float], k: int, groups: np.ndarray | None,
                **test_options: Any) -> tuple[np.ndarray, np.ndarray]:
    """`_top_numpy`'s result from the C kernel (which must be built).

    `test_options` go to the kernel as they are: `prune_min` (prune on small indexes too),
    `complete_cost` (0: switch to completing candidates however many are left) and `stats` (a list
    that gets where pruning started and how many candidates it completed).
    """
    if _native_topk is None:
        raise RuntimeError("retrieval._topk is not built: run `pip install -e .` with a C compiler")
    size = max(min(k, index.n_passages), 0)
    docs = np.empty(size, dtype=np.int32)
    scores = np.empty(size, dtype=np.float64)
    coded = index.codes is not None
    found = _native_topk.top(index.offsets, index.doc_ids, index.codes if coded else index.impacts, index.idf,
                             index.max_impact, list(weights), list(weights.values()), size, groups,
                             index.scratch()[0], docs, scores, table=index.table if coded else None, **test_options)
    return docs[:found], scores[:found]


class ViewsKernel:
    """`query.leading_passages` in one C call over every view of a live index (`_topk.Views`).

    The views' arrays are taken and checked once per snapshot, not once per view and question;
    the scratch buffer (one slot per passage of the largest view) is per thread, as `BM25Index`'s.
    """

    def __init__(self, views: list[tuple[Any, ...]]) -> None:
        if _native_topk is None:
            raise RuntimeError("retrieval._topk is not built: run `pip install -e .` with a C compiler")
        self._views = _native_topk.Views(views)
        self._size = self._views.max_passages
        self._scratch = threading.local()

    def leading(self, weights: dict[int, float], depth: int, **test_options: Any) -> list[tuple[int, int]]:
        """(view, passage number) of the best passage of each of the top `depth` live articles, best first.

        `test_options` go to the kernel as they are (`floor_prune_min`: prune small segments too).
        """
        buf = getattr(self._scratch, "buf", None)
        if buf is None:
            buf = self._scratch.buf = np.zeros(max(self._size, 1), dtype=np.float64)
        return self._views.leading(list(weights), list(weights.values()), depth, buf, **test_options)


def views_kernel(views: Sequence[BM25Index], live: Sequence[np.ndarray | None]) -> ViewsKernel | None:
    """The C kernel over `views` (with their live-passage marks, None where none is deleted), or None
    when it is not built, switched off, or some view's arrays are not of the types it reads."""
    if not USE_NATIVE_TOPK or not all(view.derived("native_topk", _native_layout) for view in views):
        return None
    return ViewsKernel([(view.offsets, view.doc_ids, view.codes if view.codes is not None else view.impacts,
                         view.table if view.codes is not None else None, view.idf, view.max_impact,
                         view.article_numbers, marks, view.passage_ids)
                        for view, marks in zip(views, live, strict=True)])


# --- the numpy version -----------------------------------------------------------------

def _top_numpy(index: BM25Index, weights: dict[int, float], k: int,
               groups: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Top k passages, or with `groups` (the group of each passage) the best passage of each of the top k groups.

    Terms are added from the highest possible contribution down: rare words
    first, their lists short (MaxScore, vectorised). Once the k-th best
    partial score (of a passage, or of a group's best passage) beats
    everything the remaining terms could add together, no passage outside
    the candidates can reach the top k: the remaining long (common-word)
    lists only complete the scores of candidates still in the race
    (`_prune`). The k-th best is estimated from the lists of the rarest
    words alone (`_probe`): any subset gives a lower bound, and this one
    nearly always holds the leaders.
    """
    if k <= 0 or not weights:
        return np.empty(0, dtype=np.int32), np.empty(0, dtype=np.float64)
    # np.float64 factors keep the products in float64 (a Python float would
    # be "weak" under NumPy 2 and leave them in the impacts' float32).
    factors = [(tid, np.float64(w) * index.idf[tid]) for tid, w in weights.items()]
    if len(factors) == 1 or any(f <= 0 for _, f in factors):
        cand, scores = score(index, weights)
        return _best(cand, scores, k, 1, groups)
    bounds = [f * np.float64(index.max_impact[tid]) for tid, f in factors]
    order = sorted(range(len(factors)), key=lambda i: (-bounds[i], factors[i][0]))
    terms = [factors[i] for i in order]
    bound = [float(bounds[i]) for i in order]
    left = [*np.cumsum(bound[::-1])[::-1].tolist(), 0.0]  # left[j]: the most terms j.. can add
    rest = [*np.cumsum([index.df(tid) for tid, _ in terms][::-1])[::-1].tolist(), 0]
    buf, _ = index.scratch()
    added: list[np.ndarray] = []
    # The probe's k-th best cannot exceed `ceiling` (its value at the last
    # check plus what the terms added since can add): no check while that is too low.
    ceiling, probed = math.inf, 0
    # The probe: the first lists (the rarest words), up to _PROBE_POSTINGS postings, at least one list.
    probe_lists = 1
    while probe_lists < len(terms) and rest[0] - rest[probe_lists + 1] <= _PROBE_POSTINGS:
        probe_lists += 1
    try:
        for j, (tid, f) in enumerate(terms):
            docs, imp = index.postings(tid)
            if j and rest[j] >= _PRUNE_MIN_POSTINGS:
                lists = min(j, probe_lists)
                size = rest[0] - rest[lists]
                if lists != probed:  # a grown probe: its k-th best is not bounded by the last one's
                    ceiling, probed = math.inf, lists
                # Only when what pruning would save outweighs the check: before
                # a list several times longer than the probe (a shorter one costs
                # little to add, and makes the next check likelier to succeed).
                if _reach(left[j]) < ceiling and docs.size >= _CHECK_BEFORE * size:
                    probe = _probe(index, terms, lists)
                    kth = _kth(probe, buf[probe], k, lists, groups)
                    if kth is not None and _reach(left[j]) < kth:
                        return _prune(index, terms, left, j, buf, kth, k, groups, (probe, lists))
                    ceiling = math.inf if kth is None else kth
            # add.at adds in element order and terms come in a fixed order,
            # so equal passages get bit-identical sums.
            np.add.at(buf, docs, imp * f)
            added.append(docs)
            ceiling += bound[j]
        cand = np.concatenate(added)
        totals = buf[cand]
    finally:
        _clear(buf, added)
    return _best(cand, totals, k, len(terms), groups)


def _probe(index: BM25Index, terms: Factors, lists: int) -> np.ndarray:
    """The postings of the first `lists` terms: those of the rarest words.

    A passage that ranks high nearly always holds one of the rarest words
    of the question, so the k-th best among these few passages is close to
    the k-th best among all candidates, at a fraction of the cost.
    """
    if lists == 1:
        return index.postings(terms[0][0])[0]
    return np.concatenate([index.postings(tid)[0] for tid, _ in terms[:lists]])


def _prune(index: BM25Index, terms: Factors, left: list[float], j: int, buf: np.ndarray, kth: float, k: int,
           groups: np.ndarray | None, probe: tuple[np.ndarray, int]) -> tuple[np.ndarray, np.ndarray]:
    """The result once terms[j:] cannot bring in a new passage: terms[:j] are in `buf`, and `kth` is a k-th best.

    From here on only candidates that can still reach `kth` (a partial score
    plus what the remaining terms can add) get the remaining terms added,
    in `buf` as before: a long list is read at every posting against the
    partial scores in `buf` (nothing is added for the rest, and no new
    passage enters), or, once the candidates still in the race are few
    against it, each of them is looked up in it by binary search.
    """
    alive: np.ndarray | None = None  # the candidates still in the race, once gathered
    for i in range(j, len(terms)):
        tid, f = terms[i]
        docs, imp = index.postings(tid)
        reach = _reach(left[i])
        if alive is None:
            # A passage outside the first q lists has at most left[q] from
            # terms[q:] in all: below kth, the top k lies within those lists.
            q = _lists_holding_top(left, j, kth)
            if sum(index.df(t) for t, _ in terms[:q]) <= docs.size:  # gathering them costs less than a scan
                alive = _in_race(index, terms, q, buf, reach, kth)
        if alive is not None and alive.size * _LOOKUP_COST <= docs.size:
            pos = np.searchsorted(docs, alive)
            np.minimum(pos, docs.size - 1, out=pos)
            hit = np.flatnonzero(docs[pos] == alive)
            buf[alive[hit]] += imp[pos[hit]] * f  # the same single addition as add.at's
        else:
            got = buf[docs]
            # Not a candidate (0) or out of the race: nothing to add.
            hit = np.flatnonzero(got + reach >= kth)
            buf[docs[hit]] = got[hit] + imp[hit] * f
        if i + 1 < len(terms):
            # Scores are more complete now: a higher k-th best, fewer in the race.
            if alive is None:
                kth = max(kth, _kth(probe[0], buf[probe[0]], k, probe[1], groups) or kth)
            elif alive.size >= _SHRINK_MIN:
                vals = buf[alive]
                kth = max(kth, _kth(alive, vals, k, 1, groups) or kth)
                alive = alive[vals + _reach(left[i + 1]) >= kth]
    if alive is None:
        q = _lists_holding_top(left, j, kth)
        cand = np.concatenate([index.postings(t)[0] for t, _ in terms[:q]])
        return _best(cand, buf[cand], k, q, groups)
    return _best(alive, buf[alive], k, 1, groups)


def _lists_holding_top(left: list[float], j: int, kth: float) -> int:
    """The fewest first lists (at most j) that hold every passage able to score kth: left[q] < kth."""
    q = j
    while q > 1 and _reach(left[q - 1]) < kth:
        q -= 1
    return q


def _in_race(index: BM25Index, terms: Factors, q: int, buf: np.ndarray, reach: float, kth: float) -> np.ndarray:
    """Distinct passages of the first q lists whose partial score in `buf` plus `reach` makes `kth`, ascending."""
    cand = np.concatenate([index.postings(t)[0] for t, _ in terms[:q]]) if q > 1 else index.postings(terms[0][0])[0]
    return _distinct(cand[buf[cand] + reach >= kth])[0]


def _reach(bound: float) -> float:
    """A bound on what terms can add, raised so that float rounding of a sum can never beat it."""
    return bound * (1 + _BOUND_SLACK)


def _score_prefix(totals: np.ndarray, m: int) -> np.ndarray | None:
    """Positions of the entries scoring at least the m-th best (every entry tied with it included), or None for all."""
    if totals.size <= m:
        return None
    mth = np.partition(totals, totals.size - m)[totals.size - m]
    return np.flatnonzero(totals >= mth)


def _kth(cand: np.ndarray, totals: np.ndarray, k: int, lists: int, groups: np.ndarray | None) -> float | None:
    """The k-th best score among distinct passages (or groups' best passages) of `cand`, None if fewer.

    `cand` holds each passage at most `lists` times, each time with the same total.
    """
    m = k * lists
    while True:
        sel = _score_prefix(totals, m)
        docs, vals = (cand, totals) if sel is None else (cand[sel], totals[sel])
        if groups is None:
            # The best m entries hold at least k distinct passages, hence the k best.
            distinct = vals[_distinct(docs)[1]]
        else:
            by_score = np.argsort(-vals)
            distinct = vals[by_score[_first_of_each(groups[docs[by_score]])]]  # each group's best entry
        if distinct.size >= k:
            return float(np.partition(distinct, distinct.size - k)[distinct.size - k])
        if sel is None:
            return None
        m *= 4  # a few groups filled the prefix: widen it


def _best(cand: np.ndarray, totals: np.ndarray, k: int, lists: int,
          groups: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Top k distinct passages of `cand` (or each top group's best passage), best first, ties by passage number."""
    m = k * lists
    while True:
        sel = _score_prefix(totals, m)
        docs, vals = (cand, totals) if sel is None else (cand[sel], totals[sel])
        docs, first = _distinct(docs)
        vals = vals[first]
        if groups is None:
            best = rank(docs, vals, k)
            return docs[best], vals[best]
        ranked = np.lexsort((docs, -vals))
        docs, vals = docs[ranked], vals[ranked]
        # The prefix holds every passage scoring at least its last one, so the
        # first passage of each group in ranked order is that group's best.
        heads = _first_of_each(groups[docs])
        if heads.size >= k or sel is None:
            heads = heads[:k]
            return docs[heads], vals[heads]
        m *= 4


def _distinct(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct values of `a`, ascending, and a position of each in `a`.

    np.unique does the same 5-10x slower on this NumPy (a hash table without
    return_index, a stable sort with it): a plain sort and a mask.
    """
    order = np.argsort(a)
    ordered = a[order]
    keep = np.empty(ordered.size, dtype=np.bool_)
    keep[:1] = True
    np.not_equal(ordered[1:], ordered[:-1], out=keep[1:])
    return ordered[keep], order[keep]


def _first_of_each(values: np.ndarray) -> np.ndarray:
    """Positions of the first occurrence of each distinct value, ascending (values: non-negative, below 2**31)."""
    n = values.size
    # One sort of value × n + position: each value's run starts at its first position.
    key = values.astype(np.int64) * n + np.arange(n)
    key.sort()
    value = key // n
    keep = np.empty(n, dtype=np.bool_)
    keep[:1] = True
    np.not_equal(value[1:], value[:-1], out=keep[1:])
    return np.sort(key[keep] - value[keep] * n)


def _clear(buf: np.ndarray, touched: list[np.ndarray]) -> None:
    total = sum(t.size for t in touched)
    if total * 4 > buf.size:
        buf.fill(0.0)
    else:
        for t in touched:
            buf[t] = 0.0
