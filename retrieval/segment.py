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

try:  # the C versions of reference_term_ids, reference_segment_postings and bm25._impacts (retrieval/_scan.c)
    from ._scan import TermCache as _TermCache
    from ._scan import impact_table as _native_impact_table
    from ._scan import segment_postings as _native_segment_postings
    from ._scan import term_ids as _native_term_ids
except ImportError:  # pragma: no cover - only without a C compiler
    _native_term_ids = _TermCache = _native_segment_postings = _native_impact_table = None

_VARIANT_CODES = {"okapi": 0, "l": 1, "plus": 2}  # impact_table's

NATIVE_TERM_IDS: bool = _native_term_ids is not None

# Score bounds of a segment built at another avgdl are scaled by the change and raised by this
# much, far above float32 rounding (6e-8): pruning stays exact, only a hair less tight.
_BOUND_SLACK = 1e-6
# Bounds are kept at up to this much above the scale avgdl needs (see Segment.bounds).
_SCALE_STEP = 1e-3
_EMPTY_F32 = np.empty(0, dtype=np.float32)
_EMPTY_I64 = np.empty(0, dtype=np.int64)


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
        if _native_impact_table is not None and self.pair_tf.dtype == self.pair_dl.dtype == np.float64:
            # The same values bit for bit, without numpy's temporaries (`_scan.impact_table`).
            _native_impact_table(np.ascontiguousarray(self.pair_tf[1:]), np.ascontiguousarray(self.pair_dl[1:]),
                                 float(avgdl), float(params.k1), float(params.b), float(params.effective_delta),
                                 _VARIANT_CODES[params.variant], table[1:])
        else:
            table[1:] = bm25._impacts(self.pair_tf[1:], self.pair_dl[1:], avgdl, params).astype(np.float32)
        self._tables = (avgdl, table)
        return table

    def bounds(self, avgdl: float, n_terms: int) -> np.ndarray:
        """Per global term (n_terms of them), a bound on its impacts in this segment at `avgdl`.

        Impacts grow with avgdl at most in proportion (tf/(tf + k1·(1-b+b·dl/avgdl)) and BM25L's
        ctd both scale by at most avgdl'/avgdl), never with deletions (a deleted posting's impact is 0).
        The bounds are computed at a scale a little above the one needed (`_SCALE_STEP`) and kept:
        avgdl moves by ~1e-5 an add of one article at 100k passages and ~3e-4 one of ~100 passages,
        so a refresh mostly reuses them instead of making n_terms new ones, and pruning stays exact
        (a bound at most 0.2% less tight).
        """
        if avgdl == self.ref_avgdl:
            need = 1.0
        else:
            need = max(1.0, avgdl / self.ref_avgdl) * (1 + _BOUND_SLACK)
        cached = self.derived.get("segment.bounds")
        if cached is not None:
            scale, full = cached
            if need <= scale <= need * (1 + 2 * _SCALE_STEP) and full.size >= n_terms:
                return full[:n_terms]
        scale = 1.0 if need == 1.0 else need * (1 + _SCALE_STEP)
        if scale == 1.0 and self.ref_max.size >= n_terms:
            # At the avgdl it was built at (a new segment's first snapshot): its own bounds, not a
            # copy (~0.07 ms at 90k terms); a refresh after it has more terms, or another avgdl.
            self.derived["segment.bounds"] = (scale, self.ref_max)
            return self.ref_max[:n_terms]
        full = np.zeros(_with_headroom(n_terms), dtype=np.float32)
        m = min(n_terms, self.ref_max.size)
        if scale == 1.0:
            full[:m] = self.ref_max[:m]
        else:
            # Only the terms with postings here (a small segment's few thousand; the others' bound
            # is 0), in float32: the product's rounding (6e-8) is far below the slack in `need`.
            held, _ = self.held_terms()
            if held.size < m // 2:
                full[held] = self.ref_max[held] * np.float32(scale)
            else:
                np.multiply(self.ref_max[:m], np.float32(scale), out=full[:m])
        self.derived["segment.bounds"] = (scale, full)
        return full[:n_terms]

    def padded_offsets(self, n_terms: int) -> np.ndarray:
        """The offsets over `n_terms` global term ids (terms newer than the segment: no postings).

        Kept with room for terms added later, so a refresh that numbers a few new terms slices
        the same array instead of copying every older segment's offsets.
        """
        have = self.offsets.size - 1
        if have >= n_terms:
            return self.offsets if have == n_terms else self.offsets[:n_terms + 1]
        cached = self.derived.get("padded")
        if cached is None or cached.size < n_terms + 1:
            cached = np.empty(_with_headroom(n_terms) + 1, dtype=np.int64)
            cached[:have + 1] = self.offsets
            cached[have + 1:] = self.offsets[-1]
            self.derived["padded"] = cached
        return cached[:n_terms + 1]

    def held_terms(self) -> tuple[np.ndarray, np.ndarray]:
        """(the term ids with postings here, ascending; their posting counts), kept once derived."""
        got = self.derived.get("segment.held")
        if got is None:
            counts = np.diff(self.offsets)
            held = np.flatnonzero(counts)
            got = self.derived["segment.held"] = (held, counts[held])
        return got

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


def _with_headroom(n_terms: int) -> int:
    """A capacity for arrays over `n_terms` term ids that leaves room for the terms of many adds."""
    return n_terms + max(4096, n_terms // 16)


class Vocabulary:
    """Term → global id: one numbering for the base and every segment, only ever appended to."""

    def __init__(self, terms: dict[str, int] | None = None) -> None:
        self.ids: dict[str, int] = terms if terms is not None else {}
        self._cache: Any = None

    def __len__(self) -> int:
        return len(self.ids)

    def native_cache(self) -> Any:
        """The C table of this vocabulary's terms (`_scan.TermCache`) that numbering reads first, or None
        without the C extension.

        Filled with every term on first use (~35 ms at 83k terms, their strs read cold; once per
        loaded index, by its first add): a segment of ~100 passages numbers a few thousand
        distinct tokens, and each one read from the dict cold cost ~250 ns against one cache miss
        in this table. It only ever learns entries of `ids` (append-only, so they stay true) and
        is bound to that dict object.
        """
        if _TermCache is None:
            return None
        if self._cache is None:
            cache = _TermCache()
            cache.fill(self.ids)
            self._cache = cache
        return self._cache

    def id_of(self, term: str) -> int:
        tid = self.ids.get(term)
        if tid is None:
            tid = self.ids[term] = len(self.ids)
        return tid


def term_ids(documents: Sequence[Sequence[str]], vocabulary: Vocabulary) -> np.ndarray:
    """Every token's global term id (int64, documents one after the other), numbering new terms
    in order of first appearance.

    The distinct tokens are looked up once (a few thousand in a hundred passages) to number the
    new ones; then every token is one dict lookup in C (`map` over `__getitem__`), not a Python
    call each.
    """
    ids = vocabulary.ids
    flat = [t for doc in documents for t in doc]
    for term in dict.fromkeys(flat):
        if term not in ids:
            ids[term] = len(ids)
    return np.fromiter(map(ids.__getitem__, flat), dtype=np.int64, count=len(flat))


def reference_term_ids(texts: Sequence[str], vocabulary: Vocabulary) -> tuple[np.ndarray, np.ndarray]:
    """(every token's term id, int64; each text's token count, int32) of passages' stored terms
    (`str.split`'s tokens): the specification of `_scan.term_ids`, which `text_term_ids` runs."""
    docs = [t.split() for t in texts]
    return term_ids(docs, vocabulary), np.fromiter(map(len, docs), dtype=np.int32, count=len(docs))


def text_term_ids(texts: Sequence[str | bytes], vocabulary: Vocabulary) -> tuple[np.ndarray, np.ndarray]:
    """`reference_term_ids`, in C when built (no str object per token but the one looked up).

    A text may also be given as its UTF-8 (what an add hands over, `passagelog.Handoff`): the same
    ids as its str, decoded in C without a str per text; invalid UTF-8 raises UnicodeDecodeError.
    """
    if _native_term_ids is None:
        return reference_term_ids([t.decode() if isinstance(t, bytes) else t for t in texts], vocabulary)
    ids, lengths = _native_term_ids(texts, vocabulary.ids, vocabulary.native_cache())
    return np.frombuffer(ids, dtype=np.int64), np.frombuffer(lengths, dtype=np.int32)


def build_segment(documents: Sequence[Sequence[str]], passage_ids: Sequence[int] | np.ndarray,
                  article_ids: Sequence[int] | np.ndarray, vocabulary: Vocabulary, params: bm25.BM25Params,
                  avgdl: float | None = None) -> Segment:
    """A segment of tokenised passages (given in passage id order), numbering new terms in `vocabulary`.

    `avgdl` is the index-wide average length once these passages are in (their own if None):
    the bounds are computed at it, so a refresh right after needs no scaling.
    """
    tokens = term_ids(documents, vocabulary)
    doc_len = np.fromiter(map(len, documents), dtype=np.int32, count=len(documents))
    return build_segment_from_tokens(tokens, doc_len, passage_ids, article_ids, len(vocabulary), params, avgdl)


def build_segment_from_texts(texts: Sequence[str], passage_ids: Sequence[int] | np.ndarray,
                             article_ids: Sequence[int] | np.ndarray, vocabulary: Vocabulary,
                             params: bm25.BM25Params, avgdl: float | None = None) -> Segment:
    """`build_segment` of passages given as their stored terms (one str each, space-separated)."""
    tokens, doc_len = text_term_ids(texts, vocabulary)
    return build_segment_from_tokens(tokens, doc_len, passage_ids, article_ids, len(vocabulary), params, avgdl)


def build_segment_from_tokens(tokens: np.ndarray, doc_len: np.ndarray, passage_ids: Sequence[int] | np.ndarray,
           article_ids: Sequence[int] | np.ndarray, n_terms: int, params: bm25.BM25Params,
           avgdl: float | None) -> Segment:
    """The segment of passages given as their tokens' term ids (int64; `doc_len[i]` of them for
    passage i, one passage after the other), over `n_terms` term ids."""
    pids = np.asarray(passage_ids, dtype=np.int64)
    aids = np.asarray(article_ids, dtype=np.int64)
    n = int(doc_len.size)
    doc_ids, codes, pair_keys, held, counts = segment_postings(tokens, doc_len)
    total = int(doc_len.sum(dtype=np.int64))
    if avgdl is None:
        avgdl = (float(total) / n if n else 1.0) or 1.0
    pair_tf = np.concatenate(([0.0], (pair_keys >> 32).astype(np.float64)))
    pair_dl = np.concatenate(([0.0], (pair_keys & 0xFFFFFFFF).astype(np.float64)))
    return _coded(n_terms, doc_ids, _EMPTY_I64, _EMPTY_I64, doc_len, pids, aids, avgdl, params,
                  codes=(codes, pair_tf, pair_dl), runs=(held, counts))


Postings = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def reference_segment_postings(tokens: np.ndarray, doc_len: np.ndarray) -> Postings:
    """The postings of passages given as their tokens' term ids (`doc_len[i]` of them for passage i,
    one passage after the other), sorted by (term, passage): (per posting its passage, int32, and
    the code of its (tf, passage length) pair, uint32, the pairs numbered from 1 in ascending
    order of their keys tf << 32 | dl; those keys, int64; the terms with postings, ascending, and
    how many each has, int64). The specification of `_scan.segment_postings`."""
    n = max(int(doc_len.size), 1)
    docs = np.repeat(np.arange(doc_len.size, dtype=np.int64), doc_len)
    keys, tf = np.unique(tokens.astype(np.int64) * n + docs, return_counts=True)
    posting_terms = keys // n
    doc_ids = (keys % n).astype(np.int32)
    pair_keys, inverse = np.unique(tf.astype(np.int64) << 32 | doc_len[doc_ids].astype(np.int64),
                                   return_inverse=True)
    codes = (inverse.reshape(-1) + 1).astype(np.uint32)
    if posting_terms.size:
        first = np.flatnonzero(np.concatenate(([True], posting_terms[1:] != posting_terms[:-1])))
    else:
        first = np.empty(0, dtype=np.int64)
    counts = np.diff(np.append(first, posting_terms.size)).astype(np.int64)
    return doc_ids, codes, pair_keys.astype(np.int64), posting_terms[first].astype(np.int64), counts


def segment_postings(tokens: np.ndarray, doc_len: np.ndarray) -> Postings:
    """`reference_segment_postings`, in C when built (a radix sort by term and a hash table of the
    pairs instead of two sorts: ~0.12 ms less for ~100 passages)."""
    if _native_segment_postings is None:
        return reference_segment_postings(tokens, doc_len)
    got = _native_segment_postings(np.ascontiguousarray(tokens, dtype=np.int64),
                                   np.ascontiguousarray(doc_len, dtype=np.int32))
    return (np.frombuffer(got[0], dtype=np.int32), np.frombuffer(got[1], dtype=np.uint32),
            np.frombuffer(got[2], dtype=np.int64), np.frombuffer(got[3], dtype=np.int64),
            np.frombuffer(got[4], dtype=np.int64))


def _coded(n_terms: int, doc_ids: np.ndarray, tf: np.ndarray, posting_terms: np.ndarray,
           doc_len: np.ndarray, pids: np.ndarray, aids: np.ndarray, avgdl: float, params: bm25.BM25Params,
           codes: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
           runs: tuple[np.ndarray, np.ndarray] | None = None) -> Segment:
    """The segment of postings sorted by (term, passage) with their term frequencies: CSR offsets,
    codes, pairs and bounds. `codes`, if known: (per posting its code, the pairs' tf, their dl);
    `runs`, if known: (the terms with postings, how many each has), `posting_terms` then unread."""
    if codes is None:
        pair_keys, inverse = np.unique(tf.astype(np.int64) << 32 | doc_len[doc_ids].astype(np.int64),
                                       return_inverse=True)
        pair_tf = np.concatenate(([0.0], (pair_keys >> 32).astype(np.float64)))
        pair_dl = np.concatenate(([0.0], (pair_keys & 0xFFFFFFFF).astype(np.float64)))
        posting_codes = (inverse.reshape(-1) + 1).astype(np.uint32)
    else:
        posting_codes, pair_tf, pair_dl = codes
    # The terms with postings and where each one's postings start: the postings are sorted by term.
    if runs is not None:
        held, counts = runs
        first = np.zeros(held.size, dtype=np.int64)
        np.cumsum(counts[:-1], out=first[1:])
    else:
        if posting_terms.size:
            first = np.flatnonzero(np.concatenate(([True], posting_terms[1:] != posting_terms[:-1])))
        else:
            first = np.empty(0, dtype=np.int64)
        held = posting_terms[first]
        counts = np.diff(np.append(first, posting_terms.size))
    offsets = _csr_offsets(held, counts, n_terms)
    ref_max = np.zeros(n_terms, dtype=np.float32)
    seg = Segment(offsets=offsets, doc_ids=doc_ids, codes=posting_codes, pair_tf=pair_tf, pair_dl=pair_dl,
                  doc_len=doc_len, passage_ids=pids, article_ids=aids, ref_avgdl=avgdl, ref_max=ref_max)
    if posting_codes.size:
        ref_max[held] = np.maximum.reduceat(seg.table(avgdl, params)[posting_codes], first)
    seg.derived["segment.held"] = (held, counts)
    return seg


def _csr_offsets(held: np.ndarray, counts: np.ndarray, n_terms: int) -> np.ndarray:
    """The CSR offsets over `n_terms` term ids of postings sorted by term, `counts[i]` of term `held[i]`.

    Constant between held terms, so each value is repeated over its run: a new segment holds a
    few thousand of ~80-90k terms, and a cumulative sum over all of them cost 2-3 times this.
    """
    if held.size == 0:
        return np.zeros(n_terms + 1, dtype=np.int64)
    ends = np.zeros(held.size + 1, dtype=np.int64)
    np.cumsum(counts, out=ends[1:])
    runs = np.empty(held.size + 1, dtype=np.int64)
    runs[0] = held[0] + 1  # offsets[0 .. held[0]] are 0
    runs[1:-1] = np.diff(held)
    runs[-1] = n_terms - held[-1]
    return np.repeat(ends, runs)


def merge_segments(segments: Sequence[Segment], avgdl: float, params: bm25.BM25Params) -> Segment:
    """One segment holding the live passages of `segments`, in passage id order (no database read).

    The same segment as `build_segment` of those passages would make (term ids aside, which
    the vocabulary fixes). Segments given in passage id order (each one's passages after the
    one before's: how refreshes make them) are merged in O(their postings): each term's
    postings are the segments' lists one after the other, and the pairs table is the union of
    theirs; otherwise every posting is sorted again (`_merge_sorting`).
    """
    n_terms = max(s.n_terms for s in segments)
    pid_parts = [s.passage_ids[s.live] for s in segments]
    pids = np.concatenate(pid_parts)
    if pids.size > 1 and not bool(np.all(pids[1:] > pids[:-1])):
        return _merge_sorting(segments, avgdl, params)
    doc_len = np.concatenate([s.doc_len[s.live] for s in segments])
    aids = np.concatenate([s.article_ids[s.live] for s in segments])
    # The merged pairs table: every (tf, dl) pair a kept posting uses, ascending as np.unique
    # orders them, found from each segment's small table (codes in use counted, not sorted).
    used_keys, kept = [], []
    for s in segments:
        keep = s.codes != 0 if s.n_live != s.size else None
        codes = s.codes if keep is None else s.codes[keep]
        in_use = np.bincount(codes, minlength=s.pair_tf.size) > 0
        in_use[0] = False
        keys = s.pair_tf.astype(np.int64) << 32 | s.pair_dl.astype(np.int64)
        used_keys.append(keys[in_use])
        kept.append((keep, codes, keys))
    pair_keys = np.unique(np.concatenate(used_keys))
    term_parts, doc_parts, code_parts = [], [], []
    start = 0
    for s, (keep, codes, keys) in zip(segments, kept, strict=True):
        held, counts = s.held_terms()
        terms = np.repeat(held, counts)
        if keep is None:
            docs = s.doc_ids.astype(np.int64) + start
        else:
            renumber = np.cumsum(s.live, dtype=np.int64) - 1 + start
            docs = renumber[s.doc_ids[keep]]
            terms = terms[keep]
        recode = np.zeros(keys.size, dtype=np.uint32)
        recode[1:] = np.searchsorted(pair_keys, keys[1:]) + 1  # codes of pairs not in use: never read
        term_parts.append(terms)
        doc_parts.append(docs)
        code_parts.append(recode[codes])
        start += s.n_live
    terms = np.concatenate(term_parts)
    # Stable: within a term the segments' lists stay one after the other, i.e. by passage.
    order = np.argsort(terms, kind="stable")
    pair_tf = np.concatenate(([0.0], (pair_keys >> 32).astype(np.float64)))
    pair_dl = np.concatenate(([0.0], (pair_keys & 0xFFFFFFFF).astype(np.float64)))
    return _coded(n_terms, np.concatenate(doc_parts)[order].astype(np.int32), np.empty(0), terms[order],
                  doc_len, pids, aids, avgdl, params, codes=(np.concatenate(code_parts)[order], pair_tf, pair_dl))


def _merge_sorting(segments: Sequence[Segment], avgdl: float, params: bm25.BM25Params) -> Segment:
    """`merge_segments` of segments whose passages interleave: every posting sorted by (term, passage)."""
    n_terms = max(s.n_terms for s in segments)
    terms_parts, pid_parts, tf_parts = [], [], []
    for s in segments:
        held, counts = s.held_terms()
        terms = np.repeat(held, counts)
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
    return _coded(n_terms, docs.astype(np.int32), tf, terms, doc_len, pids, aids, avgdl, params)
