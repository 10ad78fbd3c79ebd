"""`SearchEngine`: the one interface front ends use.

It owns two SQLite connections (a writer, and a reader that never sees a
half-written batch thanks to WAL) and the current index. Searching reads
`self._index` once, so a refreshed or rebuilt index swaps in atomically by
plain assignment while questions keep being answered from the old one.

The parts behind it: `config` (RetrievalConfig), `ingest` (batches written to
SQLite, story grouping), `upkeep` (loading, refreshing, merging and rebuilding
the index; `indexing` and `segments` do the work), `query` (expansion, ranking
over segments, re-ranking, the no-answer rule, news filters through `newsrank`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Iterable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import aiosqlite
import numpy as np

from . import ingest, newsrank, rerank, rowreads, segments, shown, slotfill, store, storygroups, storymap
from . import query as _query
from .articles import Article

# Re-exported: benchmarks and front ends import them from here.
from .config import FULL_COVERAGE, PIPELINE_VERSION, RetrievalConfig  # noqa: F401
from .excerpts import excerpt_parts, make_excerpt  # noqa: F401  (make_excerpt re-exported)

# Re-exported: front ends, tests and benchmarks import them from here.
from .ingest import (  # noqa: F401
    _COLLECTOR_PAUSE,
    TITLE_CHARS,
    TITLE_TERMS,
    IngestReport,
    ProgressCallback,
    _CollectorPause,
    prepare,
)
from .newsquery import Filters
from .query import Ranking
from .readers import Record, read_bytes, upload_name
from .upkeep import (  # noqa: F401  (re-exported)
    BUILD_IN_PROCESS_MIN_PASSAGES,
    PICKUP_SECONDS,
    IndexInfo,
    IndexUpkeep,
    SegmentInfo,
)
from .walcheckpoint import WalCheckpointer

log = logging.getLogger(__name__)



@dataclass(frozen=True, slots=True)
class Hit:
    article_id: str
    passage_id: int
    score: float
    title: str
    source: str
    section: str
    published: str
    url: str
    excerpt: str
    highlights: tuple[tuple[int, int], ...]  # spans of matched words in `excerpt`
    passage_ord: int
    outside_filters: bool = False  # shown although outside the question's date or outlet filters
    also: tuple[storygroups.StoryCopy, ...] = ()  # other versions of the same story (other outlets, sections)


@dataclass(frozen=True, slots=True)
class SearchResult:
    query: str
    terms: tuple[str, ...]
    hits: tuple[Hit, ...]
    offset: int
    has_more: bool
    no_answer: str | None  # why nothing is shown: "no_terms", "unknown_terms", "weak", "empty_window"
    seconds: float
    confidence: str = "high"  # "low": the hits are the closest matches, which may not answer the question
    filters: Filters | None = None  # the date and outlet filters searched with
    outside_filters: bool = False  # nothing matched inside them: these hits are the best outside


_make_hit = slotfill.maker(Hit)
_make_result = slotfill.maker(SearchResult)


@dataclass(frozen=True, slots=True)
class Stats:
    articles: int
    passages: int
    sources: int
    index: IndexInfo | None
    segments: SegmentInfo | None = None


class SearchEngine(IndexUpkeep):
    def __init__(self, db_path: str | Path, config: RetrievalConfig, writer: aiosqlite.Connection,
                 reader: aiosqlite.Connection) -> None:
        self.db_path = Path(db_path)
        self.config = config
        self._writer = writer
        self._reader = reader
        self._rows: rowreads.RowReader | None = None  # the answer path's reads, without aiosqlite's thread hop
        self._story_map: storymap.StoryMap | None = None  # each indexed article's story (with _rows)
        self._index: segments.LiveIndex | None = None
        self._index_info: IndexInfo | None = None
        self._nrt: segments.SegmentedIndex | None = None  # what refreshes apply the passage log to
        self._write_lock = asyncio.Lock()
        self._build_lock = asyncio.Lock()
        self._refresh_lock = asyncio.Lock()
        self._polled_at = time.monotonic()
        self._poller: asyncio.Future[None] | None = None
        self._merger: asyncio.Future[None] | None = None
        self._watcher: asyncio.Future[None] | None = None
        self._tail_saver: asyncio.Future[None] | None = None
        # Outlet codes of the news metadata (newsrank.live_meta): grows as outlets appear, so the
        # codes of every segment's part read before stay valid.
        self._news_sources: dict[str, int] = {}
        self._stories = storygroups.StoryKeeper(ZoneInfo(config.timezone))
        # The WAL checkpoint, off the adds' commits (retrieval/walcheckpoint.py).
        self._checkpointer = WalCheckpointer(db_path)
        self._target = ingest.Target(config, writer, self._write_lock, self._stories,
                                     checkpoints=self._checkpointer)
        # Called (no arguments) after an ingest that added or changed articles: followed-topic alerts.
        self.ingest_listeners = self._target.listeners

    # --- lifecycle ------------------------------------------------------------------

    @classmethod
    def over_index(cls, index: _query.Index, config: RetrievalConfig) -> SearchEngine:
        """An engine ranking over `index`, held in memory with no database behind it: for evaluation tools
        and tests of the ranking (`rank`, `expand`, `leading_evidence`); nothing that reads or writes the
        database (search, ingest) works on it."""
        engine = cls(":memory:", config, None, None)  # type: ignore[arg-type]
        engine._index = index  # type: ignore[assignment]
        return engine

    @classmethod
    async def open(cls, db_path: str | Path, config: RetrievalConfig | None = None,
                   *, load_index: bool = True, story_map: bool = True) -> SearchEngine:
        """Open the database, migrating it, and load (or build) the index.

        `story_map`: answers take each indexed article's story from memory (`storymap.StoryMap`),
        read in a worker thread on the first question; for a process that answers many. One that
        answers one question and exits (`newsbot ask`) leaves it off: the read (~0.7 s of CPU at a
        million passages) would only compete with its one answer, which asks SQLite instead.
        """
        config = config or RetrievalConfig()
        writer = await store.connect(db_path)
        try:
            reader = await store.connect(db_path)
        except BaseException:
            await writer.close()
            raise
        engine = cls(db_path, config, writer, reader)
        try:
            await engine._checkpointer.attach(writer)
            engine._rows = rowreads.RowReader.open(db_path)
            engine._story_map = storymap.StoryMap(Path(db_path)) if story_map and engine._rows is not None else None
            await ingest.refresh_pipeline(engine._target)
            await engine._stories.catch_up(engine._writer)  # articles stored before stories were kept
            if load_index:
                await engine.ensure_index()
        except BaseException:
            await engine.close()
            raise
        return engine

    async def close(self) -> None:
        for task in (self._watcher, self._poller, self._merger, self._small_merger, self._tail_saver):
            if task is not None and not task.done():
                task.cancel()
                await asyncio.wait([task])
        await self.save_segments()
        await self._checkpointer.close()
        if self._log_readers is not None:
            self._log_readers.close()
        if self._story_map is not None:
            await self._story_map.close()
        if self._rows is not None:
            self._rows.close()
        await self._reader.close()
        await self._writer.close()

    async def __aenter__(self) -> SearchEngine:
        return self

    # --- the database, for the rest of retrieval (NewsDesk's outlets) ---------------

    @property
    def reader(self) -> aiosqlite.Connection:
        """The read connection: queries only, never a transaction."""
        return self._reader

    @property
    def rows(self) -> rowreads.RowReader | None:
        """The answer path's synchronous reader (None for an in-memory database)."""
        return self._rows

    @property
    def story_map(self) -> storymap.StoryMap | None:
        """Each indexed article's story in memory (with the synchronous reader only)."""
        return self._story_map

    @asynccontextmanager
    async def writing(self) -> AsyncIterator[aiosqlite.Connection]:
        """The write connection, held alone: a transaction here never interleaves with ingest's."""
        async with self._write_lock:
            yield self._writer

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # --- ingest -----------------------------------------------------------------------

    async def load_stories(self) -> None:
        """Load the story index now, not on the first add (a serving process: see StoryKeeper.load)."""
        async with self._write_lock:
            await self._stories.load(self._writer)

    async def ingest_paths(self, paths: Iterable[str | Path], progress: ProgressCallback | None = None,
                           *, rebuild: bool = True) -> IngestReport:
        """Ingest files and folders; with `rebuild` what changed is made searchable at once."""
        report = IngestReport()
        records = ingest.path_records(paths, report, self.config.max_input_bytes)
        return await self._ingest(records, report, progress, rebuild)

    async def ingest_bytes(self, data: bytes, name: str, *, rebuild: bool = True) -> IngestReport:
        """Ingest one uploaded file held in memory; `name` tells its format."""
        # The sender chose the name: stored as its last component only, like the reader uses it.
        origin = upload_name(name)
        records = ((r, origin) for r in read_bytes(data, name, max_bytes=self.config.max_input_bytes))
        return await self._ingest(records, IngestReport(files=1), None, rebuild)

    async def ingest_articles(self, articles: Iterable[Article], origin: str, *, rebuild: bool = True) -> IngestReport:
        """Ingest articles made in memory (the feed poller's), through the same path as files:
        same passages and analysis, whole batches per transaction, unchanged ones left alone."""
        return await self._ingest(((a, origin) for a in articles), IngestReport(), None, rebuild)

    async def _ingest(self, records: Iterator[tuple[Record, str]], report: IngestReport,
                      progress: ProgressCallback | None, refresh: bool) -> IngestReport:
        started = time.perf_counter()
        handoffs: list[ingest.Handoff] = []
        await ingest.write_records(self._target, records, report, progress, handoffs)
        report.seconds = time.perf_counter() - started
        if refresh and (report.added or report.updated):
            # Near-real-time: only what changed is indexed (a segment), before this returns; the
            # passages of one batch of new articles are handed over rather than read back.
            await self.refresh_index(handoff=handoffs[0] if len(handoffs) == 1 else None)
        if report.added or report.updated:
            self._checkpointer.kick()  # the last batch's pages, now that it is searchable
        return report

    async def settle(self) -> None:
        """Wait for what adds left to the background: the merge of small segments, the WAL checkpoint."""
        await super().settle()
        await self._checkpointer.settled()

    async def delete_article(self, article_id: str, *, rebuild: bool = True) -> bool:
        async with self._write_lock:
            deleted = await store.delete_article(self._writer, article_id)
            self._stories.forget(article_id)  # its stories row went with it (ON DELETE CASCADE)
        if deleted and rebuild:
            await self.refresh_index()
        if deleted:
            self._checkpointer.wrote(1)
            self._checkpointer.kick()
        return deleted

    # --- search (retrieval/query.py) ---------------------------------------------------

    def expand(self, index: _query.Index, terms: list[str]) -> dict[str, float]:
        return _query.expand(index, terms, self.config)

    def rank(self, query: str, k: int, offset: int = 0, *, mask: np.ndarray | None = None,
             published: np.ndarray | None = None) -> Ranking:
        """The CPU part of a search: analysis, scoring, one passage per article, re-ranking, no-answer check.

        `mask` (per global passage number) restricts the ranking to the passages it marks (date and
        outlet filters); with `published` the confident matches are ordered newest first.
        """
        return _query.rank(self._index, query, k, offset, self.config, mask=mask, published=published)

    def leading_evidence(self, index: _query.Index, terms: list[str], expanded: dict[str, float], depth: int,
                         *, mask: np.ndarray | None = None,
                         ) -> tuple[list[rerank.QueryTerm], dict[int, float], list[rerank.Evidence]]:
        return _query.leading_evidence(index, terms, expanded, depth, self.config, mask=mask)

    async def search(self, query: str, k: int = 3, offset: int = 0, *, filters: Filters | None = None,
                     _caught_up: bool = False) -> SearchResult:
        """Best passage of each of the top k articles (after `offset`) for a question.

        With `filters` (retrieval/newsquery.py) only articles inside their window and outlets
        are ranked; when none of those answers, the best matches outside them are returned,
        marked `outside_filters`.
        """
        started = time.perf_counter()
        self._maybe_poll()
        index = self._index
        # --- news filters (retrieval/newsrank.py) ---
        mask = published = None
        if filters is not None and index is not None and (filters.active or filters.newest_first):
            meta = await self._article_meta(index)
            mask = newsrank.mask_of(meta, filters)
            published = meta.published if filters.newest_first else None
        # One result per story: rank more articles than shown, from the first, and drop the copies.
        fetch_k, fetch_offset = (2 * (offset + k) + 1, 0) if self.config.one_per_story else (k, offset)
        ranking = _query.rank(index, query, fetch_k, fetch_offset, self.config, mask=mask, published=published)
        outside = False
        if mask is not None and not ranking.picked and ranking.no_answer not in ("no_terms", "unknown_terms"):
            outside_ranking = _query.rank(index, query, fetch_k, fetch_offset, self.config, published=published)
            if outside_ranking.picked:
                ranking, outside = outside_ranking, True
        picked, has_more, also = ranking.picked, ranking.has_more, {}
        copied: list[shown.Copied] = []  # shown stories whose copies are read with the shown passages
        if self.config.one_per_story and picked and index is not None:
            collapsed = (self._story_map.collapse(_query.live(index), picked, offset, k)
                         if self._story_map is not None and self._rows is not None else None)
            if collapsed is not None:
                picked, has_more, copied = collapsed
            else:
                picked, has_more, also = await self._one_per_story(_query.live(index), picked, offset, k)
        # --- end of news filters ---
        hits: list[Hit] = []
        if picked and index is not None:
            keys = shown.shown_keys(_query.live(index), [p for p, _ in picked])
            got = self._rows.shown_passages(keys, copied) if self._rows is not None else None
            if got is None:  # no synchronous reader, or the file is busy: aiosqlite's reader waits
                got = await shown.shown_passages(self._reader, keys, copied)
            rows, copies = got
            if copied:
                also = copies
            if len(rows) < len(keys) and not _caught_up and await self._catch_up(index):
                # Passages gone since the index was refreshed (an article updated or deleted by another
                # process, not applied yet): answer wholly from the fresh index instead of half an
                # answer from the stale one.
                return await self.search(query, k, offset, filters=filters, _caught_up=True)
            terms = ranking.expanded.keys()
            for (_, score), (pid, _) in zip(picked, keys, strict=True):
                row = rows.get(pid)
                if row is None:  # deleted since the index was built
                    continue
                text, highlights = excerpt_parts(row.text, terms, self.config.excerpt_chars)
                # Every field's value in order, its slots set in one C call (retrieval/slotfill.py).
                hits.append(_make_hit((row.article_id, pid, round(score, 4), row.title, row.source, row.section,
                                       row.published, row.url, text, highlights, row.ord, outside,
                                       also.get(pid, ()))))
        return _make_result((query, tuple(ranking.terms), tuple(hits), offset, has_more,
                             ranking.no_answer if not hits else None, time.perf_counter() - started,
                             ranking.confidence, filters, outside))

    async def _one_per_story(self, index: segments.LiveIndex, picked: list[tuple[int, float]], offset: int, k: int,
                             ) -> tuple[list[tuple[int, float]], bool, dict[int, tuple[storygroups.StoryCopy, ...]]]:
        """The page [offset, offset + k) of `picked` with each story's first article only, the stories
        asked of SQLite (while the story map is read, or without it: `StoryMap.collapse` otherwise).

        Returns it, whether more follow, and per shown passage id the story's other articles.
        """
        rowids = [index.article_id(p) for p, _ in picked]
        found = self._rows.story_members(rowids) if self._rows is not None else None
        story_of, members = found if found is not None else await storygroups.story_members(self._reader, rowids)
        kept, seen = [], set()
        for (p, score), rowid in zip(picked, rowids, strict=True):
            story = story_of.get(rowid, f"#{rowid}")
            if story not in seen:
                seen.add(story)
                kept.append((p, score, rowid, story))
        page = kept[offset:offset + k]
        also = {index.passage_id(p): tuple(c for r, c in members.get(story, ()) if r != rowid)[
            :storygroups.MAX_ALSO] for p, _, rowid, story in page}
        return [(p, s) for p, s, _, _ in page], len(kept) > offset + k, also

    async def _article_meta(self, index: _query.Index) -> newsrank.ArticleMeta:
        """Publication time and source per global passage number of `index`: read once per segment
        (a refresh reads only the new segment's articles), put together once per snapshot."""
        return await newsrank.live_meta(self._reader, _query.live(index), ZoneInfo(self.config.timezone),
                                        self._news_sources)

    # --- browsing ---------------------------------------------------------------------

    async def article(self, article_id: str) -> Article | None:
        return await store.get_article(self._reader, article_id)

    async def latest(self, limit: int = 5, offset: int = 0) -> list[Article]:
        return await store.latest_articles(self._reader, limit, offset)

    async def sources(self) -> list[tuple[str, int]]:
        return await store.source_counts(self._reader)

    async def stats(self) -> Stats:
        c = await store.counts(self._reader)
        info = self._index_info
        return Stats(articles=c["articles"], passages=c["passages"], sources=c["sources"], index=info,
                     segments=self.segment_info())
