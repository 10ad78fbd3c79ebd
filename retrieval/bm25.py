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
"""

from __future__ import annotations

import logging
import math
import os
import threading
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from itertools import chain, islice
from pathlib import Path
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
    # Coded impacts (retrieval/segments.py): `codes` (uint32, per posting) index `table` (float32), and
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
        order = np.argsort(self.article_ids)
        ordered = self.article_ids[order]
        new = np.empty(ordered.size, dtype=np.bool_)
        new[:1] = True
        np.not_equal(ordered[1:], ordered[:-1], out=new[1:])
        numbers = np.empty(ordered.size, dtype=np.int32)
        numbers[order] = np.cumsum(new) - 1
        return numbers

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


# --- persistence ----------------------------------------------------------------------

_ARRAYS = ("offsets", "doc_ids", "impacts", "idf", "doc_len", "passage_ids", "article_ids", "max_impact")


def save_index(index: BM25Index, path: Path, generation: int = -1) -> None:
    """Write the index to one uncompressed .npz, atomically (temp file + rename).

    `generation` records which state of the database the index reflects, so
    a file left by an older build (say, an orphaned build process finishing
    after a newer one) is recognised as stale instead of served. The temp name
    is unique per process so two writers never interleave in one file.
    """
    vocab = "\n".join(index.vocabulary).encode("utf-8")
    p = index.params
    params = np.array([p.k1, p.b, p.epsilon, -1.0 if p.delta is None else p.delta])
    members = {"vocabulary": np.frombuffer(vocab, dtype=np.uint8), "params": params,
               "variant": np.frombuffer(p.variant.encode(), dtype=np.uint8),
               "generation": np.array([generation], dtype=np.int64),
               **{name: getattr(index, name) for name in _ARRAYS}}
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as fh:
        np.savez(fh, checksum=np.array([content_checksum(members)], dtype=np.int64), **members)
    tmp.replace(path)


def content_checksum(members: dict[str, np.ndarray]) -> int:
    """CRC-32 of every member's name, dtype, shape and bytes, in name order.

    np.load reads a .npz member without reaching the end of its zip entry, where
    zipfile would check the entry's CRC, so a flipped bit inside an array can
    load silently as a different index. This checksum covers all of the content
    and is verified on every load; CRC-32 detects every error burst up to 32
    bits (any single flipped bit) and misses a random corruption with
    probability 2**-32.
    """
    crc = 0
    for name in sorted(members):
        a = np.ascontiguousarray(members[name])
        crc = zlib.crc32(f"{name}:{a.dtype.str}:{a.shape};".encode(), crc)
        crc = zlib.crc32(memoryview(a).cast("B"), crc)
    return crc


def stored_generation(path: Path) -> int:
    """The database generation an index file was built from (-1 if unknown or unreadable)."""
    try:
        with np.load(path) as data:
            return int(data["generation"][0]) if "generation" in data else -1
    except Exception:  # a damaged file: load_index reports it properly
        return -1


def load_index(path: Path) -> BM25Index:
    """Read an index written by `save_index`.

    A damaged file (cut short by a crash or a full disk, flipped bits, some
    other file under the name) raises OSError or ValueError and nothing else,
    so the caller can rebuild from the database instead of crashing or
    answering from garbage.
    """
    try:
        index = _read_index(path)
    except (OSError, ValueError):
        raise
    except Exception as exc:  # zipfile.BadZipFile, EOFError, KeyError, struct.error... from a damaged zip
        raise ValueError(f"damaged index file ({type(exc).__name__}: {exc})") from exc
    _check_consistent(index)
    return index


def _read_index(path: Path) -> BM25Index:
    with np.load(path) as data:
        members = {name: data[name] for name in data.files}
    stored = members.pop("checksum", None)
    if stored is None or stored.shape != (1,) or int(stored[0]) != content_checksum(members):
        # Files from before the checksum are refused too: the caller rebuilds them once.
        raise ValueError("damaged index file (checksum mismatch)" if stored is not None
                         else "damaged index file (no checksum)")
    vocab_text = members["vocabulary"].tobytes().decode("utf-8")
    terms = vocab_text.split("\n") if vocab_text else []
    k1, b, epsilon, delta = (float(x) for x in members["params"])
    params = BM25Params(variant=members["variant"].tobytes().decode(), k1=k1, b=b,
                        epsilon=epsilon, delta=None if delta < 0 else delta)
    arrays = {name: members[name] for name in _ARRAYS}
    vocabulary = {t: i for i, t in enumerate(terms)}
    if len(vocabulary) != len(terms):
        raise ValueError("damaged index file (repeated vocabulary terms)")
    return BM25Index(vocabulary=vocabulary, params=params, **arrays)


def _check_consistent(index: BM25Index) -> None:
    """The array shapes and ranges scoring relies on (a bad one would index out of bounds)."""
    n, postings = index.n_passages, index.doc_ids.shape[0] if index.doc_ids.ndim == 1 else -1
    arrays_ok = all(a.ndim == 1 and a.dtype.kind in "iuf" for a in (getattr(index, name) for name in _ARRAYS))
    ok = (arrays_ok
          and index.offsets.shape[0] == len(index.vocabulary) + 1 and index.idf.shape[0] == len(index.vocabulary)
          and index.max_impact.shape[0] == len(index.vocabulary)
          and index.impacts.shape[0] == postings and index.offsets[0] == 0 and index.offsets[-1] == postings
          and bool(np.all(np.diff(index.offsets) >= 0))
          and index.passage_ids.shape[0] == n and index.article_ids.shape[0] == n
          and (postings == 0 or (int(index.doc_ids.min()) >= 0 and int(index.doc_ids.max()) < n)))
    if not ok:
        raise ValueError("damaged index file (inconsistent arrays)")


# --- scoring ---------------------------------------------------------------------------

def query_weights(index: BM25Index, terms: Iterable[str]) -> dict[int, float]:
    """Term id → count in the query (rank-bm25 scores a repeated term twice)."""
    weights: dict[int, float] = {}
    for term in terms:
        tid = index.vocabulary.get(term)
        if tid is not None:
            weights[tid] = weights.get(tid, 0.0) + 1.0
    return weights


Factors = list[tuple[int, np.float64]]  # (term id, query weight × idf)


def score(index: BM25Index, weights: dict[int, float]) -> tuple[np.ndarray, np.ndarray]:
    """Candidate passages and their scores for weighted query terms.

    Returns (passage numbers, scores), one entry per distinct matching
    passage, in no particular order.
    """
    if not weights:
        return np.empty(0, dtype=np.int32), np.empty(0, dtype=np.float64)
    # np.float64 factors keep the products in float64 (a Python float would
    # be "weak" under NumPy 2 and leave them in the impacts' float32).
    factors = [(tid, np.float64(w) * index.idf[tid]) for tid, w in weights.items()]
    if len(factors) == 1:
        tid, f = factors[0]
        docs, imp = index.postings(tid)
        return docs, imp * f
    buf, seen = index.scratch()
    if all(f > 0 for _, f in factors):
        return _score_positive(index, factors, buf)
    return _score_sparse(index, factors, buf, seen)


def _score_positive(index: BM25Index, factors: Factors, buf: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    # Impacts are positive, and so is every factor here, so a passage already
    # collected is one whose buffer slot has been read back to zero: each
    # list claims its not-yet-claimed passages without any sort or mark array.
    for tid, f in factors:
        docs, imp = index.postings(tid)
        # np.add.at's loop beats `buf[docs] += ...` (gather, add, scatter)
        # by ~10%, with bit-identical sums.
        np.add.at(buf, docs, imp * f)
    cands, scores = [], []
    for tid, _ in factors:
        docs, _ = index.postings(tid)
        got = buf[docs]
        unclaimed = got != 0.0
        new = docs[unclaimed]
        cands.append(new)
        scores.append(got[unclaimed])
        buf[new] = 0.0
    return np.concatenate(cands), np.concatenate(scores)


def _score_sparse(index: BM25Index, factors: Factors, buf: np.ndarray,
                  seen: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    # Candidates are collected list by list with a mark per passage: no sort
    # of the concatenated postings (np.unique cost more than all the adds).
    fresh = []
    for tid, f in factors:
        docs, imp = index.postings(tid)
        np.add.at(buf, docs, imp * f)
        new = docs[~seen[docs]]
        seen[new] = True
        fresh.append(new)
    cand = np.concatenate(fresh)
    scores = buf[cand]
    buf[cand] = 0.0
    seen[cand] = False
    return cand, scores


def rank(cand: np.ndarray, scores: np.ndarray, k: int) -> np.ndarray:
    """Indices into `cand` of the top k, by score descending then passage number."""
    if k <= 0 or cand.size == 0:
        return np.empty(0, dtype=np.int64)
    if cand.size > k:
        # The k-th best score, then everything at least that good: keeps ties
        # at the boundary so the stable order below decides them.
        kth = np.partition(scores, cand.size - k)[cand.size - k]
        sel = np.flatnonzero(scores >= kth)
    else:
        sel = np.arange(cand.size)
    order = np.lexsort((cand[sel], -scores[sel]))
    return sel[order[:k]]


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


def top_k(index: BM25Index, weights: dict[int, float], k: int) -> tuple[np.ndarray, np.ndarray]:
    """Exact top k as (passage numbers, scores), best first, ties by passage number.

    The same passages and order as `rank(*score(...), k)`, touching fewer
    postings (MaxScore, vectorised): see `_top`.
    """
    return _top(index, weights, k, None)


def top_articles(index: BM25Index, weights: dict[int, float], k: int,
                 floor: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The best passage of each of the top k articles, as (passage numbers, scores), best first.

    An article ranks by its best passage (the highest score, ties to the
    lowest passage number), articles by that score, ties again by passage
    number: the same as walking a long enough `top_k` and keeping each
    article's first passage. Pruning here is bounded by the k-th best
    article rather than by the k-th best passage, which is higher when the
    passages of a few articles crowd the top (and asking `top_k` for
    several passages per article needed lowers its bound further).

    With `floor` (a score the caller already holds k better articles than: another segment's k-th
    best), the C kernel may leave out articles scoring below it, so fewer than k may come back.
    """
    return _top(index, weights, k, index.article_numbers, floor)


def _top(index: BM25Index, weights: dict[int, float], k: int, groups: np.ndarray | None,
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
# k-th best at every step, instead of ~10 numpy calls of Python overhead each. It takes the top
# 10 at 100k passages from ~0.6 ms to ~0.14 ms p50, the 30 leading articles at 1M from ~2.6 to
# ~0.8 ms (docs/performance.md, "Scoring kernel in C").
try:
    from . import _topk as _native_topk
except ImportError as exc:  # built without a C compiler: correct, only slower
    logging.getLogger(__name__).warning(
        "native top-k kernel unavailable (%s): ranking uses the numpy version, several times slower", exc)
    _native_topk = None

NATIVE_TOPK: bool = _native_topk is not None
# NEWSBOT_NUMPY_TOPK=1 makes `_top` use the numpy version although the kernel is built: for
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

    `test_options` go to the kernel as they are: `prune_min` (prune on small indexes too) and
    `stats` (a list that gets where pruning started and how many candidates it completed).
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


def top_passages(index: BM25Index, terms: Sequence[str], k: int = 10) -> list[tuple[int, float]]:
    """Plain BM25 top k as (passage number, score): what rank-bm25 would rank."""
    cand, scores = top_k(index, query_weights(index, terms), k)
    return [(int(p), float(s)) for p, s in zip(cand, scores, strict=True)]


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
