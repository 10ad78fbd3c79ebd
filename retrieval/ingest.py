"""Ingest: records (files, uploads, feed articles) split, analysed and written to SQLite in batches.

The engine's `ingest_*` methods read their input with retrieval/readers.py and hand the
records here; what is written reaches the index through the passage log (near-real-time
refresh, retrieval/indexing.py), not through anything done here.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path

import aiosqlite

from . import store, storygroups
from .analysis import analyze, passage_terms_utf8, release_index_caches
from .articles import Article
from .config import RetrievalConfig
from .db import transaction
from .passagelog import Handoff
from .passages import passage_spans
from .readers import Record, Skipped, iter_input_files, read_path
from .walcheckpoint import WalCheckpointer

log = logging.getLogger(__name__)

INGEST_BATCH = 500
# Analysis cache entries an ingest leaves for the next (release_index_caches): the adds of a feed or
# an upload start warm; a bulk ingest's cache (up to ~1M tokens, ~100 MB) is given back.
KEPT_CACHE_ENTRIES = 1 << 16
# Title terms repeated into every passage are capped: a hostile 1 MB title must
# not be copied into each passage of its article.
TITLE_CHARS, TITLE_TERMS = 1000, 64

ProgressCallback = Callable[[int, int], None]  # (files done, records done)


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


@dataclass
class Target:
    """Where an ingest writes: the engine's write connection and lock, its stories, its listeners."""

    config: RetrievalConfig
    writer: aiosqlite.Connection
    write_lock: asyncio.Lock
    stories: storygroups.StoryKeeper
    # Called (no arguments) after an ingest that added or changed articles: followed-topic alerts.
    listeners: list[Callable[[], None]] = field(default_factory=list)
    # Told the passages each batch wrote, and asked to checkpoint between the batches of a long ingest
    # (retrieval/walcheckpoint.py); the engine asks after the last, once it is searchable.
    checkpoints: WalCheckpointer | None = None


def path_records(paths: Iterable[str | Path], report: IngestReport, max_bytes: int) -> Iterator[tuple[Record, str]]:
    """The records of files and folders (walked recursively), with the file each came from."""
    for item in iter_input_files(paths):
        if isinstance(item, Skipped):
            yield item, item.location
            continue
        report.files += 1
        for record in read_path(item, max_bytes=max_bytes):
            yield record, str(item)


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


async def write_records(target: Target, records: Iterator[tuple[Record, str]], report: IngestReport,
                        progress: ProgressCallback | None, handoffs: list[Handoff] | None = None) -> None:
    """Prepare and write `records` in batches (each batch one transaction), grouping the written
    articles into stories; then tell the listeners if anything was added or changed.

    `handoffs`, if given, receives the `passagelog.Handoff` of an ingest that wrote one batch, of new
    articles only, once committed: for the index refresh that follows."""
    def next_batch() -> tuple[list[store.PreparedArticle], list[Skipped]]:
        batch, skipped = [], []
        for record, origin in islice(records, INGEST_BATCH):
            if isinstance(record, Skipped):
                skipped.append(record)
            else:
                batch.append(prepare(record, origin, target.config))
        return batch, skipped

    done = 0
    async with target.write_lock:
        with _COLLECTOR_PAUSE:  # see _CollectorPause
            # Parsing and analysis are CPU work, off the event loop. With more than one core
            # the next batch is prepared while SQLite writes this one (sqlite3 releases the
            # GIL while it works, so the two overlap); on one core they cannot, and taking
            # turns on it only cost time (the two threads evicting each other's caches
            # and trading the GIL): there each batch is prepared after the last is written.
            overlap = _usable_cores() > 1

            def prepare_next(last: tuple[list[store.PreparedArticle], list[Skipped]] | None = None,
                             ) -> asyncio.Future[tuple[list[store.PreparedArticle], list[Skipped]]]:
                if last is not None and len(last[0]) + len(last[1]) < INGEST_BATCH:
                    # The last batch came out short, so `records` is exhausted: no hop to a thread
                    # only to find nothing (~0.1-0.3 ms of every small add).
                    nothing: asyncio.Future[tuple[list[store.PreparedArticle], list[Skipped]]] = (
                        asyncio.get_running_loop().create_future())
                    nothing.set_result(([], []))
                    return nothing
                return asyncio.ensure_future(asyncio.to_thread(next_batch))

            upcoming = prepare_next()
            try:
                while True:
                    batch, skipped = last = await upcoming
                    if not batch and not skipped:
                        break
                    if report.passages and target.checkpoints is not None:
                        # Another batch follows one written: checkpoint that one beside this one's
                        # writes (after the last, the caller does, once it is searchable).
                        target.checkpoints.kick()
                    if overlap:
                        upcoming = prepare_next(last)
                    for record in skipped:
                        log.warning("skipped %s", record)
                    report.skipped.extend(skipped)
                    if batch:
                        # A handoff stands for the whole ingest only if it wrote one batch: after
                        # that none is kept (a bulk ingest would hold every batch's terms).
                        first = report.ingested == 0
                        if handoffs is not None and not first:
                            handoffs.clear()
                        counts = await _write_batch(target, batch, handoffs if first else None)
                        report.added += counts["added"]
                        report.updated += counts["updated"]
                        report.unchanged += counts["unchanged"]
                        written = sum(len(p.passages) for p in batch)
                        report.passages += written
                        if target.checkpoints is not None:
                            target.checkpoints.wrote(written)
                    done += len(batch) + len(skipped)
                    if progress:
                        progress(report.files, done)
                    if not overlap:
                        upcoming = prepare_next(last)
                if report.added or report.updated:
                    for listener in target.listeners:
                        listener()
            finally:
                # On an error or cancellation the batch being prepared is never
                # written; its thread cannot be stopped, so wait for it: the
                # records iterator must not be in use after this returns.
                await asyncio.wait([upcoming])
                if not upcoming.cancelled():
                    upcoming.exception()  # mark retrieved: only the first error is reported
                release_index_caches(keep=KEPT_CACHE_ENTRIES)



async def _write_batch(target: Target, batch: list[store.PreparedArticle],
                       handoffs: list[Handoff] | None = None) -> dict[str, int]:
    """Write a batch of articles and their story rows in one transaction.

    One, so that no reader (another process, or this one's index refresh) ever sees an article
    without its story: an answer found in between would list the copies of one story as
    separate results, which neither the index before nor the one after would give.
    """
    handoff: list[Handoff] | None = [] if handoffs is not None else None
    try:
        async with transaction(target.writer):
            written: list[store.PreparedArticle] = []
            inserted: set[str] = set()
            counts = await store.write_articles(target.writer, batch, written=written, handoff=handoff,
                                                inserted=inserted)
            await target.stories.update(target.writer, [
                (p.article.id, p.article.title, p.article.body, p.article.published) for p in written], inserted)
    except BaseException:
        target.stories.discard()  # its index may hold rows the rollback took back
        raise
    if handoffs is not None and handoff:
        handoffs.extend(handoff)  # committed: true of the file now
    return counts


async def refresh_pipeline(target: Target) -> None:
    """Re-derive passages and terms if the analysis pipeline changed."""
    signature = target.config.pipeline_signature
    if await store.get_meta(target.writer, "pipeline", signature) == signature:
        await store.set_meta(target.writer, "pipeline", signature)
        return
    log.info("analysis pipeline changed: re-analysing stored articles")
    async with target.write_lock:
        after = -1
        # A batch at a time, by rowid (which rewriting an article keeps): a million
        # passages' bodies held at once took gigabytes.
        while rows := await store.articles_from(target.writer, after, INGEST_BATCH):
            after = rows[-1][0]
            batch = await asyncio.to_thread(
                lambda c=rows: [prepare(article, origin, target.config) for _, article, origin in c])
            await store.write_articles(target.writer, batch, rewrite_unchanged=True)
        release_index_caches()
        await store.set_meta(target.writer, "pipeline", signature)
