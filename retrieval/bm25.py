"""BM25 over an inverted index of plain numpy arrays.

Scores are exactly rank-bm25's (`BM25Okapi`, `BM25L`, `BM25Plus`), but a query
touches only the postings of its own terms instead of scanning every passage:
each posting carries its precomputed term-frequency impact, so scoring a term
is one gather-multiply-add over its posting list.

For BM25Plus rank-bm25 also credits passages that lack the term (idf × delta,
a constant per query term); a constant added to every passage changes no
ranking, so the sparse impacts here leave it out.

Layout (CSR by term): the postings of term t are
`doc_ids[offsets[t]:offsets[t+1]]` (ascending passage numbers) with the
matching `impacts`. A passage number is the row of the passage in the index;
`passage_ids` and `article_ids` map it back to the database.

This module holds the index and its build; `indexfile` writes and reads it,
`scoring` scores a query exhaustively and `topk` finds the top k (MaxScore, in
C with the numpy version as its specification and fallback).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from itertools import chain, islice
from typing import Any, TypeVar

import numpy as np

VARIANTS = ("okapi", "l", "plus")

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class BM25Params:
    variant: str = "plus"
    k1: float = 1.5
    b: float = 0.75
    epsilon: float = 0.25  # Okapi: floor for negative idf, as a fraction of the mean idf
    delta: float | None = None  # L/Plus: rank-bm25's defaults are 0.5 and 1.0

    def __post_init__(self) -> None:
        if self.variant not in VARIANTS:
            raise ValueError(f"BM25 variant must be one of {', '.join(VARIANTS)}, not {self.variant!r}")
        if self.k1 < 0 or not 0 <= self.b <= 1:
            raise ValueError("BM25 needs k1 >= 0 and 0 <= b <= 1")

    @property
    def effective_delta(self) -> float:
        if self.delta is not None:
            return self.delta
        return 0.5 if self.variant == "l" else 1.0


@dataclass(frozen=True)
class BM25Index:
    vocabulary: dict[str, int]
    offsets: np.ndarray  # int64, len(vocabulary) + 1
    doc_ids: np.ndarray  # int32, postings
    impacts: np.ndarray  # float32, postings
    idf: np.ndarray  # float64, per term
    doc_len: np.ndarray  # int32, per passage
    passage_ids: np.ndarray  # int64, per passage: passages.id in SQLite
    article_ids: np.ndarray  # int64, per passage: articles.rowid in SQLite
    max_impact: np.ndarray  # float32, per term: its largest impact (bounds what the term can add)
    params: BM25Params = field(default_factory=BM25Params)
    # Coded impacts (retrieval/segment.py): `codes` (uint32, per posting) index `table` (float32), and
    # `impacts` is unused. A segment's table follows the index-wide average passage length, which every
    # added passage moves, while its postings stay as they are.
    codes: np.ndarray | None = None
    table: np.ndarray | None = None
    _scratch: threading.local = field(default_factory=threading.local, repr=False, compare=False)
    _derived: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def n_passages(self) -> int:
        return int(self.doc_len.shape[0])

    def df(self, term_id: int) -> int:
        return int(self.offsets[term_id + 1] - self.offsets[term_id])

    def postings(self, term_id: int) -> tuple[np.ndarray, np.ndarray]:
        lo, hi = self.offsets[term_id], self.offsets[term_id + 1]
        if self.codes is not None:
            return self.doc_ids[lo:hi], self.table[self.codes[lo:hi]]
        return self.doc_ids[lo:hi], self.impacts[lo:hi]

    def docs_of(self, term_id: int) -> np.ndarray:
        """The passage numbers of a term's postings (a view, no copy)."""
        return self.doc_ids[self.offsets[term_id]:self.offsets[term_id + 1]]

    def impacts_at(self, term_id: int, positions: np.ndarray) -> np.ndarray:
        """The impacts of a term's postings at `positions` in its list (only those looked up, coded or not)."""
        lo = self.offsets[term_id]
        if self.codes is not None:
            return self.table[self.codes[lo + positions]]
        return self.impacts[lo + positions]

    @cached_property
    def article_numbers(self) -> np.ndarray:
        """Per passage, its article numbered 0, 1, ... (int32): grouping by article, derived on first use."""
        # Stable: the numbers do not depend on the order among equal ids, and passages come
        # nearly sorted by article (runs), which a stable sort takes in one pass (~10 ms, not ~65
        # ms, at a million passages).
        order = np.argsort(self.article_ids, kind="stable")
        ordered = self.article_ids[order]
        new = np.empty(ordered.size, dtype=np.bool_)
        new[:1] = True
        np.not_equal(ordered[1:], ordered[:-1], out=new[1:])
        numbers = np.empty(ordered.size, dtype=np.int32)
        numbers[order] = np.cumsum(new) - 1
        return numbers

    def kept(self, name: str) -> Any:
        """What `keep` (or `derived`) holds under `name` for this index, None if nothing yet."""
        return self._derived.get(name)

    def keep(self, name: str, value: T) -> T:
        """Hold `value` under `name` as long as this index is: for what is derived asynchronously."""
        self._derived[name] = value
        return value

    def derived(self, name: str, build: Callable[[BM25Index], T]) -> T:
        """`build(self)`, made on first use and kept as long as this index is.

        For what other modules derive from the index alone (the article layout
        re-ranking reads, the spelling variants found so far): a rebuilt index
        is a new object, so nothing derived from an older one can be served.
        """
        try:
            return self._derived[name]
        except KeyError:
            value = self._derived[name] = build(self)
            return value

    def scratch(self) -> tuple[np.ndarray, np.ndarray]:
        """Zeroed per-thread buffers: scores and seen-marks (callers re-zero what they touch)."""
        bufs = getattr(self._scratch, "bufs", None)
        if bufs is None:
            bufs = self._scratch.bufs = (np.zeros(self.n_passages, dtype=np.float64),
                                         np.zeros(self.n_passages, dtype=np.bool_))
        return bufs


# --- building ------------------------------------------------------------------------

def _idf(df: np.ndarray, n: int, params: BM25Params) -> np.ndarray:
    """Per-term idf exactly as rank-bm25 computes it for each variant."""
    df = df.astype(np.float64)
    if params.variant == "okapi":
        idf = np.log(n - df + 0.5) - np.log(df + 0.5)
        if idf.size:
            # rank-bm25 floors negative idf at epsilon × the mean idf of all terms.
            eps = params.epsilon * (idf.sum() / idf.size)
            idf = np.where(idf < 0, eps, idf)
        return idf
    if params.variant == "l":
        return np.log(n + 1) - np.log(df + 0.5)
    return np.log((n + 1) / df)


def _impacts(tf: np.ndarray, dl: np.ndarray, avgdl: float, params: BM25Params) -> np.ndarray:
    k1, b = params.k1, params.b
    norm = 1 - b + b * dl / avgdl
    if params.variant == "okapi":
        return tf * (k1 + 1) / (tf + k1 * norm)
    delta = params.effective_delta
    if params.variant == "l":
        # rank-bm25's BM25L multiplies by tf as well (so an absent term adds
        # nothing); reproduced as is, since matching its rankings is the contract.
        ctd = tf / norm
        return tf * (k1 + 1) * (ctd + delta) / (k1 + ctd + delta)
    return tf * (k1 + 1) / (k1 * norm + tf)  # plus: the +delta part is constant


class _TermIds(dict[str, int]):
    """Term → id, numbering each new term on first sight."""

    def __missing__(self, term: str) -> int:
        tid = self[term] = len(self)
        return tid


def _chunks(items: Iterable[Sequence[str]], size: int) -> Iterator[list[Sequence[str]]]:
    it = iter(items)
    while chunk := list(islice(it, size)):
        yield chunk


def build_index(documents: Iterable[Sequence[str]], passage_ids: Sequence[int] | np.ndarray,
                article_ids: Sequence[int] | np.ndarray, params: BM25Params | None = None) -> BM25Index:
    """Inverted index of tokenised passages (one token list per passage)."""
    params = params or BM25Params()
    term_ids = _TermIds()
    id_chunks, len_chunks = [], []
    # Token → term id through C-level map/fromiter, a chunk of passages at a
    # time: no Python loop per token and no list of Python ints for the
    # whole corpus (tens of millions of tokens at 1M passages). The chunks
    # are small because fromiter holds the GIL throughout: a build in a
    # thread must let the event loop run every few milliseconds.
    for chunk in _chunks(documents, 256):
        flat = list(chain.from_iterable(chunk))
        len_chunks.append(np.fromiter(map(len, chunk), dtype=np.int32, count=len(chunk)))
        id_chunks.append(np.fromiter(map(term_ids.__getitem__, flat), dtype=np.int64, count=len(flat)))
    vocabulary = dict(term_ids)
    doc_len = np.concatenate(len_chunks) if len_chunks else np.empty(0, dtype=np.int32)
    term_ids_flat = np.concatenate(id_chunks) if id_chunks else np.empty(0, dtype=np.int64)
    del id_chunks
    n = int(doc_len.size)
    docs = np.repeat(np.arange(n, dtype=np.int64), doc_len)
    # One sort by (term, passage) turns the token stream into CSR postings
    # with term frequencies: unique keys are postings, their counts the tf.
    keys, tf = np.unique(term_ids_flat * max(n, 1) + docs, return_counts=True)
    posting_terms = keys // max(n, 1)
    doc_ids = (keys % max(n, 1)).astype(np.int32)
    df = np.bincount(posting_terms, minlength=len(vocabulary))
    offsets = np.zeros(len(vocabulary) + 1, dtype=np.int64)
    np.cumsum(df, out=offsets[1:])
    avgdl = float(doc_len.sum()) / n if n else 1.0
    impacts = _impacts(tf.astype(np.float64), doc_len[doc_ids].astype(np.float64), avgdl or 1.0, params)
    impacts = impacts.astype(np.float32)
    return BM25Index(
        vocabulary=vocabulary, offsets=offsets, doc_ids=doc_ids,
        impacts=impacts, idf=_idf(df, n, params), doc_len=doc_len, max_impact=_max_impact(impacts, offsets),
        passage_ids=np.asarray(passage_ids, dtype=np.int64),
        article_ids=np.asarray(article_ids, dtype=np.int64), params=params)


def _max_impact(impacts: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Largest impact of each term's postings (every term has at least one)."""
    if impacts.size == 0:
        return np.zeros(offsets.size - 1, dtype=np.float32)
    return np.maximum.reduceat(impacts, offsets[:-1]).astype(np.float32, copy=False)


def contains(index: BM25Index, term_id: int, passage: int) -> bool:
    """Whether a passage holds a term (binary search in the sorted postings)."""
    docs = index.docs_of(term_id)
    i = int(np.searchsorted(docs, passage))
    return i < docs.size and int(docs[i]) == passage


def idf_of(index: BM25Index, term: str) -> float:
    """idf of a query term; a term the index has never seen is maximally rare."""
    tid = index.vocabulary.get(term)
    n = index.n_passages
    if tid is None:
        return math.log(n + 0.5) - math.log(0.5) if n else 0.0
    return max(float(index.idf[tid]), 0.0)
