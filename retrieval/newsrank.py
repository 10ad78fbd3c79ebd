"""Date and outlet filters in ranking, and newest-first ordering.

Each passage's article publication time (epoch seconds, NaN when the article has no readable
date) and source code are read from SQLite once per segment of the index (kept with the segment:
a refresh that adds a segment reads only its articles) and put together per index snapshot
(`live_meta`), so a filter is a boolean mask over global passage numbers: ranking
under a filter scores the question's postings in every segment, keeps the live passages inside
the mask and takes each article's best one, and re-ranking and the no-answer check then run on
those leaders exactly as without a filter.
"""

from __future__ import annotations

import asyncio
import email.utils
import re
from dataclasses import dataclass
from datetime import datetime, tzinfo

import aiosqlite
import numpy as np

from . import rerank, scoring, store
from .newsquery import Filters
from .segments import LiveIndex

_SLASHED = re.compile(r"^(\d{4})[/.](\d{1,2})[/.](\d{1,2})")


def published_timestamp(published: str, tz: tzinfo) -> float:
    """Epoch seconds of a stored `published` (ISO 8601, `YYYY/MM/DD`, or RFC 2822 as feeds write it).

    A time without an offset is taken in `tz` (the reader's zone); NaN when it cannot be read.
    """
    text = published.strip()
    if not text:
        return float("nan")
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        moment = None
        if m := _SLASHED.match(text):
            try:
                moment = datetime(int(m[1]), int(m[2]), int(m[3]))
            except ValueError:
                return float("nan")
        else:
            try:
                moment = email.utils.parsedate_to_datetime(text)
            except (TypeError, ValueError, IndexError):
                return float("nan")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=tz)
    return moment.timestamp()


@dataclass(frozen=True)
class ArticleMeta:
    """Per global passage number of one index snapshot: its article's publication time and source.

    Deleted passages (and articles gone since their segment was read) have NaN and -1, so no
    filter window or outlet holds them.
    """

    published: np.ndarray  # float64 epoch seconds, NaN if unknown
    source: np.ndarray  # int32 code into `sources`, -1 for an article gone
    sources: dict[str, int]


_PART = "news_meta"  # the key of a segment's part in its derived values
# Up to this share of the stored articles, a segment's articles are looked up by rowid; beyond it
# every article is read at once, grouped by date and by source (a lookup costs a few times as much
# per article as that read, which touches only the two small indexes on those columns).
_LOOKUP_SHARE = 0.25


@dataclass(frozen=True)
class _Dates:
    """Publication time and source code of stored articles, by rowid (ascending)."""

    rowids: np.ndarray  # int64
    published: np.ndarray  # float64 epoch seconds, NaN if unknown
    source: np.ndarray  # int32 code into the engine's `sources`

    def of(self, article_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per passage (its article rowid): the article's time and source; NaN and -1 for one gone."""
        if not self.rowids.size:
            return np.full(article_ids.size, np.nan), np.full(article_ids.size, -1, dtype=np.int32)
        top = int(self.rowids[-1])
        if top < 4 * self.rowids.size + 1024:
            # Rowids are dense (deleted articles leave gaps): a table by rowid is one gather per
            # passage, where a binary search of a million passages' articles took ~0.1 s.
            published = np.full(top + 2, np.nan)
            source = np.full(top + 2, -1, dtype=np.int32)
            published[self.rowids] = self.published
            source[self.rowids] = self.source
            at = np.where((article_ids >= 0) & (article_ids <= top), article_ids, top + 1)
            return published[at], source[at]
        pos = np.searchsorted(self.rowids, article_ids)
        found = pos < self.rowids.size
        found[found] = self.rowids[pos[found]] == article_ids[found]
        pos = np.where(found, pos, 0)
        return (np.where(found, self.published[pos], np.nan),
                np.where(found, self.source[pos], -1).astype(np.int32))


def _dates_of_rows(rows: list[tuple[int, str, str]], tz: tzinfo, sources: dict[str, int]) -> _Dates:
    """From (rowid, published, source) rows in rowid order."""
    return _Dates(np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows)),
                  np.fromiter((published_timestamp(r[1], tz) for r in rows), dtype=np.float64, count=len(rows)),
                  np.fromiter((sources.setdefault(r[2], len(sources)) for r in rows), dtype=np.int32,
                              count=len(rows)))


def _dates_of_groups(groups: list[tuple[int, str, int, str]], tz: tzinfo, sources: dict[str, int]) -> _Dates:
    """From `store.articles_grouped_by_date_and_source`'s rows: each distinct date is parsed once."""
    parts: list[tuple[np.ndarray, np.ndarray]] = []
    for kind in (0, 1):
        mine = [g for g in groups if g[0] == kind]
        counts = np.fromiter((g[2] for g in mine), dtype=np.int64, count=len(mine))
        if kind == 0:
            values = np.fromiter((published_timestamp(g[1], tz) for g in mine), dtype=np.float64, count=len(mine))
        else:
            values = np.fromiter((sources.setdefault(g[1], len(sources)) for g in mine), dtype=np.int32,
                                 count=len(mine))
        rowids = (np.fromstring(",".join(g[3] for g in mine), dtype=np.int64, sep=",") if mine
                  else np.empty(0, dtype=np.int64))
        if rowids.size != int(counts.sum()):
            raise ValueError("articles' rowids read short")
        order = np.argsort(rowids, kind="stable")
        parts.append((rowids[order], np.repeat(values, counts)[order]))
    (rowids, published), (by_source, codes) = parts
    # One statement, one snapshot: both list the same articles.
    if not np.array_equal(rowids, by_source):
        raise ValueError("articles' dates and sources read from different states")
    return _Dates(rowids, published, codes)


async def _read_dates(db: aiosqlite.Connection, article_ids: list[np.ndarray], tz: tzinfo,
                     sources: dict[str, int]) -> _Dates:
    """The dates and sources of at least the articles in `article_ids` (segments' rowids per passage);
    parsed in a worker thread, so a question's first date filter after a start or a merge does not
    hold the event loop."""
    # Passages (at least as many as their articles) decide: counting the distinct articles of a
    # million passages would cost a sort.
    if sum(a.size for a in article_ids) > _LOOKUP_SHARE * await store.article_rowid_bound(db):
        groups = await store.articles_grouped_by_date_and_source(db)
        return await asyncio.to_thread(_dates_of_groups, groups, tz, sources)
    wanted = np.unique(np.concatenate(article_ids))
    rows = await store.dates_and_sources(db, wanted.tolist())
    return await asyncio.to_thread(_dates_of_rows, rows, tz, sources)


async def live_meta(db: aiosqlite.Connection, index: LiveIndex, tz: tzinfo, sources: dict[str, int]) -> ArticleMeta:
    """The `ArticleMeta` of an index snapshot: its segments' parts put together, with deleted passages
    blanked; kept with the snapshot (one concatenation per refresh).

    A segment's part (publication time, source code per passage) is read once and kept with the
    segment: an article's date or source changes only with its text, which writes new passages (a
    new segment), so what was read for a segment holds for its passages as long as they are live.
    The segments not read yet are read together (after a start, the base and every segment from
    one read of the articles). `sources` grows as new outlets are met, so codes stay valid for every
    part read before.
    """
    cached = index.kept(_PART)
    if cached is not None and cached.sources is sources:
        return cached
    missing = [view for view in index.views if (view.kept(_PART) or (None,))[0] is not sources]
    if missing:
        dates = await _read_dates(db, [view.article_ids for view in missing], tz, sources)
        parts = await asyncio.to_thread(lambda: [dates.of(view.article_ids) for view in missing])
        for view, (published, source) in zip(missing, parts, strict=True):
            view.keep(_PART, (sources, published, source))
    # Put together in a worker thread too: numpy passes over every passage (~10 ms at a million)
    # that let the event loop run meanwhile.
    return index.keep(_PART, await asyncio.to_thread(_assembled, index, sources))


def _assembled(index: LiveIndex, sources: dict[str, int]) -> ArticleMeta:
    published_parts, source_parts = [], []
    for view, seg in zip(index.views, index.segments, strict=True):
        _, published, source = view.kept(_PART)
        if seg is not None and seg.n_live != seg.size:
            published = np.where(seg.live, published, np.nan)
            source = np.where(seg.live, source, -1).astype(np.int32)
        published_parts.append(published)
        source_parts.append(source)
    return ArticleMeta(np.concatenate(published_parts) if published_parts else np.empty(0),
                       np.concatenate(source_parts) if source_parts else np.empty(0, dtype=np.int32), sources)


def mask_of(meta: ArticleMeta, filters: Filters) -> np.ndarray | None:
    """Passages inside the filters' window and outlets, or None when they restrict nothing."""
    mask = None
    if filters.start is not None and filters.end is not None:
        with np.errstate(invalid="ignore"):  # NaN (no date) compares False: outside every window
            mask = (meta.published >= filters.start.timestamp()) & (meta.published < filters.end.timestamp())
    if filters.sources:
        codes = [meta.sources[s] for s in filters.sources if s in meta.sources]
        in_sources = np.isin(meta.source, np.array(codes, dtype=np.int32))
        mask = in_sources if mask is None else mask & in_sources
    return mask


def leading_passages(index: LiveIndex, weights: dict[int, float], depth: int,
                     mask: np.ndarray) -> list[tuple[int, int]]:
    """(view, passage number in it) of the best passage of each of the top `depth` live articles
    among the passages of `mask` (global passage numbers), best first.

    Exact, by scoring every posting of the question's terms in every segment (no pruning: the
    pruning bounds hold for the whole index, not for a part of it); the order of a full build
    (score descending, ties to the lower passage id). An article's live passages are all in one
    segment, so each segment's best passage per article is the article's best.
    """
    found: list[tuple[float, int, int, int]] = []
    for v, view in enumerate(index.views):
        w = {t: x for t, x in weights.items() if view.offsets[t + 1] > view.offsets[t]}
        if not w:
            continue
        cand, scores = scoring.score(view, w)
        start = int(index.starts[v])
        keep = mask[cand + start] if start else mask[cand]
        seg = index.segments[v]
        if seg is not None:
            keep &= seg.live[cand]
        cand, scores = cand[keep], scores[keep]
        if cand.size == 0:
            continue
        order = np.lexsort((cand, -scores))
        cand, scores = cand[order], scores[order]
        _, first = np.unique(view.article_numbers[cand], return_index=True)
        first.sort()
        first = first[:depth]
        pids = view.passage_ids[cand[first]]
        found += [(-s, int(pid), v, int(d)) for s, pid, d in
                  zip(scores[first].tolist(), pids.tolist(), cand[first].tolist(), strict=True)]
    found.sort()
    return [(v, d) for _, _, v, d in found[:depth]]


def latest_in(index: LiveIndex, mask: np.ndarray, published: np.ndarray, wanted: int) -> list[tuple[int, float]]:
    """The lead passages of the newest `wanted` live articles inside `mask` (score 0: nothing was matched).

    (`published` is NaN for deleted passages: see `live_meta`.)
    """
    leads = np.flatnonzero(mask & _lead_marks(index) & ~np.isnan(published))
    if leads.size == 0:
        return []
    order = np.lexsort((leads, -published[leads]))[:wanted]
    return [(int(p), 0.0) for p in leads[order]]


def _lead_marks(index: LiveIndex) -> np.ndarray:
    """Per global passage number, whether it is its article's first passage (kept with the snapshot)."""
    def build(index: LiveIndex) -> np.ndarray:
        parts = [rerank.article_layout(view).ordinal == 0 for view in index.views]
        return np.concatenate(parts) if parts else np.empty(0, dtype=np.bool_)

    return index.derived("lead_marks", build)


# Newest first keeps the leading articles that match the question about as well as the best one
# does (this share of its coverage of the question's idf mass), then orders them by date.
NEWEST_COVERAGE_SHARE = 0.75
NEWEST_DEPTH = 100


def newest_first(evidence: list[rerank.Evidence], published: np.ndarray) -> list[rerank.Evidence]:
    if not evidence:
        return evidence
    floor = evidence[0].article_coverage * NEWEST_COVERAGE_SHARE
    kept = [e for e in evidence if e.article_coverage >= floor]
    # Undated articles last; the relevance order decides among equal dates (sorted is stable).
    return sorted(kept, key=lambda e: -published[e.passage] if not np.isnan(published[e.passage]) else np.inf)
