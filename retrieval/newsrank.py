"""Date and outlet filters in ranking, and newest-first ordering.

Per index, each passage's article publication time (epoch seconds, NaN when the article has no
readable date) and source code are read from SQLite once (`ArticleMeta`), so a filter is a
boolean mask over passages: ranking under a filter scores the question's postings, keeps the
passages inside the mask and takes each article's best one, and re-ranking and the no-answer
check then run on those leaders exactly as without a filter.
"""

from __future__ import annotations

import email.utils
import re
from dataclasses import dataclass
from datetime import datetime, tzinfo

import aiosqlite
import numpy as np

from . import bm25, rerank
from .newsquery import Filters

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
    """Per passage number of one index: its article's publication time and source."""

    published: np.ndarray  # float64 epoch seconds, NaN if unknown
    source: np.ndarray  # int32 code into `sources`, -1 for an article gone since the build
    sources: dict[str, int]


async def article_meta(db: aiosqlite.Connection, index: bm25.BM25Index, tz: tzinfo) -> ArticleMeta:
    rows = await db.execute_fetchall("SELECT rowid, published, source FROM articles ORDER BY rowid")
    rowids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
    stamps = np.fromiter((published_timestamp(r[1], tz) for r in rows), dtype=np.float64, count=len(rows))
    sources: dict[str, int] = {}
    codes = np.fromiter((sources.setdefault(r[2], len(sources)) for r in rows), dtype=np.int32, count=len(rows))
    pos = np.searchsorted(rowids, index.article_ids)
    found = pos < rowids.size
    found[found] = rowids[pos[found]] == index.article_ids[found]
    pos = np.where(found, pos, 0)
    published = np.where(found, stamps[pos] if rows else np.nan, np.nan)
    source = np.where(found, codes[pos] if rows else -1, -1).astype(np.int32)
    return ArticleMeta(published, source, sources)


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


def leading_passages(index: bm25.BM25Index, weights: dict[int, float], depth: int, mask: np.ndarray) -> list[int]:
    """The best passage of each of the top `depth` articles among the passages of `mask`.

    Exact, by scoring every posting of the question's terms (no pruning: the pruning bounds
    hold for the whole index, not for a part of it); the same order as `bm25.top_articles`
    (score descending, ties to the lower passage number).
    """
    cand, scores = bm25.score(index, weights)
    keep = mask[cand]
    cand, scores = cand[keep], scores[keep]
    if cand.size == 0:
        return []
    order = np.lexsort((cand, -scores))
    cand = cand[order]
    _, first = np.unique(index.article_numbers[cand], return_index=True)
    first.sort()
    return cand[first[:depth]].tolist()


def latest_in(index: bm25.BM25Index, mask: np.ndarray, published: np.ndarray, wanted: int) -> list[tuple[int, float]]:
    """The lead passages of the newest `wanted` articles inside `mask` (score 0: nothing was matched)."""
    leads = np.flatnonzero(mask & (rerank.article_layout(index).ordinal == 0) & ~np.isnan(published))
    if leads.size == 0:
        return []
    order = np.lexsort((leads, -published[leads]))[:wanted]
    return [(int(p), 0.0) for p in leads[order]]


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
