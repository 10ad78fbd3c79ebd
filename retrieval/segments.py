"""A near-real-time index: the base plus small segments, searched as one index with exact statistics.

BM25 needs index-wide statistics: the passage count N and average passage
length (avgdl) in every impact, and each term's document frequency in its
idf. Adding one passage moves all of them, so nothing that depends on them can
be frozen into a segment. What a segment stores instead is what does not
change:

* postings by *global* term id (one vocabulary numbers the terms of the base
  and of every segment; a segment's CSR covers the ids known when it was
  built), and
* per posting a code naming its (term frequency, passage length) pair.

A posting's impact is `table[code]`, where the table holds each pair's impact
at the current avgdl, computed by the same numpy expression a full build
applies to every posting (`bm25._impacts` in float64, then float32): a
segment's scores are bit for bit those of a full rebuild's impacts. The
tables (a few thousand pairs), the idf of the whole vocabulary and the
per-term score bounds are recomputed on each refresh: O(vocabulary), a few
milliseconds at a million passages, instead of O(postings).

Deleted passages (an article updated or deleted) stay in their segment with
their postings' codes set to 0, whose impact is 0, and are marked dead:
they leave N, avgdl and the document frequencies at once (their terms come
from the passage log, `store.passage_changes`), and ranking drops them.

`SegmentedIndex` is the mutable state one process keeps; `snapshot()` gives
an immutable `LiveIndex` that questions read (swapped in by assignment, as
the whole index always was).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from . import bm25, indexfile

T = TypeVar("T")

# Score bounds of a segment built at another avgdl are scaled by the change and raised by this
# much, far above float32 rounding (6e-8): pruning stays exact, only a hair less tight.
_BOUND_SLACK = 1e-6
_EMPTY_F32 = np.empty(0, dtype=np.float32)
# Deletions from one refresh from which one pass over a segment's postings beats a lookup per term.
_BULK_DELETE = 256
# Format of a saved segment (the base index file).
SEGMENT_FORMAT = 1


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
    pids = np.asarray(passage_ids, dtype=np.int64)
    aids = np.asarray(article_ids, dtype=np.int64)
    id_of = vocabulary.id_of
    id_chunks, len_chunks = [], []
    for start in range(0, len(documents), 256):
        chunk = documents[start:start + 256]
        flat = [t for doc in chunk for t in doc]
        len_chunks.append(np.fromiter(map(len, chunk), dtype=np.int32, count=len(chunk)))
        id_chunks.append(np.fromiter(map(id_of, flat), dtype=np.int64, count=len(flat)))
    n_terms = len(vocabulary)
    doc_len = np.concatenate(len_chunks) if len_chunks else np.empty(0, dtype=np.int32)
    term_ids = np.concatenate(id_chunks) if id_chunks else np.empty(0, dtype=np.int64)
    n = int(doc_len.size)
    docs = np.repeat(np.arange(n, dtype=np.int64), doc_len)
    keys, tf = np.unique(term_ids * max(n, 1) + docs, return_counts=True)
    posting_terms = keys // max(n, 1)
    doc_ids = (keys % max(n, 1)).astype(np.int32)
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


# --- persistence ---------------------------------------------------------------------------------

_SEGMENT_ARRAYS = ("offsets", "doc_ids", "codes", "pair_tf", "pair_dl", "doc_len", "passage_ids", "article_ids",
                   "ref_max")


def save_segment(seg: Segment, vocabulary: Vocabulary, params: bm25.BM25Params, path: Path, *,
                 generation: int, log_seq: int) -> None:
    """Write a segment with the vocabulary, atomically (temp file + rename), with a checksum of it all.

    `log_seq` is the last passage-log entry it reflects (store.passage_changes replays the rest);
    `generation` the database's content generation then.
    """
    vocab = "\n".join(vocabulary.ids).encode("utf-8")
    p = params
    members = {name: getattr(seg, name) for name in _SEGMENT_ARRAYS}
    members.update({
        "vocabulary": np.frombuffer(vocab, dtype=np.uint8),
        "params": np.array([p.k1, p.b, p.epsilon, -1.0 if p.delta is None else p.delta]),
        "variant": np.frombuffer(p.variant.encode(), dtype=np.uint8),
        "header": np.array([SEGMENT_FORMAT, generation, log_seq], dtype=np.int64),
        "ref_avgdl": np.array([seg.ref_avgdl], dtype=np.float64),
        "live": seg.live,
    })
    tmp = path.with_name(f"{path.name}.{threading.get_native_id()}.tmp")
    with open(tmp, "wb") as fh:
        np.savez(fh, checksum=np.array([indexfile.content_checksum(members)], dtype=np.int64), **members)
    tmp.replace(path)


@dataclass(frozen=True)
class StoredBase:
    segment: Segment
    vocabulary: Vocabulary
    params: bm25.BM25Params
    generation: int
    log_seq: int
    checksum: int = 0  # identifies this base (a tail file names the base it extends)


def read_header(path: Path) -> tuple[int, int] | None:
    """(generation, log_seq) of a saved segment without reading it all (None if unreadable)."""
    try:
        with np.load(path) as data:
            h = data["header"]
            return (int(h[1]), int(h[2])) if h.shape == (3,) and int(h[0]) == SEGMENT_FORMAT else None
    except Exception:  # damaged or foreign: load_segment says why
        return None


def load_segment(path: Path) -> StoredBase:
    """Read a file `save_segment` wrote; a damaged one raises ValueError or OSError, nothing else."""
    try:
        with np.load(path) as data:
            members = {name: data[name] for name in data.files}
    except OSError:
        raise
    except Exception as exc:  # zipfile.BadZipFile, EOFError, struct.error... from a damaged zip
        raise ValueError(f"damaged index file ({type(exc).__name__}: {exc})") from exc
    stored = members.pop("checksum", None)
    if stored is None or stored.shape != (1,) or int(stored[0]) != indexfile.content_checksum(members):
        raise ValueError("damaged index file (checksum mismatch)" if stored is not None
                         else "damaged index file (no checksum)")
    try:
        header = members["header"]
        if header.shape != (3,) or int(header[0]) != SEGMENT_FORMAT:
            raise ValueError("index file of another format")
        text = members["vocabulary"].tobytes().decode("utf-8")
        terms = text.split("\n") if text else []
        # A comprehension, not dict(zip(...)): bytecode lets the GIL go every few milliseconds, one C
        # call would hold it ~80 ms at 300k terms while a merged base loads beside the serving loop.
        ids = {t: i for i, t in enumerate(terms)}
        if len(ids) != len(terms):
            raise ValueError("damaged index file (repeated vocabulary terms)")
        k1, b, epsilon, delta = (float(x) for x in members["params"])
        params = bm25.BM25Params(variant=members["variant"].tobytes().decode(), k1=k1, b=b, epsilon=epsilon,
                                 delta=None if delta < 0 else delta)
        live = members["live"].astype(np.bool_)
        seg = Segment(**{name: members[name] for name in _SEGMENT_ARRAYS},
                      ref_avgdl=float(members["ref_avgdl"][0]), live=live, n_live=int(live.sum()),
                      live_len=int(members["doc_len"][live].sum(dtype=np.int64)))
        if seg.n_terms != len(ids) or seg.codes.dtype != np.uint32 or seg.doc_ids.dtype != np.int32:
            raise ValueError("damaged index file (inconsistent arrays)")
        seg.check()
    except (KeyError, TypeError, UnicodeDecodeError) as exc:
        raise ValueError(f"damaged index file ({type(exc).__name__}: {exc})") from exc
    return StoredBase(seg, Vocabulary(ids), params, int(header[1]), int(header[2]), int(stored[0]))


# --- the tail file: the segments and deletion marks beyond the base ---------------------------

TAIL_FORMAT = 1
_TAIL_ARRAYS = ("offsets", "doc_ids", "codes", "pair_tf", "pair_dl", "doc_len", "passage_ids", "article_ids",
                "ref_max", "live")


def save_tail(state: SegmentedIndex, path: Path) -> None:
    """Write what `state` holds beyond its base (segments, the base's deletion marks), atomically.

    A restarted process loads it instead of re-indexing those passages from the database (the log
    since `state.log_seq` is replayed on top). It names its base by checksum: with any other base,
    or damaged, it is ignored and the log since the base replayed instead.
    """
    ext = list(state.vocabulary.ids)[state.base_terms:]
    small = state.segments[1:]
    members: dict[str, np.ndarray] = {
        "header": np.array([TAIL_FORMAT, state.base_seq, state.log_seq, len(small), state.base_terms,
                            state.generation], dtype=np.int64),
        "base_checksum": np.array([state.base_checksum], dtype=np.int64),
        "vocabulary": np.frombuffer("\n".join(ext).encode("utf-8"), dtype=np.uint8),
        "base_live": state.base.live,
        "ref_avgdl": np.array([s.ref_avgdl for s in small], dtype=np.float64),
    }
    for i, seg in enumerate(small):
        members.update({f"s{i}.{name}": getattr(seg, name) for name in _TAIL_ARRAYS})
    tmp = path.with_name(f"{path.name}.{threading.get_native_id()}.tmp")
    with open(tmp, "wb") as fh:
        np.savez(fh, checksum=np.array([indexfile.content_checksum(members)], dtype=np.int64), **members)
    tmp.replace(path)
    state.saved_seq = state.log_seq


def tail_seq(path: Path, base_seq: int) -> int | None:
    """The log entry a tail file reflects, if it extends a base of `base_seq` (read from its header alone)."""
    try:
        with np.load(path) as data:
            h = data["header"]
            if h.shape == (6,) and int(h[0]) == TAIL_FORMAT and int(h[1]) == base_seq:
                return int(h[2])
    except Exception:  # damaged or absent: the log since the base is replayed
        return None
    return None


def load_tail(state: SegmentedIndex, path: Path) -> None:
    """Extend a freshly loaded base state with a tail file; ValueError/OSError (state untouched) if unusable."""
    try:
        with np.load(path) as data:
            members = {name: data[name] for name in data.files}
    except OSError:
        raise
    except Exception as exc:
        raise ValueError(f"damaged tail file ({type(exc).__name__}: {exc})") from exc
    stored = members.pop("checksum", None)
    if stored is None or stored.shape != (1,) or int(stored[0]) != indexfile.content_checksum(members):
        raise ValueError("damaged tail file (checksum)")
    try:
        h = members["header"]
        if h.shape != (6,) or int(h[0]) != TAIL_FORMAT:
            raise ValueError("tail file of another format")
        _, base_seq, log_seq, count, base_terms, generation = (int(x) for x in h)
        if (base_seq != state.base_seq or int(members["base_checksum"][0]) != state.base_checksum
                or base_terms != len(state.vocabulary) or len(state.segments) != 1 or log_seq < base_seq):
            raise ValueError("tail file of another base")
        text = members["vocabulary"].tobytes().decode("utf-8")
        ext = text.split("\n") if text else []
        if any(t in state.vocabulary.ids for t in ext) or len(set(ext)) != len(ext):
            raise ValueError("damaged tail file (vocabulary)")
        base_live = members["base_live"].astype(np.bool_)
        if base_live.shape != state.base.live.shape:
            raise ValueError("damaged tail file (base marks)")
        n_terms = base_terms + len(ext)
        small = []
        for i in range(count):
            live = members[f"s{i}.live"].astype(np.bool_)
            seg = Segment(**{name: members[f"s{i}.{name}"] for name in _TAIL_ARRAYS if name != "live"},
                          ref_avgdl=float(members["ref_avgdl"][i]), live=live, n_live=int(live.sum()),
                          live_len=int(members[f"s{i}.doc_len"][live].sum(dtype=np.int64)))
            if seg.n_terms > n_terms or seg.codes.dtype != np.uint32 or seg.doc_ids.dtype != np.int32:
                raise ValueError("damaged tail file (inconsistent arrays)")
            seg.check()
            small.append(seg)
    except (KeyError, TypeError, IndexError, UnicodeDecodeError) as exc:
        raise ValueError(f"damaged tail file ({type(exc).__name__}: {exc})") from exc
    # Everything checked: now change the state.
    for term in ext:
        state.vocabulary.id_of(term)
    dead = ~base_live
    if dead.any():
        base = state.base
        state._account(base, -1)
        base.codes[dead[base.doc_ids]] = 0
        base.live = base_live
        base.n_live = int(base_live.sum())
        base.live_len = int(base.doc_len[base_live].sum(dtype=np.int64))
        state._account(base, +1)
    for seg in small:
        state.segments.append(seg)
        state._account(seg, +1)
    state.log_seq = state.saved_seq = log_seq
    state.generation = generation


def load_index(path: Path) -> bm25.BM25Index:
    """A saved base as one plain index with its own statistics (for tools reading an index file)."""
    stored = load_segment(path)
    state = SegmentedIndex(stored.segment, stored.vocabulary, stored.params, stored.log_seq)
    return state.snapshot().views[0]


# --- the live view -------------------------------------------------------------------------------

class LiveVocabulary(Mapping[str, int]):
    """The terms some live passage holds (a term whose passages were all deleted is unknown, as after a rebuild)."""

    def __init__(self, ids: dict[str, int], n_terms: int, df: np.ndarray, count: int) -> None:
        self._ids, self._n, self._df, self._count = ids, n_terms, df, count
        # Terms whose passages were all deleted: few, and a set lookup is cheaper than reading df.
        self._gone = frozenset(np.flatnonzero(df[:n_terms] == 0).tolist())

    def get(self, term: str, default: Any = None) -> Any:
        tid = self._ids.get(term)
        if tid is None or tid >= self._n or tid in self._gone:
            return default
        return tid

    def __getitem__(self, term: str) -> int:
        tid = self.get(term)
        if tid is None:
            raise KeyError(term)
        return tid

    def __contains__(self, term: object) -> bool:
        return isinstance(term, str) and self.get(term) is not None

    def __iter__(self) -> Iterator[str]:
        return (t for t, i in list(self._ids.items()) if i < self._n and self._df[i] > 0)

    def __len__(self) -> int:
        return self._count


class LiveIndex:
    """What questions read: every segment as a `bm25.BM25Index` view, and the index-wide statistics.

    It stands in for a `BM25Index` where the statistics matter (`vocabulary`, `df`, `idf`,
    `n_passages`, `derived`: what query expansion and the no-answer model read); the postings are
    in `views`. A global passage number is its view's start plus its number in the view.
    """

    def __init__(self, views: Sequence[bm25.BM25Index], segments: Sequence[Segment | None],
                 vocabulary: Mapping[str, int], df: np.ndarray, idf: np.ndarray, n_passages: int, avgdl: float,
                 params: bm25.BM25Params) -> None:
        self.views = tuple(views)
        self.segments = tuple(segments)
        self.vocabulary = vocabulary
        self._df = df
        self.idf = idf
        self.n_passages = n_passages
        self.avgdl = avgdl
        self.params = params
        sizes = [v.n_passages for v in self.views]
        self.starts = np.concatenate(([0], np.cumsum(sizes, dtype=np.int64)))
        self._derived: dict[str, Any] = {}

    @classmethod
    def of_index(cls, index: bm25.BM25Index) -> LiveIndex:
        """A plain index (built whole, nothing deleted) as the one view of a live index."""
        df = np.diff(index.offsets)
        n = index.n_passages
        avgdl = (float(index.doc_len.sum(dtype=np.int64)) / n if n else 1.0) or 1.0
        return cls([index], [None], index.vocabulary, df, index.idf, n, avgdl, index.params)

    def df(self, term_id: int) -> int:
        return int(self._df[term_id])

    def derived(self, name: str, build: Any) -> Any:
        try:
            return self._derived[name]
        except KeyError:
            value = self._derived[name] = build(self)
            return value

    def locate(self, passage: int) -> tuple[int, int]:
        """(view number, passage number in it) of a global passage number."""
        if len(self.views) == 1:
            return 0, passage
        v = int(np.searchsorted(self.starts, passage, side="right")) - 1
        return v, passage - int(self.starts[v])

    def passage_id(self, passage: int) -> int:
        v, local = self.locate(passage)
        return int(self.views[v].passage_ids[local])

    def article_id(self, passage: int) -> int:
        """The article (its rowid) of a global passage number."""
        v, local = self.locate(passage)
        return int(self.views[v].article_ids[local])

    def is_live(self, view: int, local: int) -> bool:
        seg = self.segments[view]
        return seg is None or bool(seg.live[local])

    @property
    def passage_ids(self) -> np.ndarray:
        """Every passage id by global passage number (concatenated on first use: for tools, not questions)."""
        return self.derived("passage_ids", lambda s: np.concatenate([v.passage_ids for v in s.views]))

    def live_passage_ids(self) -> np.ndarray:
        """The ids of the passages this index answers with (deleted ones left out)."""
        return np.concatenate([v.passage_ids if s is None else v.passage_ids[s.live]
                               for v, s in zip(self.views, self.segments, strict=True)])

    @property
    def deleted(self) -> int:
        return sum(s.size - s.n_live for s in self.segments if s is not None)


def live_idf(df: np.ndarray, n: int, params: bm25.BM25Params) -> np.ndarray:
    """Per global term, its idf as a full build over the live passages computes it (0 for a term with none).

    Okapi floors negative idf at epsilon × the mean idf over the vocabulary a rebuild would have:
    the terms some live passage holds.
    """
    out = np.zeros(df.size, dtype=np.float64)
    present = df > 0
    if present.all():
        return bm25._idf(df, n, params)
    out[present] = bm25._idf(df[present], n, params)
    return out


class SegmentedIndex:
    """One process's near-real-time index: the base, the segments added since, and the statistics."""

    def __init__(self, base: Segment, vocabulary: Vocabulary, params: bm25.BM25Params, log_seq: int) -> None:
        self.params = params
        self.vocabulary = vocabulary
        self.segments: list[Segment] = [base]
        self.log_seq = log_seq  # the last passage-log entry applied
        self.base_seq = log_seq
        self.generation = -1  # the database's content generation at the last refresh
        self.base_checksum = 0  # of the base file, if loaded from one
        self.base_terms = len(vocabulary)  # the base's vocabulary: ids below this
        self.saved_seq = log_seq  # the log entry the tail file on disk reflects
        self.last_merge: float | None = None  # when segments were last merged (time.time())
        self._df = np.zeros(max(len(vocabulary), 1024), dtype=np.int64)
        self.n_live = 0
        self.total_len = 0
        self._account(base, +1)

    @property
    def base(self) -> Segment:
        return self.segments[0]

    @property
    def avgdl(self) -> float:
        return (float(self.total_len) / self.n_live if self.n_live else 1.0) or 1.0

    def _grow(self, n_terms: int) -> None:
        if n_terms > self._df.size:
            df = np.zeros(max(n_terms, 2 * self._df.size), dtype=np.int64)
            df[:self._df.size] = self._df
            self._df = df

    def _account(self, seg: Segment, sign: int) -> None:
        self._grow(seg.n_terms)
        counts = np.diff(seg.offsets)
        if seg.n_live != seg.size:  # deleted passages' postings (code 0) leave the counts
            dead = np.flatnonzero(seg.codes == 0)
            counts = counts - np.bincount(np.searchsorted(seg.offsets, dead, side="right") - 1,
                                          minlength=seg.n_terms)
        self._df[:seg.n_terms] += sign * counts
        self.n_live += sign * seg.n_live
        self.total_len += sign * seg.live_len

    def add(self, documents: Sequence[Sequence[str]], passage_ids: Sequence[int],
            article_ids: Sequence[int]) -> Segment | None:
        """Index new passages (in passage id order) as a new segment."""
        if not passage_ids:
            return None
        added_len = sum(len(d) for d in documents)
        n = self.n_live + len(passage_ids)
        avgdl = (float(self.total_len + added_len) / n) or 1.0
        seg = build_segment(documents, passage_ids, article_ids, self.vocabulary, self.params, avgdl)
        self.segments.append(seg)
        self._account(seg, +1)
        return seg

    def delete(self, passage_id: int, terms: str) -> bool:
        """Mark a passage deleted (its `terms` as stored); False if no live passage has that id."""
        for seg in reversed(self.segments):
            local = seg.find(passage_id)
            if local is None:
                continue
            tokens = terms.split()
            for term in set(tokens):
                tid = self.vocabulary.ids.get(term)
                if tid is None or tid >= seg.n_terms:
                    return False
                lo, hi = int(seg.offsets[tid]), int(seg.offsets[tid + 1])
                pos = lo + int(np.searchsorted(seg.doc_ids[lo:hi], local))
                if pos >= hi or seg.doc_ids[pos] != local:
                    return False
                seg.codes[pos] = 0
                self._df[tid] -= 1
            seg.live[local] = False
            seg.n_live -= 1
            seg.live_len -= len(tokens)
            self.n_live -= 1
            self.total_len -= len(tokens)
            return True
        return False

    def delete_many(self, deleted: Sequence[tuple[int, str]]) -> bool:
        """Mark passages deleted, given as (passage id, stored terms); False if one is not held live.

        A few are looked up term by term (`delete`); many in one segment (a re-ingested
        batch of updated articles) in one vectorised pass over its postings instead.
        """
        if len(deleted) < _BULK_DELETE:
            return all(self.delete(pid, terms) for pid, terms in deleted)
        pending = np.array([pid for pid, _ in deleted], dtype=np.int64)
        if np.unique(pending).size != pending.size:
            return False
        for seg in reversed(self.segments):
            if pending.size == 0:
                break
            pos = np.searchsorted(seg.passage_ids, pending)
            ok = pos < seg.size
            ok[ok] = (seg.passage_ids[pos[ok]] == pending[ok]) & seg.live[pos[ok]]
            local = pos[ok]
            pending = pending[~ok]
            if local.size:
                self._kill(seg, local)
        return pending.size == 0

    def _kill(self, seg: Segment, local: np.ndarray) -> None:
        """Mark passages `local` of `seg` deleted: zero their postings' codes, leave the statistics."""
        self._account(seg, -1)
        dead = np.zeros(seg.size, dtype=np.bool_)
        dead[local] = True
        seg.codes[dead[seg.doc_ids]] = 0
        seg.live[local] = False
        seg.n_live = int(seg.live.sum())
        seg.live_len = int(seg.doc_len[seg.live].sum(dtype=np.int64))
        self._account(seg, +1)

    def merge_small(self, first: int = 1) -> None:
        """Merge segments[first:] into one (the base stays as it is)."""
        small = self.segments[first:]
        if len(small) < 2:
            return
        merged = merge_segments(small, self.avgdl, self.params)
        self.segments[first:] = [merged]

    def merge_tiered(self, max_small: int, factor: float) -> bool:
        """Merge the newest segments while more than `max_small` follow the base; True if any were.

        The newest ones are gathered, and an older one joins them only while it is at most
        `factor` times what is gathered, so a large segment is rewritten only after comparable
        growth behind it (a passage is rewritten O(log) times, as in Lucene's tiered policy).
        """
        merged = False
        while len(self.segments) - 1 > max_small:
            i = len(self.segments) - 2  # at least the two newest
            total = self.segments[-1].size + self.segments[i].size
            while i > 1 and self.segments[i - 1].size <= factor * total:
                i -= 1
                total += self.segments[i].size
            self.merge_small(i)
            merged = True
        return merged

    def snapshot(self) -> LiveIndex:
        n_terms = len(self.vocabulary)
        df = self._df[:n_terms].copy()
        n = self.n_live
        avgdl = self.avgdl
        idf = live_idf(df, n, self.params)
        views = []
        for seg in self.segments:
            view = bm25.BM25Index(
                vocabulary=self.vocabulary.ids, offsets=seg.padded_offsets(n_terms), doc_ids=seg.doc_ids,
                impacts=_EMPTY_F32, idf=idf, doc_len=seg.doc_len, passage_ids=seg.passage_ids,
                article_ids=seg.article_ids, max_impact=seg.bounds(avgdl, n_terms), params=self.params,
                codes=seg.codes, table=seg.table(avgdl, self.params), _scratch=seg.scratch, _derived=seg.derived)
            # Derived from article_ids alone: computed once per segment, not per refresh.
            view.__dict__["article_numbers"] = seg.article_numbers()
            views.append(view)
        vocab = LiveVocabulary(self.vocabulary.ids, n_terms, df, int(np.count_nonzero(df)))
        return LiveIndex(views, list(self.segments), vocab, df, idf, n, avgdl, self.params)

    # --- for stats ---

    @property
    def segment_passages(self) -> int:
        return sum(s.n_live for s in self.segments[1:])

    @property
    def deleted(self) -> int:
        return sum(s.size - s.n_live for s in self.segments)
