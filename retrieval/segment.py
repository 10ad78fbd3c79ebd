"""One segment of the near-real-time index (retrieval/segments.py explains the design): built, merged.

A segment stores what index-wide changes leave as they are: postings by
global term id, and per posting a code naming its (term frequency, passage
length) pair, whose impact `table(avgdl)` computes exactly as a full build
does (`bm25._impacts`). A deleted passage's postings get code 0 (impact 0).
`segments.SegmentedIndex` searches the base and the segments as one index;
`segmentfile` writes and reads them.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import bm25

# Score bounds of a segment built at another avgdl are scaled by the change and raised by this
# much, far above float32 rounding (6e-8): pruning stays exact, only a hair less tight.
_BOUND_SLACK = 1e-6
_EMPTY_F32 = np.empty(0, dtype=np.float32)


@dataclass(eq=False)
class Segment:
    """Passages indexed together; only `codes` and `live` change (when passages are deleted)."""

    offsets: np.ndarray  # int64: CSR over global term ids 0 .. offsets.size - 2
    doc_ids: np.ndarray  # int32, postings
    codes: np.ndarray  # uint32, per posting: its (tf, passage length) pair; 0 = deleted
    pair_tf: np.ndarray  # float64, per code (code 0: the deleted pair)
    pair_dl: np.ndarray  # float64, per code
    doc_len: np.ndarray  # int32, per passage
    passage_ids: np.ndarray  # int64, ascending
    article_ids: np.ndarray  # int64
    ref_avgdl: float  # the avgdl at which ref_max was computed
    ref_max: np.ndarray  # float32, per term: the largest impact at ref_avgdl (a score bound)
    live: np.ndarray = field(default=None)  # type: ignore[assignment]  # bool, per passage
    n_live: int = 0
    live_len: int = 0  # total length of the live passages
    scratch: threading.local = field(default_factory=threading.local)
    derived: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.live is None:
            self.live = np.ones(self.doc_len.size, dtype=np.bool_)
            self.n_live = int(self.doc_len.size)
            self.live_len = int(self.doc_len.sum(dtype=np.int64))
        self._tables: tuple[float, np.ndarray] | None = None

    @property
    def size(self) -> int:
        return int(self.doc_len.size)

    @property
    def n_terms(self) -> int:
        return int(self.offsets.size - 1)

    def table(self, avgdl: float, params: bm25.BM25Params) -> np.ndarray:
        """Each code's impact at `avgdl`: exactly what a full build computes per posting."""
        cached = self._tables
        if cached is not None and cached[0] == avgdl:
            return cached[1]
        table = np.empty(self.pair_tf.size, dtype=np.float32)
        table[0] = 0.0
        table[1:] = bm25._impacts(self.pair_tf[1:], self.pair_dl[1:], avgdl, params).astype(np.float32)
        self._tables = (avgdl, table)
        return table

    def bounds(self, avgdl: float, n_terms: int) -> np.ndarray:
        """Per global term (n_terms of them), a bound on its impacts in this segment at `avgdl`.

        Impacts grow with avgdl at most in proportion (tf/(tf + k1·(1-b+b·dl/avgdl)) and BM25L's
        ctd both scale by at most avgdl'/avgdl), never with deletions (a deleted posting's impact is 0).
        """
        out = np.zeros(n_terms, dtype=np.float32)
        m = min(n_terms, self.ref_max.size)
        if avgdl == self.ref_avgdl:
            out[:m] = self.ref_max[:m]
        else:
            scale = max(1.0, avgdl / self.ref_avgdl) * (1 + _BOUND_SLACK)
            out[:m] = self.ref_max[:m].astype(np.float64) * scale
        return out

    def padded_offsets(self, n_terms: int) -> np.ndarray:
        """The offsets over `n_terms` global term ids (terms newer than the segment: no postings)."""
        have = self.offsets.size - 1
        if have >= n_terms:
            return self.offsets
        cached = self.derived.get("padded")
        if cached is not None and cached.size == n_terms + 1:
            return cached
        padded = np.empty(n_terms + 1, dtype=np.int64)
        padded[:have + 1] = self.offsets
        padded[have + 1:] = self.offsets[-1]
        self.derived["padded"] = padded
        return padded

    def article_numbers(self) -> np.ndarray:
        got = self.derived.get("article_numbers")
        if got is None:
            got = self.derived["article_numbers"] = bm25.BM25Index.article_numbers.func(self)  # type: ignore[arg-type]
        return got

    def find(self, passage_id: int) -> int | None:
        """The live passage number of `passage_id` here, or None."""
        i = int(np.searchsorted(self.passage_ids, passage_id))
        if i < self.size and int(self.passage_ids[i]) == passage_id and self.live[i]:
            return i
        return None

    def check(self) -> None:
        """The shapes and ranges scoring relies on (a damaged file raises ValueError, never reads out of bounds)."""
        n, postings = self.size, self.doc_ids.size
        ok = (self.offsets.ndim == 1 and self.offsets.size >= 1 and self.offsets[0] == 0
              and int(self.offsets[-1]) == postings and self.codes.size == postings
              and bool(np.all(np.diff(self.offsets) >= 0)) and self.pair_tf.size == self.pair_dl.size >= 1
              and self.passage_ids.size == n and self.article_ids.size == n and self.live.size == n
              and self.ref_max.size == self.n_terms
              and (postings == 0 or (int(self.doc_ids.min()) >= 0 and int(self.doc_ids.max()) < n
                                     and int(self.codes.max()) < self.pair_tf.size))
              and bool(np.all(np.diff(self.passage_ids) > 0)))
        if not ok:
            raise ValueError("damaged index file (inconsistent arrays)")


class Vocabulary:
    """Term → global id: one numbering for the base and every segment, only ever appended to."""

    def __init__(self, terms: dict[str, int] | None = None) -> None:
        self.ids: dict[str, int] = terms if terms is not None else {}

    def __len__(self) -> int:
        return len(self.ids)

    def id_of(self, term: str) -> int:
        tid = self.ids.get(term)
        if tid is None:
            tid = self.ids[term] = len(self.ids)
        return tid


def build_segment(documents: Sequence[Sequence[str]], passage_ids: Sequence[int] | np.ndarray,
                  article_ids: Sequence[int] | np.ndarray, vocabulary: Vocabulary, params: bm25.BM25Params,
                  avgdl: float | None = None) -> Segment:
    """A segment of tokenised passages (given in passage id order), numbering new terms in `vocabulary`.

    `avgdl` is the index-wide average length once these passages are in (their own if None):
    the bounds are computed at it, so a refresh right after needs no scaling.
    """
    id_chunks, len_chunks = [], []
    for start in range(0, len(documents), 256):
        term_ids, doc_len = number_terms(documents[start:start + 256], vocabulary)
        id_chunks.append(term_ids)
        len_chunks.append(doc_len)
    return segment_of_ids(id_chunks, len_chunks, passage_ids, article_ids, len(vocabulary), params, avgdl)


def number_terms(documents: Sequence[Sequence[str]], vocabulary: Vocabulary) -> tuple[np.ndarray, np.ndarray]:
    """The term ids of `documents` one after the other (int32, new terms numbered in `vocabulary`) and their lengths."""
    flat = [t for doc in documents for t in doc]
    return (np.fromiter(map(vocabulary.id_of, flat), dtype=np.int32, count=len(flat)),
            np.fromiter(map(len, documents), dtype=np.int32, count=len(documents)))


def segment_of_ids(id_chunks: Sequence[np.ndarray], len_chunks: Sequence[np.ndarray],
                   passage_ids: Sequence[int] | np.ndarray, article_ids: Sequence[int] | np.ndarray,
                   n_terms: int, params: bm25.BM25Params, avgdl: float | None = None) -> Segment:
    """`build_segment` from passages already numbered by `number_terms`, chunk by chunk.

    A whole database is built this way (indexing.build_base_file), so that no passage's words are
    held as Python strings beyond its own chunk.
    """
    pids = np.asarray(passage_ids, dtype=np.int64)
    aids = np.asarray(article_ids, dtype=np.int64)
    doc_len = np.concatenate(len_chunks) if len_chunks else np.empty(0, dtype=np.int32)
    n = int(doc_len.size)
    term_ids = np.concatenate(id_chunks) if id_chunks else np.empty(0, dtype=np.int32)
    keys = term_ids.astype(np.int64)
    del term_ids
    keys *= max(n, 1)
    keys += np.repeat(np.arange(n, dtype=np.int64), doc_len)
    keys, tf = np.unique(keys, return_counts=True)
    posting_terms = keys // max(n, 1)
    doc_ids = (keys % max(n, 1)).astype(np.int32)
    del keys
    offsets = np.zeros(n_terms + 1, dtype=np.int64)
    np.cumsum(np.bincount(posting_terms, minlength=n_terms), out=offsets[1:])
    total = int(doc_len.sum(dtype=np.int64))
    if avgdl is None:
        avgdl = (float(total) / n if n else 1.0) or 1.0
    return _coded(offsets, doc_ids, tf, posting_terms, doc_len, pids, aids, avgdl, params)


def _coded(offsets: np.ndarray, doc_ids: np.ndarray, tf: np.ndarray, posting_terms: np.ndarray,
           doc_len: np.ndarray, pids: np.ndarray, aids: np.ndarray, avgdl: float,
           params: bm25.BM25Params) -> Segment:
    """The segment of CSR postings with their term frequencies: codes, pairs and bounds."""
    pair_keys, codes = np.unique(tf.astype(np.int64) << 32 | doc_len[doc_ids].astype(np.int64),
                                 return_inverse=True)
    pair_tf = np.concatenate(([0.0], (pair_keys >> 32).astype(np.float64)))
    pair_dl = np.concatenate(([0.0], (pair_keys & 0xFFFFFFFF).astype(np.float64)))
    seg = Segment(offsets=offsets, doc_ids=doc_ids, codes=(codes.reshape(-1) + 1).astype(np.uint32),
                  pair_tf=pair_tf, pair_dl=pair_dl, doc_len=doc_len, passage_ids=pids, article_ids=aids,
                  ref_avgdl=avgdl, ref_max=np.zeros(offsets.size - 1, dtype=np.float32))
    if seg.codes.size:
        np.maximum.at(seg.ref_max, posting_terms, seg.table(avgdl, params)[seg.codes])
    return seg


def merge_segments(segments: Sequence[Segment], avgdl: float, params: bm25.BM25Params) -> Segment:
    """One segment holding the live passages of `segments`, in passage id order (no database read)."""
    n_terms = max(s.n_terms for s in segments)
    terms_parts, pid_parts, tf_parts = [], [], []
    for s in segments:
        per_term = np.diff(s.offsets)
        terms = np.repeat(np.arange(s.n_terms, dtype=np.int64), per_term)
        keep = s.codes != 0
        terms_parts.append(terms[keep])
        pid_parts.append(s.passage_ids[s.doc_ids[keep]])
        tf_parts.append(s.pair_tf[s.codes[keep]].astype(np.int64))
    pids = np.concatenate([s.passage_ids[s.live] for s in segments])
    order = np.argsort(pids)
    pids = pids[order]
    doc_len = np.concatenate([s.doc_len[s.live] for s in segments])[order]
    aids = np.concatenate([s.article_ids[s.live] for s in segments])[order]
    posting_pids = np.concatenate(pid_parts)
    docs = np.searchsorted(pids, posting_pids).astype(np.int64)
    terms = np.concatenate(terms_parts)
    n = max(int(pids.size), 1)
    by_key = np.argsort(terms * n + docs, kind="stable")
    terms, docs, tf = terms[by_key], docs[by_key], np.concatenate(tf_parts)[by_key]
    offsets = np.zeros(n_terms + 1, dtype=np.int64)
    np.cumsum(np.bincount(terms, minlength=n_terms), out=offsets[1:])
    return _coded(offsets, docs.astype(np.int32), tf, terms, doc_len, pids, aids, avgdl, params)
