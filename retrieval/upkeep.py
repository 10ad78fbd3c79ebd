"""Keeping the engine's index current: loading it, near-real-time refreshes, background merges, rebuilds.

`IndexUpkeep` is the part of `SearchEngine` (retrieval/engine.py) that owns `_index` (what questions
read) and `_nrt` (what refreshes apply the passage log to); the policy and the synchronous work are in
retrieval/indexing.py and retrieval/segments.py (segment.py, segmentfile.py).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import aiosqlite

from . import bm25, indexer, indexing, passagelog, rerank, segmentfile, segments, store, swapping
from .config import RetrievalConfig

log = logging.getLogger(__name__)

# Databases with fewer passages are indexed in a thread (tens of
# milliseconds); larger ones in a separate process, so serving never stalls:
# a build in a thread competes with the event loop for the GIL, and on a
# loaded machine a 6,000-passage build in a thread held questions for
# seconds.
BUILD_IN_PROCESS_MIN_PASSAGES = 2_000
# A process that answers questions looks for another process's writes at most this often.
PICKUP_SECONDS = 1.0
# After a merge of small segments, how long until the tail file is saved (see _save_tail_soon).
TAIL_SAVE_DELAY = 2.0
# The index-building child imports this package from where we found it.
_PACKAGE_ROOT = str(Path(__file__).resolve().parent.parent)


def warmed(snapshot: segments.LiveIndex) -> segments.LiveIndex:
    """`snapshot` with what the first question would derive per segment already derived.

    The article layout re-ranking reads (rerank.article_layout, ~70 ms at a million passages)
    is kept with each segment; for a new one (a merged base above all) it is built here, in the
    worker thread that made the snapshot (numpy sorts and gathers that mostly let the GIL go),
    rather than by the first question after the swap, on the event loop.
    """
    for view in snapshot.views:
        rerank.article_layout(view)
    return snapshot


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


class IndexUpkeep:
    """The index side of `SearchEngine` (see the module's doc); the engine sets these up in its constructor."""

    db_path: Path
    config: RetrievalConfig
    _writer: aiosqlite.Connection
    _reader: aiosqlite.Connection
    _index: segments.LiveIndex | None
    _index_info: IndexInfo | None
    _nrt: segments.SegmentedIndex | None
    _write_lock: asyncio.Lock
    _build_lock: asyncio.Lock
    _refresh_lock: asyncio.Lock
    _polled_at: float
    _poller: asyncio.Future[None] | None
    _merger: asyncio.Future[None] | None
    _watcher: asyncio.Future[None] | None
    _tail_saver: asyncio.Future[None] | None
    # Merges small segments after an add is searchable (see _merge_small_soon).
    _small_merger: asyncio.Future[None] | None = None
    # The refreshes' connections for reading the passage log (closed by the engine's close).
    _log_readers: passagelog.ReaderPool | None = None

    @property
    def index_path(self) -> Path:
        return self.db_path.with_name(self.db_path.name + ".index.npz")

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
        header = segmentfile.read_header(self.index_path)
        if header is None:
            return False
        last, trimmed, passages = passagelog.log_bounds(self.db_path)
        log_seq = header[1]
        covered = segmentfile.tail_seq(indexing.tail_path(self.index_path), log_seq) or log_seq
        return trimmed <= log_seq <= covered <= last and last - covered <= indexing.tail_limit(passages)

    async def _apply_log(self, state: segments.SegmentedIndex, *, merge: bool = True, swap: bool = False,
                         handoff: passagelog.Handoff | None = None) -> bool:
        """Apply what the passage log holds beyond `state` and swap it in; False if a rebuild is needed.

        `handoff`: the passages this process just wrote, taken instead of read back if the log bears
        them out (`passagelog.handed_changes`).

        With `merge`, a full merge is started in the background when the policy asks for one (not
        when merely opening: a command that asks one question and exits should not start one).
        """
        # A serving process merges small segments after the add is searchable (_merge_small_soon);
        # opening, or a swap, merges at once (nothing is waiting to be searched yet).
        defer_merge = merge and not swap
        if self._log_readers is None:
            self._log_readers = passagelog.ReaderPool(self.db_path)
        readers = self._log_readers

        def work() -> tuple[str, segments.LiveIndex | None, bool]:
            # A connection of its own while it reads (kept for the next refresh): a thread left
            # running by a cancelled refresh never shares one.
            with readers.connection() as con:
                limit = indexing.tail_limit(state.n_live)
                changes = None if handoff is None else indexing.handed_changes(con, handoff, state.log_seq, limit)
                if changes is None:
                    changes = indexing.read_changes(con, state.log_seq, limit)
            if changes.gap or changes.too_long:
                return ("gap" if changes.gap else "long"), None, False
            merged = state.last_merge
            if not indexing.apply_changes(state, changes, merge=not defer_merge):
                return "inconsistent", None, False
            state.generation = changes.generation
            return "ok", warmed(state.snapshot()), state.last_merge != merged

        outcome, snapshot, merged = await (swapping.in_swap_thread(work) if swap else asyncio.to_thread(work))
        if snapshot is None:
            log.info("index refresh needs a rebuild (%s)", outcome)
            return False
        self._nrt, self._index = state, snapshot
        if merged and not self.rebuilding:
            self._save_tail_soon()
        if defer_merge and indexing.wants_small_merge(state):
            self._merge_small_soon()
        if merge and indexing.needs_full_merge(state) and not self.rebuilding:
            self._start_merge()
        return True

    def _merge_small_soon(self) -> None:
        """Merge the small segments in the background, once the add that made one too many is searchable.

        The merge (O(the merged segments' postings), ~0.3-2 ms for the adds of a feed) changes no
        score: an add need not wait for it, as in Lucene, whose merges run in threads of their own.
        The next refresh waits for it (the refresh lock); `settle` waits for it.
        """
        if self._small_merger is None or self._small_merger.done():
            self._small_merger = asyncio.ensure_future(self._merge_small_quietly())

    async def _merge_small_quietly(self) -> None:
        try:
            await self._merge_small()
        except Exception:  # the segments keep serving unmerged; the next add's merge tries again
            log.exception("merge of small segments failed")

    async def _merge_small(self) -> None:
        async with self._refresh_lock:
            state = self._nrt
            if state is None or not indexing.wants_small_merge(state):
                return

            def work() -> segments.LiveIndex | None:
                return warmed(state.snapshot()) if indexing.merge_small(state) else None

            # Shielded: if cancelled (closing), the lock is held until the thread has finished with `state`.
            running = asyncio.ensure_future(asyncio.to_thread(work))
            try:
                snapshot = await asyncio.shield(running)
            except asyncio.CancelledError:
                await asyncio.wait([running])
                raise
            if snapshot is not None and self._nrt is state:
                self._index = snapshot
                if not self.rebuilding:
                    self._save_tail_soon()

    async def settle(self) -> None:
        """Wait for the background merge of small segments an add started, if any (benchmarks, tests)."""
        merger = self._small_merger
        if merger is not None and not merger.done():
            await asyncio.wait([merger])

    def _save_tail_soon(self) -> None:
        """Save the segments `TAIL_SAVE_DELAY` seconds after a merge of small segments.

        Merged segments are worth keeping (a restart loads them instead of re-indexing their
        passages from the log), but writing the tail (~8 ms at 100k passages, more with a larger
        tail) is no part of making an article searchable: it is done later, off the add, and the
        adds of a burst share one save.
        """
        if self._tail_saver is None or self._tail_saver.done():
            self._tail_saver = asyncio.ensure_future(self._save_tail_later())

    async def _save_tail_later(self) -> None:
        await asyncio.sleep(TAIL_SAVE_DELAY)
        try:
            await self.save_segments()
        except Exception:  # only an optimisation: the next start replays the log instead
            log.exception("could not save the index tail")

    async def save_segments(self) -> None:
        """Write the segments to the tail file for the next start (done on close; they are only an
        optimisation: the passage log rebuilds them)."""
        state = self._nrt
        if state is None or state.log_seq == state.saved_seq or str(self.db_path) == ":memory:":
            return
        def work() -> segments.LiveIndex | None:
            # A merge of small segments an add left to the background is done first: the next start
            # would otherwise do it before its first answer.
            merged = indexing.merge_small(state)
            segmentfile.save_tail(state, indexing.tail_path(self.index_path))
            return warmed(state.snapshot()) if merged else None

        try:
            async with self._refresh_lock:
                if self._nrt is state:
                    snapshot = await asyncio.to_thread(work)
                    if snapshot is not None and self._nrt is state:
                        self._index = snapshot
        except OSError as exc:
            log.warning("could not save the index tail (%s); the next start re-indexes it", exc)

    async def refresh_index(self, *, handoff: passagelog.Handoff | None = None) -> None:
        """Make what was written to the database since the last refresh searchable (near-real-time).

        Only the new passages are indexed (a segment) and the deleted ones marked; a long
        tail (a bulk ingest) or a log the index cannot follow rebuilds everything instead.
        `handoff`: what this process's last write inserted (see `_apply_log`).
        """
        if str(self.db_path) == ":memory:" or self._nrt is None:
            if str(self.db_path) == ":memory:":
                await self.rebuild_index()
            else:
                await self.ensure_index()
            return
        async with self._refresh_lock:
            state = self._nrt
            if state is not None and await self._apply_log(state, handoff=handoff):
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
                    # Released in a thread once swapped out (a million-passage base is ~400 MB to unmap).
                    retired = [self._nrt, self._index]
                    with swapping.short_switches():
                        state = await swapping.in_swap_thread(self._load_new_base)
                        if not await self._apply_log(state, swap=True):
                            raise RuntimeError("the index just built does not follow the database's passage log")
                    snapshot = None
                    await asyncio.to_thread(self._trim_log, built.log_seq)
                    await asyncio.to_thread(retired.clear)
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

    def _load_new_base(self) -> segments.SegmentedIndex:
        # The tail file extended the old base: the log since the new one replaces it.
        indexing.tail_path(self.index_path).unlink(missing_ok=True)
        return indexing.load_state(self.index_path, self.config.bm25)

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
        return await store.passage_id_bound(self._reader)

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

    def segment_info(self) -> SegmentInfo | None:
        state = self._nrt
        if state is None:
            return None
        held = sum(seg.size for seg in state.segments)
        merged = (datetime.fromtimestamp(state.last_merge, UTC).isoformat(timespec="seconds")
                  if state.last_merge else None)
        return SegmentInfo(count=len(state.segments) - 1, passages=state.segment_passages,
                           deleted_share=state.deleted / held if held else 0.0, last_merge=merged)

