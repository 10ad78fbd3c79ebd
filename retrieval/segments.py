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
tables (a few thousand pairs) and the idf of the whole vocabulary (the
passage count is in every term's) are recomputed on each refresh; the
per-term score bounds are kept while avgdl moves less than they allow for
(`Segment.bounds`), and what an add changes in the document frequencies is
only the terms it holds. What is left per refresh over the whole vocabulary
(the idf, a copy of the df, the new segment's offsets over every term id) is
~0.4 ms at 82k terms, instead of O(postings).

Deleted passages (an article updated or deleted) stay in their segment with
their postings' codes set to 0, whose impact is 0, and are marked dead:
they leave N, avgdl and the document frequencies at once (their terms come
from the passage log, `store.passage_changes`), and ranking drops them.

`SegmentedIndex` is the mutable state one process keeps; `snapshot()` gives
an immutable `LiveIndex` that questions read (swapped in by assignment, as
the whole index always was). A segment and its build and merge are in
`segment`; the base and tail files in `segmentfile`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any, TypeVar

import numpy as np

from . import bm25
from .segment import Segment, Vocabulary, build_segment, build_segment_from_tokens, merge_segments, text_term_ids

T = TypeVar("T")

_EMPTY_F32 = np.empty(0, dtype=np.float32)
# Deletions from one refresh from which one pass over a segment's postings beats a lookup per term.
_BULK_DELETE = 256


# --- the live view -------------------------------------------------------------------------------

class LiveVocabulary(Mapping[str, int]):
    """The terms some live passage holds (a term whose passages were all deleted is unknown, as after a rebuild)."""

    def __init__(self, ids: dict[str, int], n_terms: int, df: np.ndarray, count: int,
                 gone: frozenset[int] | None = None) -> None:
        self._ids, self._n, self._df, self._count = ids, n_terms, df, count
        # Terms whose passages were all deleted: few, and a set lookup is cheaper than reading df.
        # (`gone`: those term ids, if the caller knows them.)
        self._gone = frozenset(np.flatnonzero(df[:n_terms] == 0).tolist()) if gone is None else gone

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

    def kept(self, name: str) -> Any:
        """What `keep` (or `derived`) holds under `name` for this snapshot, None if nothing yet."""
        return self._derived.get(name)

    def keep(self, name: str, value: T) -> T:
        """Hold `value` under `name` as long as this snapshot is: for what is derived asynchronously."""
        self._derived[name] = value
        return value

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


def live_idf(df: np.ndarray, n: int, params: bm25.BM25Params, absent: np.ndarray | None = None) -> np.ndarray:
    """Per global term, its idf as a full build over the live passages computes it (0 for a term with none).

    Okapi floors negative idf at epsilon × the mean idf over the vocabulary a rebuild would have:
    the terms some live passage holds. `absent`: the term ids whose df is 0, if the caller knows them.

    L and Plus (a term's idf depends on its own df alone) are computed in place over one float64
    copy of df, with `bm25._idf`'s expressions (so the same values), and the absent terms' df
    taken as 1 and their idf then zeroed: run on every refresh over the whole vocabulary, the
    masked gather and scatter and numpy's temporaries cost ~0.5 ms at 83k terms.
    """
    if absent is None:
        absent = np.flatnonzero(df == 0)
    if params.variant == "okapi":
        if absent.size == 0:
            return bm25._idf(df, n, params)
        present = np.ones(df.size, dtype=np.bool_)
        present[absent] = False
        out = np.zeros(df.size, dtype=np.float64)
        out[present] = bm25._idf(df[present], n, params)
        return out
    out = df.astype(np.float64)
    out[absent] = 1.0
    if params.variant == "l":  # np.log(n + 1) - np.log(df + 0.5)
        out += 0.5
        np.log(out, out=out)
        np.subtract(np.log(n + 1), out, out=out)
    else:  # plus: np.log((n + 1) / df)
        np.divide(n + 1, out, out=out)
        np.log(out, out=out)
    out[absent] = 0.0
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
        # The term ids below the vocabulary's size whose df is 0 (all their passages deleted), as of
        # the last snapshot; None when a deletion since may have added some (see snapshot).
        self._gone: frozenset[int] | None = None
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

    def _account(self, seg: Segment, sign: int, *, dead_df: np.ndarray | None = None) -> None:
        """Add (+1) or remove (-1) `seg`'s passages in the statistics; `dead_df`: its deleted postings
        per term if known (else they are found by a pass over its postings).

        Only the terms the segment holds are touched (a new segment's few thousand, not the
        vocabulary).
        """
        self._grow(seg.n_terms)
        held, counts = seg.held_terms()
        if seg.n_live != seg.size:  # deleted passages' postings (code 0) leave the counts
            if dead_df is None:
                dead = np.flatnonzero(seg.codes == 0)
                dead_df = np.bincount(np.searchsorted(seg.offsets, dead, side="right") - 1, minlength=seg.n_terms)
            counts = counts - dead_df[held]
        self._df[held] += sign * counts
        if sign < 0 or seg.n_live != seg.size:
            self._gone = None
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
        return self._added(build_segment(documents, passage_ids, article_ids, self.vocabulary, self.params, avgdl))

    def add_texts(self, texts: Sequence[str | bytes], passage_ids: Sequence[int],
                  article_ids: Sequence[int]) -> Segment | None:
        """`add` of passages given as their stored terms (space-separated, str or UTF-8): what a refresh reads."""
        if not passage_ids:
            return None
        tokens, doc_len = text_term_ids(texts, self.vocabulary)
        n = self.n_live + len(passage_ids)
        avgdl = (float(self.total_len + int(doc_len.sum(dtype=np.int64))) / n) or 1.0
        return self._added(build_segment_from_tokens(tokens, doc_len, passage_ids, article_ids,
                                                     len(self.vocabulary), self.params, avgdl))

    def _added(self, seg: Segment) -> Segment:
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
                self._gone = None
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
        # Only deletions make a df 0 (a new term comes with its postings): after adds alone the
        # last snapshot's gone terms are checked, not the whole vocabulary.
        gone = self._gone
        if gone is None:
            gone = frozenset(np.flatnonzero(df == 0).tolist())
        elif gone:
            gone = frozenset(t for t in gone if df[t] == 0)
        self._gone = gone
        idf = live_idf(df, n, self.params, np.fromiter(gone, dtype=np.int64, count=len(gone)))
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
        vocab = LiveVocabulary(self.vocabulary.ids, n_terms, df, n_terms - len(gone), gone)
        return LiveIndex(views, list(self.segments), vocab, df, idf, n, avgdl, self.params)

    # --- for stats ---

    @property
    def segment_passages(self) -> int:
        return sum(s.n_live for s in self.segments[1:])

    @property
    def deleted(self) -> int:
        return sum(s.size - s.n_live for s in self.segments)
