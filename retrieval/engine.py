"""`SearchEngine`: the one interface front ends use.

It owns two SQLite connections (a writer, and a reader that never sees a
half-written batch thanks to WAL) and the current BM25 index. Searching reads
`self._index` once, so a rebuilt index swaps in atomically by plain
assignment while questions keep being answered from the old one.
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field, replace
from itertools import islice
from pathlib import Path
from zoneinfo import ZoneInfo

import aiosqlite
import numpy as np

from . import bm25, confidence, indexer, newsrank, rerank, store, storygroups
from .analysis import analyze, analyze_query, passage_terms_utf8, release_index_caches
from .articles import Article
from .excerpts import DEFAULT_EXCERPT_CHARS, make_excerpt
from .newsquery import Filters
from .passages import DEFAULT_MAX_CHARS, DEFAULT_TARGET_CHARS, passage_spans
from .readers import DEFAULT_MAX_DECOMPRESSED, Record, Skipped, iter_input_files, read_bytes, read_path, upload_name
from .variants import known_variants

log = logging.getLogger(__name__)

# Bump when the analysis chain or passage splitting changes meaning: stored
# terms are then re-derived from the article bodies on the next open.
PIPELINE_VERSION = "7"
INGEST_BATCH = 500
# Title terms repeated into every passage are capped: a hostile 1 MB title must
# not be copied into each passage of its article.
TITLE_CHARS, TITLE_TERMS = 1000, 64
# Databases with fewer passages are indexed in a thread (tens of
# milliseconds); larger ones in a separate process, so serving never stalls:
# a build in a thread competes with the event loop for the GIL, and on a
# loaded machine a 6,000-passage build in a thread held questions for
# seconds.
BUILD_IN_PROCESS_MIN_PASSAGES = 2_000
# Coverage at which every question word is in the passage (float sums of idf shares).
FULL_COVERAGE = 1 - 1e-9
# The index-building child imports this package from where we found it.
_PACKAGE_ROOT = str(Path(__file__).resolve().parent.parent)


@dataclass(frozen=True)
class RetrievalConfig:
    # k1 0.9 / b 0.5 rather than rank-bm25's 1.5 / 0.75: passages are short
    # and of even length (little to normalise), and stemming already folds
    # repeated word forms, so term frequency should saturate sooner.
    bm25: bm25.BM25Params = field(default_factory=lambda: bm25.BM25Params(k1=0.9, b=0.5))
    passage_target_chars: int = DEFAULT_TARGET_CHARS
    passage_max_chars: int = DEFAULT_MAX_CHARS
    excerpt_chars: int = DEFAULT_EXCERPT_CHARS
    # Titles as a field: the title's terms are added this many times to every
    # passage of the article. A passage often names its subject only by a
    # pronoun ("he was born in ..."); the title says who or what it is about.
    title_weight: int = 2
    # No-answer rule: the leading article must hold at least this share of
    # the question's idf mass (a question whose rare words are all missing is
    # not answered by an article matching only its common words). The
    # article, not only its best passage: a headline's words are spread over
    # the story it heads, and judged on one passage 2-3% of real headlines
    # were refused on a corpus of 5,000 articles (fewer on a larger one, where
    # a near-duplicate story happens to lead); docs/retrieval-quality.md, row 38.
    min_coverage: float = 0.3
    # The no-answer model (retrieval/confidence.py): refuse when the
    # estimated probability that the leading article answers is below this;
    # 0 turns the model off and leaves only `min_coverage`. 0.17 is the cut
    # that answers 96% of the ARCD train split's answerable questions
    # (benchmarks/noanswer_fit.py; test split: 95.7% of answerable questions
    # answered, 17% of unanswerable ones refused; 98.7% of headlines answered).
    min_confidence: float = 0.17
    # Between min_confidence and this, the results are shown as "closest matches, which may not
    # answer your question" (SearchResult.confidence "low") instead of being refused or shown as
    # an answer; a question naming a year the archive never mentions (an event after its last
    # article) is shown so too. Chosen by benchmarks/outcomes.py (docs/retrieval-quality.md).
    low_confidence: float = 0.56
    # Re-ranking of the leading articles (retrieval/rerank.py): how many are
    # re-ordered; the lead passage's score × (1 + lead_boost), since news
    # puts the story's gist first; and the share of a question word's
    # one-occurrence score credited when the article has it outside the
    # best passage. 0.3 / 0.2 chosen on a separate sample of titles
    # (docs/retrieval-quality.md, rows 20-22).
    rerank_depth: int = 30
    lead_boost: float = 0.3
    spread_weight: float = 0.2
    # Spelling variants: query words of at least `fuzzy_min_chars` letters
    # also match index terms one edit away, at `fuzzy_weight`.
    fuzzy: bool = True
    fuzzy_min_chars: int = 5
    fuzzy_weight: float = 0.6
    # A word the index has never seen is looked up from this length (ترمب for ترامب), and a
    # spelling variant standing for it counts as the word itself for the no-answer check: a name
    # spelled one letter off is still the name (tests/test_name_variants.py).
    fuzzy_unknown_min_chars: int = 4
    max_input_bytes: int = DEFAULT_MAX_DECOMPRESSED
    # The zone of stored publication times that carry no offset, and of date filters (newsrank).
    timezone: str = "Asia/Riyadh"
    # One result per story: copies of a story (retrieval/storygroups.py) after its best version are
    # dropped from answers and listed under it (`Hit.also`).
    one_per_story: bool = True

    @property
    def pipeline_signature(self) -> str:
        return f"{PIPELINE_VERSION}:{self.passage_target_chars}:{self.passage_max_chars}:{self.title_weight}"


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
class Ranking:
    terms: list[str]  # the analysed question
    expanded: dict[str, float]  # index terms searched, with weights (variants included)
    picked: list[tuple[int, float]]  # (passage number, score), one per article
    has_more: bool
    no_answer: str | None
    confidence: str = "high"  # "high" or "low" (closest matches): see RetrievalConfig.low_confidence


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


@dataclass
class IngestReport:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: list[Skipped] = field(default_factory=list)
    files: int = 0
    passages: int = 0
    seconds: float = 0.0

    @property
    def ingested(self) -> int:
        return self.added + self.updated + self.unchanged

    def summary(self) -> str:
        return (f"{self.added} added, {self.updated} updated, {self.unchanged} unchanged, "
                f"{len(self.skipped)} skipped ({self.files} files, {self.passages} passages written, "
                f"{self.seconds:.1f} s)")


@dataclass(frozen=True, slots=True)
class IndexInfo:
    passages: int
    terms: int
    generation: int
    built_at: str
    build_seconds: float
    size_bytes: int


@dataclass(frozen=True, slots=True)
class Stats:
    articles: int
    passages: int
    sources: int
    index: IndexInfo | None


ProgressCallback = Callable[[int, int], None]  # (files done, records done)


def prepare(article: Article, origin: str, config: RetrievalConfig) -> store.PreparedArticle:
    """Split and analyse an article: all the CPU work of ingesting it."""
    body = article.body
    spans = passage_spans(body, target_chars=config.passage_target_chars, max_chars=config.passage_max_chars)
    # Capped: a real headline is a few dozen words; a hostile megabyte title
    # must not be copied into every passage.
    title_terms = " ".join(analyze(article.title[:TITLE_CHARS])[:TITLE_TERMS] * config.title_weight).encode()
    # A passage's terms go to SQLite as the UTF-8 the C chain writes (`store.write_articles` binds
    # them as text) instead of one more str object SQLite would encode.
    rows = [(ord_, start, end, passage_terms_utf8(body, start, end, title_terms))
            for ord_, (start, end) in enumerate(spans)]
    return store.PreparedArticle(article, article.fingerprint(), origin, rows)


class _CollectorPause:
    """The cyclic garbage collector off while any ingest runs, and back as it was when the last ends.

    An ingest allocates millions of short-lived container objects (records, rows, batches) that
    form no cycles; every 700 of them set off a young collection, and the survivors handed from
    thread to thread pile into the older generations, whose collections walk the whole heap:
    measured 5-8% of a bulk ingest's CPU. The collector is process-wide, so the pause is counted:
    overlapping ingests restore it once, when the last one ends (on every exit path: error,
    cancellation), and only if it was on before the first began. Meanwhile the rest of the
    process (the bot answering during an upload) keeps any cyclic garbage it makes until then:
    reference counting still frees everything else at once.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._depth = 0
        self._was_enabled = False

    def __enter__(self) -> None:
        with self._lock:
            if self._depth == 0:
                self._was_enabled = gc.isenabled()
                gc.disable()
            self._depth += 1

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            self._depth -= 1
            if self._depth == 0 and self._was_enabled:
                gc.enable()


_COLLECTOR_PAUSE = _CollectorPause()


def _usable_cores() -> int:
    """The cores this process may run on (its affinity where the OS tells it, else all of them)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


class SearchEngine:
    def __init__(self, db_path: str | Path, config: RetrievalConfig, writer: aiosqlite.Connection,
                 reader: aiosqlite.Connection) -> None:
        self.db_path = Path(db_path)
        self.config = config
        self._writer = writer
        self._reader = reader
        self._index: bm25.BM25Index | None = None
        self._index_info: IndexInfo | None = None
        self._write_lock = asyncio.Lock()
        self._build_lock = asyncio.Lock()
        self._news_meta: tuple[bm25.BM25Index, newsrank.ArticleMeta] | None = None
        self._stories = storygroups.StoryKeeper(ZoneInfo(config.timezone))
        # Called (no arguments) after an ingest that added or changed articles: followed-topic alerts.
        self.ingest_listeners: list[Callable[[], None]] = []

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
            await engine._refresh_pipeline()
            await engine._stories.catch_up(engine._writer)  # articles stored before stories were kept
            if load_index:
                await engine.ensure_index()
        except BaseException:
            await engine.close()
            raise
        return engine

    async def close(self) -> None:
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
        """Ingest files and folders; rebuilds the index if anything changed."""
        report = IngestReport()
        started = time.perf_counter()

        def records() -> Iterator[tuple[Record, str]]:
            for item in iter_input_files(paths):
                if isinstance(item, Skipped):
                    yield item, item.location
                    continue
                report.files += 1
                for record in read_path(item, max_bytes=self.config.max_input_bytes):
                    yield record, str(item)

        await self._ingest(records(), report, progress)
        report.seconds = time.perf_counter() - started
        if rebuild and (report.added or report.updated):
            await self.rebuild_index()
        return report

    async def ingest_bytes(self, data: bytes, name: str, *, rebuild: bool = True) -> IngestReport:
        """Ingest one uploaded file held in memory; `name` tells its format."""
        report = IngestReport(files=1)
        started = time.perf_counter()
        # The sender chose the name: stored as its last component only, like the reader uses it.
        origin = upload_name(name)
        records = ((r, origin) for r in read_bytes(data, name, max_bytes=self.config.max_input_bytes))
        await self._ingest(records, report, None)
        report.seconds = time.perf_counter() - started
        if rebuild and (report.added or report.updated):
            await self.rebuild_index()
        return report

    async def ingest_articles(self, articles: Iterable[Article], origin: str, *, rebuild: bool = True) -> IngestReport:
        """Ingest articles made in memory (the feed poller's), through the same path as files:
        same passages and analysis, whole batches per transaction, unchanged ones left alone."""
        report = IngestReport()
        started = time.perf_counter()
        await self._ingest(((a, origin) for a in articles), report, None)
        report.seconds = time.perf_counter() - started
        if rebuild and (report.added or report.updated):
            await self.rebuild_index()
        return report

    async def _ingest(self, records: Iterator[tuple[Record, str]], report: IngestReport,
                      progress: ProgressCallback | None) -> None:
        def next_batch() -> tuple[list[store.PreparedArticle], list[Skipped]]:
            batch, skipped = [], []
            for record, origin in islice(records, INGEST_BATCH):
                if isinstance(record, Skipped):
                    skipped.append(record)
                else:
                    batch.append(prepare(record, origin, self.config))
            return batch, skipped

        done = 0
        async with self._write_lock:
            with _COLLECTOR_PAUSE:  # see _CollectorPause
                # Parsing and analysis are CPU work, off the event loop. With more than one core
                # the next batch is prepared while SQLite writes this one (sqlite3 releases the
                # GIL while it works, so the two overlap); on one core they cannot, and taking
                # turns on it only cost time (the two threads evicting each other's caches
                # and trading the GIL): there each batch is prepared after the last is written.
                overlap = _usable_cores() > 1

                def prepare_next() -> asyncio.Future[tuple[list[store.PreparedArticle], list[Skipped]]]:
                    return asyncio.ensure_future(asyncio.to_thread(next_batch))

                upcoming = prepare_next()
                try:
                    while True:
                        batch, skipped = await upcoming
                        if not batch and not skipped:
                            break
                        if overlap:
                            upcoming = prepare_next()
                        for record in skipped:
                            log.warning("skipped %s", record)
                        report.skipped.extend(skipped)
                        if batch:
                            written: list[store.PreparedArticle] = []
                            counts = await store.write_articles(self._writer, batch, written=written)
                            await self._stories.update(self._writer, [
                                (p.article.id, p.article.title, p.article.body, p.article.published) for p in written])
                            report.added += counts["added"]
                            report.updated += counts["updated"]
                            report.unchanged += counts["unchanged"]
                            report.passages += sum(len(p.passages) for p in batch)
                        done += len(batch) + len(skipped)
                        if progress:
                            progress(report.files, done)
                        if not overlap:
                            upcoming = prepare_next()
                    if report.added or report.updated:
                        for listener in self.ingest_listeners:
                            listener()
                finally:
                    # On an error or cancellation the batch being prepared is never
                    # written; its thread cannot be stopped, so wait for it: the
                    # records iterator must not be in use after this returns.
                    await asyncio.wait([upcoming])
                    if not upcoming.cancelled():
                        upcoming.exception()  # mark retrieved: only the first error is reported
                    release_index_caches()

    async def delete_article(self, article_id: str, *, rebuild: bool = True) -> bool:
        async with self._write_lock:
            deleted = await store.delete_article(self._writer, article_id)
            self._stories.forget(article_id)  # its stories row went with it (ON DELETE CASCADE)
        if deleted and rebuild:
            await self.rebuild_index()
        return deleted

    async def _refresh_pipeline(self) -> None:
        """Re-derive passages and terms if the analysis pipeline changed."""
        signature = self.config.pipeline_signature
        if await store.get_meta(self._writer, "pipeline", signature) == signature:
            await store.set_meta(self._writer, "pipeline", signature)
            return
        log.info("analysis pipeline changed: re-analysing stored articles")
        async with self._write_lock:
            after = -1
            # A batch at a time, by rowid (which rewriting an article keeps): a million
            # passages' bodies held at once took gigabytes.
            while rows := await self._writer.execute_fetchall(
                    "SELECT rowid, id, body, title, source, section, published, url, author, origin"
                    " FROM articles WHERE rowid > ? ORDER BY rowid LIMIT ?", (after, INGEST_BATCH)):
                after = rows[-1][0]
                batch = await asyncio.to_thread(
                    lambda c=rows: [prepare(Article(*r[1:9]), r[9], self.config) for r in c])
                await store.write_articles(self._writer, batch, rewrite_unchanged=True)
            release_index_caches()
            await store.set_meta(self._writer, "pipeline", signature)

    # --- index ------------------------------------------------------------------------

    async def ensure_index(self) -> None:
        """Load the persisted index if it matches the database, else rebuild it."""
        generation = await store.content_generation(self._reader)
        info = await self._stored_index_info()
        if (info and info.generation == generation and self.index_path.exists()
                and await asyncio.to_thread(bm25.stored_generation, self.index_path) == generation):
            try:
                index = await asyncio.to_thread(bm25.load_index, self.index_path)
                if index.params == self.config.bm25 and index.n_passages == info.passages:
                    self._index, self._index_info = index, info
                    return
            except (OSError, ValueError, KeyError) as exc:
                log.warning("index file %s unreadable (%s); rebuilding", self.index_path, exc)
        await self.rebuild_index()

    async def rebuild_index(self) -> IndexInfo:
        """Build a fresh index from the database and swap it in atomically.

        Questions keep being answered from the old index meanwhile: a large
        database is indexed in a separate process (the build is GIL-bound
        Python and would stall the event loop from a thread), a small one in
        a thread, each reading the database through its own connection.
        """
        async with self._build_lock:
            started = time.perf_counter()
            size = 0
            if str(self.db_path) == ":memory:":
                index, generation = await self._build_from_reader()
            elif await self._passage_id_bound() < BUILD_IN_PROCESS_MIN_PASSAGES:
                index, generation = await asyncio.to_thread(indexer.build_index_from_db, self.db_path,
                                                            self.config.bm25)
                await asyncio.to_thread(bm25.save_index, index, self.index_path, generation)
            else:
                generation = (await self._build_in_process()).generation
                index = await asyncio.to_thread(bm25.load_index, self.index_path)
            if str(self.db_path) != ":memory:":
                size = self.index_path.stat().st_size
            info = IndexInfo(passages=index.n_passages, terms=len(index.vocabulary), generation=generation,
                             built_at=store.now_iso(), build_seconds=round(time.perf_counter() - started, 3),
                             size_bytes=size)
            async with self._write_lock:
                await store.set_meta(self._writer, "index", json.dumps(asdict(info)))
            self._index, self._index_info = index, info
            log.info("index built: %d passages, %d terms in %.2f s", info.passages, info.terms, info.build_seconds)
            return info

    async def _catch_up(self, stale: bm25.BM25Index) -> bool:
        """Wait for (or start) the rebuild that replaces `stale`; True once a fresher index is in."""
        async with self._build_lock:  # a rebuild under way finishes first
            pass
        if self._index is not stale:
            return True
        built_from = self._index_info.generation if self._index_info else None
        if await store.content_generation(self._reader) == built_from:
            return False  # nothing newer to build from
        await self.rebuild_index()
        return True

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
    def index(self) -> bm25.BM25Index | None:
        return self._index

    @property
    def rebuilding(self) -> bool:
        return self._build_lock.locked()

    # --- search -----------------------------------------------------------------------

    def expand(self, index: bm25.BM25Index, terms: list[str]) -> dict[str, float]:
        """Query term → weight, with spelling variants of rare or unknown words added.

        A transliterated name is spelled several ways (لافرينتييف / لافرنتييف);
        a word that is rare or absent in the index also matches index terms
        one edit away, at a lower weight. Common words are left alone: their
        one-edit neighbours are usually different words.
        """
        weights: dict[str, float] = {}
        for term in terms:
            if term in index.vocabulary:
                weights[term] = weights.get(term, 0.0) + 1.0
        if not self.config.fuzzy:
            return weights
        rare = max(3, index.n_passages // 500)
        for term in dict.fromkeys(terms):
            if not self._fuzzy_eligible(index, term) or not term.isalpha() or term.isascii():
                continue
            tid = index.vocabulary.get(term)
            if tid is not None and index.df(tid) > rare:
                continue
            variants = [(df, v) for df, v in known_variants(index, term) if v not in weights]
            if tid is not None:
                variants = [(df, v) for df, v in variants if df <= rare]
            for _, v in sorted(variants, reverse=True)[:3]:
                weights[v] = weights.get(v, 0.0) + self.config.fuzzy_weight
        return weights

    def rank(self, query: str, k: int, offset: int = 0, *, mask: np.ndarray | None = None,
             published: np.ndarray | None = None) -> Ranking:
        """The CPU part of a search: analysis, scoring, one passage per article, re-ranking, no-answer check.

        `mask` (per passage) restricts the ranking to the passages it marks (date and outlet
        filters); with `published` (per passage) the confident matches are ordered newest first.
        """
        index = self._index
        terms = analyze_query(query)
        if not terms and mask is not None and published is not None and index is not None:
            # A window and no subject (أخبار أمس): that window's articles, newest first (newsrank).
            latest = newsrank.latest_in(index, mask, published, offset + k + 1)
            return Ranking(terms, {}, latest[offset:offset + k], len(latest) > offset + k,
                           None if latest else "empty_window")
        if not terms:
            return Ranking(terms, {}, [], False, "no_terms")
        if index is None or index.n_passages == 0:
            return Ranking(terms, {}, [], False, "unknown_terms")
        expanded = self.expand(index, terms)
        if not expanded:
            return Ranking(terms, {}, [], False, "unknown_terms")
        wanted = offset + k + 1  # one more than shown tells whether a next page exists
        # Every page re-ranks the same leading articles, so paging through
        # them neither repeats nor skips one.
        depth = max(wanted, self.config.rerank_depth if published is None else newsrank.NEWEST_DEPTH)
        query_terms, weights, evidence = self.leading_evidence(index, terms, expanded, depth, mask=mask)
        verdict = self._judge(index, terms, query_terms, weights, evidence) if evidence else "high"
        if offset == 0 and verdict == "refuse":
            return Ranking(terms, expanded, [], False, "weak")
        if published is not None:
            evidence = newsrank.newest_first(evidence, published)
        picked = [(e.passage, e.score) for e in evidence[:wanted]]
        return Ranking(terms, expanded, picked[offset:offset + k], len(picked) == wanted, None,
                       "low" if verdict == "low" else "high")

    def leading_evidence(self, index: bm25.BM25Index, terms: list[str], expanded: dict[str, float], depth: int,
                         *, mask: np.ndarray | None = None,
                         ) -> tuple[list[rerank.QueryTerm], dict[int, float], list[rerank.Evidence]]:
        """The top `depth` articles re-ranked, with what the no-answer check judges them by.

        Returns the question words with their index terms, the term weights,
        and each article's evidence, best first (what `rank` pages through).
        """
        weights = {index.vocabulary[t]: w for t, w in expanded.items()}
        leaders = (self._leading_passages(index, weights, depth) if mask is None
                   else newsrank.leading_passages(index, weights, depth, mask))
        query_terms = self._query_terms(index, terms, expanded)
        evidence = rerank.rerank(index, rerank.article_layout(index), weights, query_terms, leaders,
                                 rerank.RerankWeights(self.config.lead_boost, self.config.spread_weight))
        return query_terms, weights, evidence

    @staticmethod
    def _leading_passages(index: bm25.BM25Index, weights: dict[int, float], wanted: int) -> list[int]:
        """The best passage of each of the top `wanted` articles by passage score."""
        return bm25.top_articles(index, weights, wanted)[0].tolist()

    def _query_terms(self, index: bm25.BM25Index, terms: list[str],
                     expanded: dict[str, float]) -> list[rerank.QueryTerm]:
        """Each distinct question word with the index terms standing for it (its spelling variants at their weight).

        A variant is matched back to its word by an edit-distance check on
        the few variants `expand` found, not by regenerating every word's
        hundreds of one-edit neighbours.
        """
        variants = [v for v in expanded if v not in terms]
        out = []
        for term in dict.fromkeys(terms):
            matches = []
            tid = index.vocabulary.get(term)
            if tid is not None:
                matches.append((tid, 1.0))
            if self.config.fuzzy and self._fuzzy_eligible(index, term):
                # Credit for coverage: a variant of a word the index knows is another word, partly; of one
                # it has never seen, the same word misspelled (scores keep fuzzy_weight either way).
                credit = self.config.fuzzy_weight if tid is not None else 1.0
                matches += [(index.vocabulary[v], credit) for v in variants if rerank.one_edit_apart(term, v)]
            out.append(rerank.QueryTerm(bm25.idf_of(index, term), tuple(matches)))
        return out

    def _fuzzy_eligible(self, index: bm25.BM25Index, term: str) -> bool:
        """Whether a question word is long enough to be matched through its spelling variants."""
        shortest = self.config.fuzzy_min_chars if term in index.vocabulary else self.config.fuzzy_unknown_min_chars
        return len(term) >= shortest

    def _judge(self, index: bm25.BM25Index, terms: list[str], query_terms: list[rerank.QueryTerm],
               weights: dict[int, float], evidence: list[rerank.Evidence]) -> str:
        """How sure the best answer is: "refuse" (nothing meaningful matched), "low" (closest matches) or "high"."""
        if evidence[0].article_coverage < self.config.min_coverage:
            return "refuse"
        low = confidence.names_unseen_year(index, terms)
        # A passage holding every question word is as good an answer as word
        # matching can find: the model judges partial matches only. (Without
        # this it refused one-word news questions such as ترامب, which match
        # hundreds of articles equally well.)
        if self.config.min_confidence <= 0 or evidence[0].passage_coverage >= FULL_COVERAGE:
            return "low" if low else "high"
        p = confidence.answerable_probability(confidence.features(index, terms, query_terms, weights, evidence))
        if p < self.config.min_confidence:
            return "refuse"
        return "low" if low or p < self.config.low_confidence else "high"

    async def search(self, query: str, k: int = 3, offset: int = 0, *, filters: Filters | None = None,
                     _caught_up: bool = False) -> SearchResult:
        """Best passage of each of the top k articles (after `offset`) for a question.

        With `filters` (retrieval/newsquery.py) only articles inside their window and outlets
        are ranked; when none of those answers, the best matches outside them are returned,
        marked `outside_filters`.
        """
        started = time.perf_counter()
        index = self._index
        # --- news filters (retrieval/newsrank.py) ---
        mask = published = None
        if filters is not None and index is not None and (filters.active or filters.newest_first):
            meta = await self._article_meta(index)
            mask = newsrank.mask_of(meta, filters)
            published = meta.published if filters.newest_first else None
        # One result per story: rank more articles than shown, from the first, and drop the copies.
        fetch_k, fetch_offset = (2 * (offset + k) + 1, 0) if self.config.one_per_story else (k, offset)
        ranking = self.rank(query, fetch_k, fetch_offset, mask=mask, published=published)
        outside = False
        if mask is not None and not ranking.picked and ranking.no_answer not in ("no_terms", "unknown_terms"):
            outside_ranking = self.rank(query, fetch_k, fetch_offset, published=published)
            if outside_ranking.picked:
                ranking, outside = outside_ranking, True
        picked, has_more, also = ranking.picked, ranking.has_more, {}
        if self.config.one_per_story and picked and index is not None:
            picked, has_more, also = await self._one_per_story(index, picked, offset, k)
        # --- end of news filters ---
        hits: list[Hit] = []
        if picked and index is not None:
            ids = [int(index.passage_ids[p]) for p, _ in picked]
            rows = await store.passages_by_id(self._reader, ids)
            if len(rows) < len(ids) and not _caught_up and await self._catch_up(index):
                # Passages gone since the index was built (an article updated or deleted by an ingest
                # whose index is not swapped in yet): answer wholly from the fresh index instead of
                # half an answer from the stale one.
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

    async def _one_per_story(self, index: bm25.BM25Index, picked: list[tuple[int, float]], offset: int, k: int,
                             ) -> tuple[list[tuple[int, float]], bool, dict[int, tuple[storygroups.StoryCopy, ...]]]:
        """The page [offset, offset + k) of `picked` with each story's first article only.

        Returns it, whether more follow, and per shown passage id the story's other articles.
        """
        rowids = [int(index.article_ids[p]) for p, _ in picked]
        story_of, members = await storygroups.story_members(self._reader, rowids)
        kept, seen = [], set()
        for (p, score), rowid in zip(picked, rowids, strict=True):
            story = story_of.get(rowid, f"#{rowid}")
            if story not in seen:
                seen.add(story)
                kept.append((p, score, rowid, story))
        page = kept[offset:offset + k]
        also = {int(index.passage_ids[p]): tuple(c for r, c in members.get(story, ()) if r != rowid)[
            :storygroups.MAX_ALSO] for p, _, rowid, story in page}
        return [(p, s) for p, s, _, _ in page], len(kept) > offset + k, also

    async def _article_meta(self, index: bm25.BM25Index) -> newsrank.ArticleMeta:
        """Publication time and source per passage of `index`, read once per index."""
        cached = self._news_meta
        if cached is None or cached[0] is not index:
            cached = self._news_meta = (index, await newsrank.article_meta(self._reader, index,
                                                                            ZoneInfo(self.config.timezone)))
        return cached[1]

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
        return Stats(articles=c["articles"], passages=c["passages"], sources=c["sources"], index=info)

