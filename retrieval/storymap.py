"""Each indexed article's story, kept in memory by the serving process, so that an answer asks SQLite
only for the copies of the stories it shows that have any.

One result per story needs the story of each of the ~7 ranked articles (to drop the copies) and,
for the ≤3 shown, the story's other articles (listed under it). Asking SQLite for both on every
answer cost ~0.1-0.15 ms at 100k passages. Here each view of the index (the base, each segment)
gets, once, the story of each of its articles and the stories of its live articles (sorted): the
collapse is then a lookup, and a shown story needs SQL only when the views hold another article
of it: then its copies are read with the shown passages, in the same statement (retrieval/shown.py).
Whether they do is a flag per article for its own view (`ViewStories.shared`) and, for the other
views, a segment's set of story hashes or a search of a base's: the searches of every shown story
in every view, on arrays gone cold during ranking, cost ~15 us an answer (collapse 25 → 13 us at
100k merged, 36 → 23 us with segments, timed right after a ranking, alternating in one process).

Why the map stays right: ingest writes an article and its story row in one transaction
(retrieval/ingest.py), and an article's story changes only when it is written again, which
deletes its passages and adds new ones, so a passage the index holds live always belongs to the
article as it was when its view was made, story included. A view made before the article's
story row existed (a database from before stories, grouped by `catch_up`) has no story for it:
such an article, or one deleted since, sends the whole answer to SQL as before. Counting a
story's members from the views can only err high (an article deleted since is still counted):
the answer then asks SQL for its copies, which finds none. Between another process's write and
the refresh that picks it up (at most `PICKUP_SECONDS`), the map answers as the index does: from
the state the index was last refreshed to.
"""

from __future__ import annotations

import asyncio
import bisect
import logging
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from operator import itemgetter
from pathlib import Path

import numpy as np

from . import bm25
from .segments import LiveIndex

log = logging.getLogger(__name__)

# Article rowids per IN (...) query when a view's stories are read (a new segment's few articles);
# a view of more articles than _WHOLE_TABLE (a base) reads the whole table once instead (~0.5 s of CPU
# at a million passages, 279k articles, in the worker thread). Not a COUNT of the table to decide:
# that scan took ~15 ms at a million passages, on every new segment.
_CHUNK = 500
_WHOLE_TABLE = 20_000
_PENDING, _FAILED = "pending", "failed"
# A page of one result per story before the shown stories' copies are read: (passage, score) shown,
# whether more follow, and per shown story that may have copies (shown passage id, its article's rowid,
# story key).
Collapsed = tuple[list[tuple[int, float]], bool, list[tuple[int, int, str]]]


@dataclass(frozen=True, slots=True)
class ViewStories:
    """One view's stories: per article number (`BM25Index.article_numbers`), its story (None: no story row when
    read); and the hashes of the stories of its live articles, sorted, for counting a story's members."""

    story: np.ndarray  # object: str or None, per article number
    live_hashes: np.ndarray  # int64, sorted
    # Per article number: another of the view's live articles has its story's hash (bool), so the story
    # may have copies without searching `live_hashes` (cold in an answer: ~15 us for three stories).
    shared: np.ndarray | None = None
    # A segment's `live_hashes` as a set (segments are small; a base is searched): whether it holds a story.
    hash_set: frozenset[int] | None = None

    def holds(self, h: int) -> bool:
        """Whether one of the view's live articles (when it was read) has a story of hash `h`."""
        if self.hash_set is not None:
            return h in self.hash_set
        live = self.live_hashes
        i = live.searchsorted(h)
        return bool(i < live.size and live.item(i) == h)

    def counts(self, hashes: np.ndarray) -> np.ndarray:
        """How many of the view's live articles (when it was read) are in each story of `hashes` (str hashes).

        A hash two stories share counts both: too many, never too few (the copies are then asked of
        SQLite, which finds none). Which articles are one story is decided on the story keys themselves.
        """
        live = self.live_hashes
        return np.searchsorted(live, hashes, side="right") - np.searchsorted(live, hashes, side="left")


def _starts_list(index: LiveIndex) -> list[int]:
    return index.starts.tolist()


def _members(maps: list[ViewStories], hashes: list[int]) -> list[int]:
    """Per story hash, how many live articles of all the views are in it (`ViewStories.counts` summed)."""
    if max(hashes) == _INT64_MAX:  # h + 1 below would overflow: a search of each side
        return sum(m.counts(np.asarray(hashes, dtype=np.int64)) for m in maps).tolist()  # type: ignore[union-attr]
    # Both sides of each hash in one search a view: for integers, the right side of h is the left side of h + 1.
    # One numpy call a view and the rest on lists: an answer counts one to three stories, and each numpy
    # call (an array made, a subtraction, a sum) cost more than the search.
    both = hashes + [h + 1 for h in hashes]
    n = len(hashes)
    if len(maps) == 1:
        at = maps[0].live_hashes.searchsorted(both).tolist()
        return [at[n + i] - at[i] for i in range(n)]
    total = [0] * n
    for m in maps:
        at = m.live_hashes.searchsorted(both).tolist()
        for i in range(n):
            total[i] += at[n + i] - at[i]
    return total


_INT64_MAX = (1 << 63) - 1
# A segment of at most this many live articles keeps their story hashes as a set too (~60 bytes each).
_SET_MAX = 1 << 16

_STORIES_SQL = "SELECT a.rowid, s.story FROM stories s JOIN articles a ON a.id = s.article_id"


def read_view_stories(con: sqlite3.Connection, view: bm25.BM25Index, live: np.ndarray | None) -> ViewStories:
    """`ViewStories` of `view` (whose passages' live marks are `live`, None if all are: a base) from the database."""
    # Article number i is the i-th smallest article rowid (as article_numbers numbers them): scattered, not
    # np.unique (a sort of every passage, ~0.16 s at a million).
    article_numbers = view.article_numbers
    rowids = np.zeros(int(article_numbers.max()) + 1 if article_numbers.size else 0, dtype=np.int64)
    rowids[article_numbers] = view.article_ids
    if rowids.size > _WHOLE_TABLE:
        rows = con.execute(_STORIES_SQL).fetchall()
    else:
        ids = rowids.tolist()
        rows = []
        for i in range(0, len(ids), _CHUNK):
            chunk = ids[i:i + _CHUNK]
            rows += con.execute(f"{_STORIES_SQL} WHERE a.rowid IN ({','.join('?' * len(chunk))})", chunk).fetchall()
    story = np.full(rowids.size, None, dtype=object)
    hashes = np.zeros(rowids.size, dtype=np.int64)
    has = np.zeros(rowids.size, dtype=np.bool_)
    if rows:
        got = np.fromiter(map(itemgetter(0), rows), dtype=np.int64, count=len(rows))
        got_stories = list(map(itemgetter(1), rows))
        pos = np.minimum(np.searchsorted(rowids, got), rowids.size - 1)
        ok = rowids[pos] == got  # rows of articles this view holds
        stories = np.empty(len(rows), dtype=object)
        stories[:] = got_stories
        story[pos[ok]] = stories[ok]
        hashes[pos[ok]] = np.fromiter(map(hash, got_stories), dtype=np.int64, count=len(rows))[ok]
        has[pos[ok]] = True
    alive = np.zeros(rowids.size, dtype=np.bool_)
    alive[article_numbers if live is None else article_numbers[live]] = True
    live_hashes = np.sort(hashes[alive & has])
    shared = (live_hashes.searchsorted(hashes, side="right") - live_hashes.searchsorted(hashes, side="left") > 1) & has
    hash_set = frozenset(live_hashes.tolist()) if live is not None and live_hashes.size <= _SET_MAX else None
    return ViewStories(story=story, live_hashes=live_hashes, shared=shared, hash_set=hash_set)


class StoryMap:
    """The stories of the views of the serving process's index, read in a worker thread on first need."""

    def __init__(self, db_path: Path) -> None:
        self.db_path = db_path
        self._tasks: set[asyncio.Future[None]] = set()
        self._reading: set[sqlite3.Connection] = set()  # the reads' connections, to interrupt on close
        self._closing = False
        # One thread of its own, one read at a time: the loop's default executor runs the index's
        # refreshes and merges, which must not queue behind a base's read, nor two reads share a core.
        self._executor: ThreadPoolExecutor | None = None

    def of(self, index: LiveIndex) -> list[ViewStories] | None:
        """Every view's stories, or None while some are still being read (then started, if not yet)."""
        out = []
        ready = True
        for v, view in enumerate(index.views):
            got = view.kept("stories")
            if got is None:
                seg = index.segments[v]
                view.keep("stories", _PENDING)
                # Submitted to the executor now (a coroutine would wait for the loop to run it: an answer
                # that never awaits, as on the synchronous reader, would never let it start).
                if self._executor is None:
                    self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="storymap")
                task = asyncio.get_running_loop().run_in_executor(self._executor, self._read, view,
                                                                  None if seg is None else seg.live)
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
            if not isinstance(got, ViewStories):
                ready = False
            out.append(got)
        return out if ready else None

    def _read(self, view: bm25.BM25Index, live: np.ndarray | None) -> None:
        try:
            con = sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True, check_same_thread=False)
            try:
                self._reading.add(con)
                if self._closing:
                    raise sqlite3.OperationalError("interrupted")
                stories = read_view_stories(con, view, live)
            finally:
                self._reading.discard(con)
                con.close()
        except sqlite3.OperationalError as exc:
            if self._closing:  # interrupted by close(): a one-question process need not wait for the base
                view.keep("stories", _FAILED)
                return
            log.warning("could not read the stories of an index view (%s): answers ask SQLite for them", exc)
            view.keep("stories", _FAILED)
            return
        except Exception:
            # The answers go on asking SQLite for the stories of this view; a later snapshot tries again.
            log.exception("could not read the stories of an index view")
            view.keep("stories", _FAILED)
            return
        view.keep("stories", stories)

    def collapse(self, index: LiveIndex, picked: list[tuple[int, float]], offset: int, k: int) -> Collapsed | None:
        """The page [offset, offset + k) of `picked` with each story's first article only, from memory: the
        page, whether more follow, and the shown stories that may have copies (`shown.Copied`: their
        members are read with the shown passages, retrieval/shown.py). None when it cannot say (stories
        still being read, an article without a story row): the caller asks SQLite for the stories."""
        maps = self.of(index)
        if maps is None or not picked:
            return None
        # A few passages (2k + 1) placed by bisect on the views' starts as a list: numpy's search and the
        # arrays around it cost more than the search for so few.
        views = index.views
        starts = index.derived("starts_list", _starts_list) if len(views) > 1 else None
        kept, seen = [], set()
        for p, score in picked:
            if starts is None:
                v, d = 0, p
            else:
                v = bisect.bisect_right(starts, p) - 1
                d = p - starts[v]
            # .item: a Python object at once, not a numpy scalar to convert (~0.1 us each, more when cold).
            a = views[v].article_numbers.item(d)
            story = maps[v].story.item(a)
            if story is None:
                return None
            if story not in seen:
                seen.add(story)
                kept.append((p, score, v, d, a, story))
        page = kept[offset:offset + k]
        # A story may have copies when the views hold more than one live article of it (its hash). The shown
        # article is live in its own view (it was when the view was read, as deletions only ever mark), so
        # another one there (`shared`) decides it, and otherwise whether another view holds the story.
        may_copy = []
        counted = []
        for i, (_, _, v, _, a, story) in enumerate(page):
            shared = maps[v].shared
            if shared is None:  # every view counted
                counted.append(i)
            elif shared.item(a) or (len(maps) > 1 and any(m.holds(hash(story)) for w, m in enumerate(maps) if w != v)):
                may_copy.append(i)
        if counted:
            members = _members(maps, [hash(page[i][5]) for i in counted])
            may_copy = sorted(may_copy + [i for i, count in zip(counted, members, strict=True) if count > 1])
        copied = [(views[v].passage_ids.item(d), views[v].article_ids.item(d), story)
                  for _, _, v, d, _, story in (page[i] for i in may_copy)]
        return [(p, score) for p, score, _, _, _, _ in page], len(kept) > offset + k, copied

    async def settled(self) -> None:
        """Wait for the reads in flight."""
        if self._tasks:
            await asyncio.wait(list(self._tasks))

    async def close(self) -> None:
        """Stop the reads in flight (a read of a million-passage base takes ~0.5 s) and wait for their threads,
        which hold connections to the file."""
        self._closing = True
        for con in list(self._reading):
            con.interrupt()  # safe from another thread: the read's query stops with "interrupted"
        await self.settled()
        if self._executor is not None:
            self._executor.shutdown(wait=True)
