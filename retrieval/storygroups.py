"""Stories in SQLite: each article's story, kept up to date at ingest, and the other outlets of a story.

`StoryKeeper` holds the LSH index (retrieval/storyindex.py) of the stored signatures, loaded when
a serving engine opens (or on first use); ingest hands it the articles it wrote (added or
edited) and it writes their story rows. A deleted article's row goes with it (foreign key
cascade). Ingest writes an article and its story row in one transaction; articles without a row
(a database from before the `stories` table) are grouped by `catch_up`, which the engine runs when it opens.

A process that has not loaded the index (`newsbot ingest` of a file) and groups a few dated
articles reads only the stored rows that can join them: stories join articles at most
`stories.MAX_DAYS_APART` days apart unless one is undated, so the rows published within that
distance of the batch, and the undated rows, are all its candidates. Loaded in rowid order
(as the whole index is), they hold the same slots in the same relative order, so ties break
the same way and every article gets the story the whole index would give it.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import AsyncIterator, Container, Iterable, Sequence
from dataclasses import dataclass
from datetime import tzinfo

import aiosqlite
import numpy as np

from . import newsstore, stories, storyindex
from .newsrank import published_timestamp

log = logging.getLogger(__name__)

CATCH_UP_BATCH = 2000
LOAD_CHUNK = 4096  # stored story rows read at a time when the index is loaded
# A batch is grouped against a window of the stored rows (see the module's docstring) when it has at
# most WINDOW_ARTICLES articles, all dated, and the window at most WINDOW_ROWS rows; and while the
# rows a process has read for windows stay under half the stored rows (a long ingest of batches
# loads the whole index once instead of reading its windows again and again).
WINDOW_ARTICLES = 5000
WINDOW_ROWS = 200_000
# Added to the window on each side: rows a rounding error away from the edge are read too (an
# extra row is a candidate the date test rules out, as the whole index would).
WINDOW_MARGIN_S = 60.0
MAX_ALSO = 8  # other versions listed under a result
# A batch of at most this many articles is grouped on the event loop's thread, a larger one in a
# worker thread. Grouping holds the GIL nearly throughout (numpy on small arrays, the C kernels), so
# a worker thread does not let the loop run meanwhile unless the work outlasts the interpreter's
# switch interval (5 ms); a batch of a few dozen articles takes ~1 ms, and handing it to a thread
# and back cost ~0.3 ms of it on one core.
INLINE_ARTICLES = 64


@dataclass(frozen=True, slots=True)
class StoryCopy:
    """Another version of a shown story: where it ran."""

    article_id: str
    source: str
    url: str
    published: str


class StoryKeeper:
    def __init__(self, tz: tzinfo) -> None:
        self.tz = tz
        self._index: storyindex.StoryIndex | None = None
        self.window_rows_read = 0  # stored rows read for windows by this process (see WINDOW_ROWS)

    @property
    def loaded(self) -> bool:
        """Whether the whole index is in memory (a window's is never kept)."""
        return self._index is not None

    async def load(self, db: aiosqlite.Connection) -> None:
        """Load the LSH index of the stored signatures now, if not yet (a serving engine does on open).

        Streamed: `LOAD_CHUNK` rows at a time are copied into the index's arrays, then its key
        array is sorted in passes (`StoryIndex.sort_keys`), so loading holds little beside the
        index itself, and the first article added afterwards allocates only what it needs.
        """
        await self._loaded(db)

    async def _loaded(self, db: aiosqlite.Connection) -> storyindex.StoryIndex:
        if self._index is None:
            # Room for the articles to come: an add that grows the arrays copies them (untouched
            # room costs no memory: numpy's zeroed arrays are mapped lazily).
            count = await newsstore.story_count(db)
            self._index = await _index_of(newsstore.iter_story_rows(db, LOAD_CHUNK), count + max(1024, count // 4))
        return self._index

    async def _window(self, db: aiosqlite.Connection, stamps: np.ndarray) -> storyindex.StoryIndex | None:
        """An index of just the stored rows that can join a batch of articles published at `stamps`,
        or None when the batch should be grouped against the whole index (see WINDOW_ROWS)."""
        if self._index is not None or stamps.size > WINDOW_ARTICLES or np.isnan(stamps).any():
            return None
        reach = stories.MAX_DAYS_APART * 86400 + WINDOW_MARGIN_S
        low, high = float(stamps.min()) - reach, float(stamps.max()) + reach
        rows = await newsstore.story_window_count(db, low, high)
        if rows > WINDOW_ROWS or 2 * (self.window_rows_read + rows) > await newsstore.story_count(db):
            return None
        self.window_rows_read += rows
        return await _index_of(newsstore.iter_story_window(db, low, high, LOAD_CHUNK), rows + stamps.size)

    def discard(self) -> None:
        """Drop the in-memory index (it ran ahead of the database): reloaded from it when next needed."""
        self._index = None

    def forget(self, article_id: str) -> None:
        if self._index is not None:
            self._index.remove(article_id)

    async def update(self, db: aiosqlite.Connection, items: Sequence[tuple[str, str, str, str]],
                     fresh: Container[str] = ()) -> int:
        """Group (id, title, body, published) articles just written; returns how many joined a story.

        `fresh`: the ids among them known to have no stories row yet (`newsstore.write_story_rows`).

        The batch is signed and matched at once (`StoryIndex.assign`: an article can still join one
        written earlier in the same batch, as one at a time would; in a thread past INLINE_ARTICLES
        articles), then its rows are written in one transaction (the caller's, if it has one open: ingest writes the
        articles and their rows together).
        """
        if not items:
            return 0
        stamps = np.array([published_timestamp(item[3], self.tz) for item in items], dtype=np.float64)
        # A window's index is this batch's alone (it lacks the rest of the file): dropped afterwards.
        window = await self._window(db, stamps)
        index = window if window is not None else await self._loaded(db)

        def assign() -> list[tuple[str, str, bytes, float | None]]:
            ids = [item[0] for item in items]
            sigs, counts = stories.batch_signatures([item[1] for item in items], [item[2] for item in items])
            assigned = index.assign(ids, sigs, stamps, stories.thresholds(counts))
            return [(article_id, story, sig.tobytes(), None if math.isnan(ts) else ts)
                    for article_id, story, sig, ts in zip(ids, assigned, sigs, stamps.tolist(), strict=True)]

        try:
            rows = assign() if len(items) <= INLINE_ARTICLES else await asyncio.to_thread(assign)
            await newsstore.write_story_rows(db, rows, fresh)
        except BaseException:
            # The in-memory index ran ahead of the file (or stopped halfway through a batch, or was
            # still being changed by a cancelled thread): reload it from the file next time.
            if window is None:
                self.discard()
            raise
        return sum(1 for r in rows if r[1] != r[0])

    async def catch_up(self, db: aiosqlite.Connection) -> int:
        """Group the stored articles that have no story row yet; returns how many were grouped."""
        # Every stories row names a stored article (a foreign key, deleted with it), so equal counts
        # mean none is missing: two index counts (~10 ms at a million passages) instead of the search
        # below, which reads the whole articles table (~0.7 s there) at every start.
        if await newsstore.articles_without_story_count(db) == 0:
            return 0
        done = 0
        while rows := await newsstore.articles_without_story(db, CATCH_UP_BATCH):
            await self.update(db, rows)
            done += len(rows)
        if done:
            log.info("stories: %d articles grouped", done)
        return done


async def _index_of(chunks: AsyncIterator[list], capacity: int) -> storyindex.StoryIndex:
    """An index of stored (article id, story, signature, published_ts) rows, given in rowid order."""
    index = storyindex.StoryIndex(capacity)
    async for rows in chunks:
        sigs = np.frombuffer(b"".join(r[2] for r in rows), dtype=np.uint32).reshape(len(rows), stories.PERMUTATIONS)
        stamps = np.array([np.nan if r[3] is None else r[3] for r in rows], dtype=np.float64)
        index.extend_unsorted([r[0] for r in rows], sigs, stamps, [r[1] for r in rows])
    await asyncio.to_thread(index.sort_keys)
    return index


async def story_members(db: aiosqlite.Connection, rowids: Sequence[int],
                        ) -> tuple[dict[int, str], dict[str, list[tuple[int, StoryCopy]]]]:
    """For ranked articles (rowids): each one's story, and every article of those stories, newest first.

    One query (it runs on every answer): an article without a story row is missing from both,
    and is its own story.
    """
    if not rowids:
        return {}, {}
    return members_of_rows(await newsstore.story_member_rows(db, rowids), rowids)


def members_of_rows(rows: Iterable[Sequence], rowids: Sequence[int],
                    ) -> tuple[dict[int, str], dict[str, list[tuple[int, StoryCopy]]]]:
    """`story_members`' answer from the rows of `newsstore.story_members_sql` (also read by
    retrieval/rowreads.py on its own synchronous connection)."""
    wanted = set(rowids)
    story_of: dict[int, str] = {}
    members: dict[str, list[tuple[int, StoryCopy]]] = {}
    for story, rowid, article_id, source, url, published in rows:
        if rowid in wanted:
            story_of[rowid] = story
        members.setdefault(story, []).append((rowid, StoryCopy(article_id, source, url, published)))
    return story_of, members
