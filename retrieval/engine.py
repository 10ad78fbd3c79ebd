"""`SearchEngine`: the one interface front ends use.

It owns two SQLite connections (a writer, and a reader that never sees a
half-written batch thanks to WAL) and the current index. Searching reads
`self._index` once, so a refreshed or rebuilt index swaps in atomically by
plain assignment while questions keep being answered from the old one.

The parts behind it: `config` (RetrievalConfig), `query` (expansion, ranking
over segments, re-ranking, the no-answer rule), `indexing` and `segments`
(the near-real-time index: base file, passage log, segments, merges).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import aiosqlite
import numpy as np

from . import bm25, indexer, indexing, ingest, newsrank, rerank, segments, store, storygroups
from . import query as _query
from .articles import Article

# Re-exported: benchmarks and front ends import them from here.
from .config import FULL_COVERAGE, PIPELINE_VERSION, RetrievalConfig  # noqa: F401
from .excerpts import make_excerpt

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

log = logging.getLogger(__name__)

# Databases with fewer passages are indexed in a thread (tens of
# milliseconds); larger ones in a separate process, so serving never stalls:
# a build in a thread competes with the event loop for the GIL, and on a
# loaded machine a 6,000-passage build in a thread held questions for
# seconds.
BUILD_IN_PROCESS_MIN_PASSAGES = 2_000
# A process that answers questions looks for another process's writes at most this often.
PICKUP_SECONDS = 1.0
# The index-building child imports this package from where we found it.
_PACKAGE_ROOT = str(Path(__file__).resolve().parent.parent)


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


@dataclass(frozen=True, slots=True)
class IndexInfo:
    passages: int
    terms: int
    generation: int
    built_at: str
    build_seconds: float
    size_bytes: int


@dataclass(frozen=True, slots=True)
class SegmentInfo:
    """The near-real-time index behind the base: segments added since it was built, and deletions."""

    count: int  # segments behind the base
    passages: int  # live passages in them
    deleted_share: float  # deleted passages still held (base and segments) over all held
    last_merge: str | None  # when segments were last merged (or the base rebuilt), ISO 8601 UTC


@dataclass(frozen=True, slots=True)
class Stats:
    articles: int
    passages: int
    sources: int
    index: IndexInfo | None
    segments: SegmentInfo | None = None


class SearchEngine:
    def __init__(self, db_path: str | Path, config: RetrievalConfig, writer: aiosqlite.Connection,
                 reader: aiosqlite.Connection) -> None:
        self.db_path = Path(db_path)
        self.config = config
        self._writer = writer
        self._reader = reader
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
        # Outlet codes of the news metadata (newsrank.live_meta): grows as outlets appear, so the
        # codes of every segment's part read before stay valid.
        self._news_sources: dict[str, int] = {}
        self._stories = storygroups.StoryKeeper(ZoneInfo(config.timezone))
        self._target = ingest.Target(config, writer, self._write_lock, self._stories)
        # Called (no arguments) after an ingest that added or changed articles: followed-topic alerts.
        self.ingest_listeners = self._target.listeners

    # --- lifecycle ------------------------------------------------------------------

    @classmethod
    async def open(cls, db_path: str | Path, config: RetrievalConfig | None = None,
                   *, load_index: bool = True) -> SearchEngine:
        """Open the database, migrating it, and load (or build) the index."""
        config = config or RetrievalConfig()
        writer = await store.connect(db_path)
        try:
            reader = await store.connect(db_path)
        except BaseException:
            await writer.close()
            raise
        engine = cls(db_path, config, writer, reader)
        try:
            await ingest.refresh_pipeline(engine._target)
            await engine._stories.catch_up(engine._writer)  # articles stored before stories were kept
            if load_index:
                await engine.ensure_index()
        except BaseException:
            await engine.close()
            raise
        return engine

    async def close(self) -> None:
        for task in (self._watcher, self._poller, self._merger):
            if task is not None and not task.done():
                task.cancel()
                await asyncio.wait([task])
        await self.save_segments()
        await self._reader.close()
        await self._writer.close()

    async def __aenter__(self) -> SearchEngine:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def index_path(self) -> Path:
        return self.db_path.with_name(self.db_path.name + ".index.npz")

    # --- ingest -----------------------------------------------------------------------

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
        await ingest.write_records(self._target, records, report, progress)
        report.seconds = time.perf_counter() - started
        if refresh and (report.added or report.updated):
            # Near-real-time: only what changed is indexed (a segment), before this returns.
            await self.refresh_index()
        return report

    async def delete_article(self, article_id: str, *, rebuild: bool = True) -> bool:
        async with self._write_lock:
            deleted = await store.delete_article(self._writer, article_id)
            self._stories.forget(article_id)  # its stories row went with it (ON DELETE CASCADE)
        if deleted and rebuild:
            await self.refresh_index()
        return deleted

    # --- index ------------------------------------------------------------------------

    async def ensure_index(self, *, serve: bool = True) -> None:
        """Load the base index and apply what the database logged since, else rebuild.

        With `serve=False` (a command that only writes, such as `newsbot ingest`) nothing is
        loaded: the base file's header is checked, and the index rebuilt only if it is missing,
        from another database state the log cannot bridge, or the log since it is long.
        """
        if str(self.db_path) == ":memory:":
            if self._index is None:
                await self.rebuild_index()
            return
        if not serve:
            if await asyncio.to_thread(self._base_usable):
                return
        else:
            async with self._refresh_lock:
                try:
                    state = await asyncio.to_thread(indexing.load_state_with_tail, self.index_path,
                                                    self.config.bm25)
                except FileNotFoundError:
                    state = None
                except (OSError, ValueError) as exc:
                    log.warning("index file %s unusable (%s); rebuilding", self.index_path, exc)
                    state = None
                if state is not None and await self._apply_log(state, merge=False):
                    self._index_info = await self._stored_index_info()
                    return
        await self.rebuild_index()

    def _base_usable(self) -> bool:
        header = segments.read_header(self.index_path)
        if header is None:
            return False
        con = indexing.connect(self.db_path)
        try:
            con.execute("BEGIN")
            try:
                last, trimmed, _ = indexing._log_position(con)
                passages = con.execute("SELECT COUNT(*) FROM passages").fetchone()[0]
            finally:
                con.execute("COMMIT")
        finally:
            con.close()
        log_seq = header[1]
        covered = segments.tail_seq(indexing.tail_path(self.index_path), log_seq) or log_seq
        return trimmed <= log_seq <= covered <= last and last - covered <= indexing.tail_limit(passages)

    async def _apply_log(self, state: segments.SegmentedIndex, *, merge: bool = True) -> bool:
        """Apply what the passage log holds beyond `state` and swap it in; False if a rebuild is needed.

        With `merge`, a full merge is started in the background when the policy asks for one (not
        when merely opening: a command that asks one question and exits should not start one).
        """
        def work() -> tuple[str, segments.LiveIndex | None]:
            # A connection of its own: a thread left running by a cancelled refresh never shares one.
            con = indexing.connect(self.db_path)
            try:
                changes = indexing.read_changes(con, state.log_seq, indexing.tail_limit(state.n_live))
            finally:
                con.close()
            if changes.gap or changes.too_long:
                return ("gap" if changes.gap else "long"), None
            merged = state.last_merge
            if not indexing.apply_changes(state, changes):
                return "inconsistent", None
            state.generation = changes.generation
            if state.last_merge != merged and not self.rebuilding:
                # Merged segments are worth keeping: a restart loads them instead of re-indexing.
                segments.save_tail(state, indexing.tail_path(self.index_path))
            return "ok", state.snapshot()

        outcome, snapshot = await asyncio.to_thread(work)
        if snapshot is None:
            log.info("index refresh needs a rebuild (%s)", outcome)
            return False
        self._nrt, self._index = state, snapshot
        if merge and indexing.needs_full_merge(state) and not self.rebuilding:
            self._start_merge()
        return True

    async def save_segments(self) -> None:
        """Write the segments to the tail file for the next start (done on close; they are only an
        optimisation: the passage log rebuilds them)."""
        state = self._nrt
        if state is None or state.log_seq == state.saved_seq or str(self.db_path) == ":memory:":
            return
        try:
            async with self._refresh_lock:
                if self._nrt is state:
                    await asyncio.to_thread(segments.save_tail, state, indexing.tail_path(self.index_path))
        except OSError as exc:
            log.warning("could not save the index tail (%s); the next start re-indexes it", exc)

    async def refresh_index(self) -> None:
        """Make what was written to the database since the last refresh searchable (near-real-time).

        Only the new passages are indexed (a segment) and the deleted ones marked; a long
        tail (a bulk ingest) or a log the index cannot follow rebuilds everything instead.
        """
        if str(self.db_path) == ":memory:" or self._nrt is None:
            if str(self.db_path) == ":memory:":
                await self.rebuild_index()
            else:
                await self.ensure_index()
            return
        async with self._refresh_lock:
            state = self._nrt
            if state is not None and await self._apply_log(state):
                return
            self._nrt = None  # half-applied: not to be refreshed again
        await self.rebuild_index()

    async def poll_changes(self) -> bool:
        """Refresh if another process changed the database (its content generation moved); True if it did."""
        if self._nrt is None or str(self.db_path) == ":memory:":
            return False
        if await store.content_generation(self._reader) == self._nrt.generation:
            return False
        await self.refresh_index()
        return True

    def _maybe_poll(self) -> None:
        """At most once a `PICKUP_SECONDS`, look for changes in the background (questions never wait for it)."""
        now = time.monotonic()
        if now - self._polled_at < PICKUP_SECONDS or (self._poller is not None and not self._poller.done()):
            return
        self._polled_at = now
        self._poller = asyncio.ensure_future(self._poll_quietly())

    def start_watching(self, interval: float = PICKUP_SECONDS) -> None:
        """Look for other processes' writes every `interval` seconds until closed (a serving process
        calls this, so a new article is searchable within ~`interval` even before anyone asks)."""
        async def watch() -> None:
            while True:
                await asyncio.sleep(interval)
                self._polled_at = time.monotonic()
                await self._poll_quietly()

        if self._watcher is None or self._watcher.done():
            self._watcher = asyncio.ensure_future(watch())

    async def _poll_quietly(self) -> None:
        try:
            await self.poll_changes()
        except Exception:  # a failed refresh leaves the current index serving; the next poll retries
            log.exception("index refresh failed")

    def _start_merge(self) -> None:
        if self._merger is None or self._merger.done():
            self._merger = asyncio.ensure_future(self._merge_quietly())

    async def _merge_quietly(self) -> None:
        try:
            await self.rebuild_index()
        except Exception:
            log.exception("background merge failed; segments keep serving")

    async def rebuild_index(self) -> IndexInfo:
        """Build a fresh index from the database and swap it in atomically.

        Questions keep being answered from the old index meanwhile: a large
        database is indexed in a separate process (the build is GIL-bound
        Python and would stall the event loop from a thread), a small one in
        a thread, each reading the database through its own connection.
        What was written while it ran is applied on top before the swap.
        """
        async with self._build_lock:
            started = time.perf_counter()
            size = 0
            if str(self.db_path) == ":memory:":
                index, generation = await self._build_from_reader()
                snapshot: segments.LiveIndex | None = segments.LiveIndex.of_index(index)
                passages, terms = index.n_passages, len(index.vocabulary)
            else:
                if await self._passage_id_bound() < BUILD_IN_PROCESS_MIN_PASSAGES:
                    built = indexer.BuiltIndex(*await asyncio.to_thread(
                        indexing.build_base_file, self.db_path, self.index_path, self.config.bm25))
                else:
                    built = await self._build_in_process()
                generation, passages, terms = built.generation, built.passages, built.terms
                async with self._refresh_lock:
                    # The tail file extended the old base: the log since the new one replaces it.
                    indexing.tail_path(self.index_path).unlink(missing_ok=True)
                    state = await asyncio.to_thread(indexing.load_state, self.index_path, self.config.bm25)
                    if not await self._apply_log(state):
                        raise RuntimeError("the index just built does not follow the database's passage log")
                    snapshot = None
                    await asyncio.to_thread(self._trim_log, built.log_seq)
                state.last_merge = time.time()
                size = self.index_path.stat().st_size
            info = IndexInfo(passages=passages, terms=terms, generation=generation,
                             built_at=store.now_iso(), build_seconds=round(time.perf_counter() - started, 3),
                             size_bytes=size)
            if snapshot is not None:  # an in-memory database (a file's index is in since _apply_log)
                self._index = snapshot
            self._index_info = info
            async with self._write_lock:
                await store.set_meta(self._writer, "index", json.dumps(asdict(info)))
            log.info("index built: %d passages, %d terms in %.2f s", info.passages, info.terms, info.build_seconds)
            return info

    def _trim_log(self, upto: int) -> None:
        con = indexing.connect(self.db_path)
        try:
            indexing.trim_log(con, upto)
        finally:
            con.close()

    async def _catch_up(self, stale: segments.LiveIndex | None) -> bool:
        """Bring in what the database holds beyond `stale`; True once a fresher index is in."""
        async with self._build_lock:  # a rebuild under way finishes first
            pass
        if self._index is not stale:
            return True
        await self.refresh_index()
        return self._index is not stale

    async def _build_from_reader(self) -> tuple[bm25.BM25Index, int]:
        # An in-memory database is only visible through our own connections.
        generation = await store.content_generation(self._reader)
        ids, articles, docs = [], [], []
        async for pid, arowid, terms in store.iter_index_inputs(self._reader):
            ids.append(pid)
            articles.append(arowid)
            docs.append(terms)
        index = await asyncio.to_thread(
            lambda: bm25.build_index((d.split() for d in docs), ids, articles, self.config.bm25))
        return index, generation

    async def _build_in_process(self) -> indexer.BuiltIndex:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (_PACKAGE_ROOT, env.get("PYTHONPATH", "")) if p)
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "retrieval.indexer", str(self.db_path), str(self.index_path),
            json.dumps(asdict(self.config.bm25)), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            env=env)
        try:
            out, err = await proc.communicate()
        except BaseException:
            # Cancelled (shutdown, Ctrl-C): the index file is only ever
            # replaced whole, so stopping the build mid-way is safe.
            if proc.returncode is None:
                proc.kill()
            raise
        if proc.returncode != 0:
            raise RuntimeError(f"index build failed (exit {proc.returncode}): {err.decode(errors='replace')[-2000:]}")
        return indexer.BuiltIndex(**json.loads(out.decode().strip().splitlines()[-1]))

    async def _passage_id_bound(self) -> int:
        """An upper bound of the passage count that costs one index lookup (not a COUNT scan)."""
        row = await (await self._reader.execute("SELECT COALESCE(MAX(id), 0) FROM passages")).fetchone()
        return int(row[0])

    async def _stored_index_info(self) -> IndexInfo | None:
        raw = await store.get_meta(self._reader, "index")
        try:
            return IndexInfo(**json.loads(raw)) if raw else None
        except (ValueError, TypeError):
            return None

    @property
    def index(self) -> segments.LiveIndex | None:
        """The index questions read now: every segment with the index-wide statistics."""
        return self._index

    @property
    def rebuilding(self) -> bool:
        return self._build_lock.locked()

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

    @staticmethod
    def _leading_passages(index: bm25.BM25Index, weights: dict[int, float], wanted: int) -> list[int]:
        """The best passage of each of the top `wanted` articles of one plain index (for tools and tests)."""
        return bm25.top_articles(index, weights, wanted)[0].tolist()

    def _query_terms(self, index: _query.Index, terms: list[str],
                     expanded: dict[str, float]) -> list[rerank.QueryTerm]:
        return _query.query_terms(index, terms, expanded, self.config)

    def _fuzzy_eligible(self, index: _query.Index, term: str) -> bool:
        return _query.fuzzy_eligible(index, term, self.config)

    def _judge(self, index: _query.Index, terms: list[str], query_terms: list[rerank.QueryTerm],
               weights: dict[int, float], evidence: list[rerank.Evidence]) -> str:
        return _query.judge(index, terms, query_terms, weights, evidence, self.config)

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
        if self.config.one_per_story and picked and index is not None:
            picked, has_more, also = await self._one_per_story(_query.live(index), picked, offset, k)
        # --- end of news filters ---
        hits: list[Hit] = []
        if picked and index is not None:
            live = _query.live(index)
            ids = [live.passage_id(p) for p, _ in picked]
            rows = await store.passages_by_id(self._reader, ids)
            if len(rows) < len(ids) and not _caught_up and await self._catch_up(index):
                # Passages gone since the index was refreshed (an article updated or deleted by another
                # process, not applied yet): answer wholly from the fresh index instead of half an
                # answer from the stale one.
                return await self.search(query, k, offset, filters=filters, _caught_up=True)
            for (_, score), pid in zip(picked, ids, strict=True):
                row = rows.get(pid)
                if row is None:  # deleted since the index was built
                    continue
                excerpt = make_excerpt(row.text, ranking.expanded.keys(), self.config.excerpt_chars)
                a = row.article
                hits.append(Hit(article_id=a.id, passage_id=pid, score=round(score, 4), title=a.title,
                                source=a.source, section=a.section, published=a.published, url=a.url,
                                excerpt=excerpt.text, highlights=excerpt.highlights, passage_ord=row.ord,
                                outside_filters=outside))
        if also:
            hits = [replace(h, also=also.get(h.passage_id, ())) for h in hits]
        return SearchResult(query=query, terms=tuple(ranking.terms), hits=tuple(hits), offset=offset,
                            has_more=has_more, no_answer=ranking.no_answer if not hits else None,
                            seconds=time.perf_counter() - started, filters=filters, outside_filters=outside,
                            confidence=ranking.confidence)

    async def _one_per_story(self, index: segments.LiveIndex, picked: list[tuple[int, float]], offset: int, k: int,
                             ) -> tuple[list[tuple[int, float]], bool, dict[int, tuple[storygroups.StoryCopy, ...]]]:
        """The page [offset, offset + k) of `picked` with each story's first article only.

        Returns it, whether more follow, and per shown passage id the story's other articles.
        """
        rowids = [index.article_id(p) for p, _ in picked]
        story_of, members = await storygroups.story_members(self._reader, rowids)
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

    def segment_info(self) -> SegmentInfo | None:
        state = self._nrt
        if state is None:
            return None
        held = sum(seg.size for seg in state.segments)
        merged = (datetime.fromtimestamp(state.last_merge, UTC).isoformat(timespec="seconds")
                  if state.last_merge else None)
        return SegmentInfo(count=len(state.segments) - 1, passages=state.segment_passages,
                           deleted_share=state.deleted / held if held else 0.0, last_merge=merged)

