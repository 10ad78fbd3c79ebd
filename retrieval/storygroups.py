"""Stories in SQLite: each article's story, kept up to date at ingest, and the other outlets of a story.

`StoryKeeper` holds the LSH index (retrieval/stories.py) of the stored signatures, loaded on
first use; ingest hands it the articles it wrote (added or edited) and it writes their story
rows. A deleted article's row goes with it (foreign key cascade). Articles without a row (a
database from before the `stories` table, or an ingest stopped between its two transactions)
are grouped by `catch_up`, which the engine runs when it opens.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import tzinfo

import aiosqlite
import numpy as np

from . import store, stories
from .newsrank import published_timestamp

log = logging.getLogger(__name__)

CATCH_UP_BATCH = 2000
MAX_ALSO = 8  # other versions listed under a result


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
        self._index: stories.StoryIndex | None = None

    async def _loaded(self, db: aiosqlite.Connection) -> stories.StoryIndex:
        if self._index is None:
            rows = await db.execute_fetchall("SELECT article_id, story, signature, published_ts FROM stories")

            def build() -> stories.StoryIndex:
                sigs = np.frombuffer(b"".join(r[2] for r in rows), dtype=np.uint32).reshape(
                    len(rows), stories.PERMUTATIONS)
                stamps = np.array([np.nan if r[3] is None else r[3] for r in rows], dtype=np.float64)
                return stories.StoryIndex.bulk([r[0] for r in rows], sigs, stamps, [r[1] for r in rows])

            self._index = await asyncio.to_thread(build)
        return self._index

    def forget(self, article_id: str) -> None:
        if self._index is not None:
            self._index.remove(article_id)

    async def update(self, db: aiosqlite.Connection, items: Sequence[tuple[str, str, str, str]]) -> int:
        """Group (id, title, body, published) articles just written; returns how many joined a story.

        Signatures and lookups run in a thread, in order, so an article can join one written
        earlier in the same batch; the rows are then written in one transaction.
        """
        if not items:
            return 0
        index = await self._loaded(db)

        def assign() -> list[tuple[str, str, bytes, float | None]]:
            rows = []
            for article_id, title, body, published in items:
                sig, threshold = stories.signature_and_threshold(title, body)
                ts = published_timestamp(published, self.tz)
                match = index.best_match(sig, ts, exclude=article_id, threshold=threshold)
                story = match[1] if match else article_id
                index.add(article_id, sig, ts, story)
                rows.append((article_id, story, sig.tobytes(), None if math.isnan(ts) else ts))
            return rows

        rows = await asyncio.to_thread(assign)
        try:
            async with store.transaction(db):
                await db.executemany(
                    "INSERT INTO stories (article_id, story, signature, published_ts) VALUES (?, ?, ?, ?)"
                    " ON CONFLICT (article_id) DO UPDATE SET story = excluded.story, signature = excluded.signature,"
                    " published_ts = excluded.published_ts", rows)
        except BaseException:
            # The in-memory index ran ahead of the file: reload it from the file next time.
            self._index = None
            raise
        return sum(1 for r in rows if r[1] != r[0])

    async def catch_up(self, db: aiosqlite.Connection) -> int:
        """Group the stored articles that have no story row yet; returns how many were grouped."""
        # Every stories row names a stored article (a foreign key, deleted with it), so equal counts
        # mean none is missing: two index counts (~10 ms at a million passages) instead of the search
        # below, which reads the whole articles table (~0.7 s there) at every start.
        (missing,), = await db.execute_fetchall(
            "SELECT (SELECT COUNT(*) FROM articles) - (SELECT COUNT(*) FROM stories)")
        if missing == 0:
            return 0
        done = 0
        while rows := await db.execute_fetchall(
                "SELECT a.id, a.title, a.body, a.published FROM articles a"
                " WHERE NOT EXISTS (SELECT 1 FROM stories s WHERE s.article_id = a.id)"
                " ORDER BY a.rowid LIMIT ?", (CATCH_UP_BATCH,)):
            await self.update(db, [tuple(r) for r in rows])
            done += len(rows)
        if done:
            log.info("stories: %d articles grouped", done)
        return done


async def story_members(db: aiosqlite.Connection, rowids: Sequence[int],
                        ) -> tuple[dict[int, str], dict[str, list[tuple[int, StoryCopy]]]]:
    """For ranked articles (rowids): each one's story, and every article of those stories, newest first.

    One query (it runs on every answer): an article without a story row is missing from both,
    and is its own story.
    """
    if not rowids:
        return {}, {}
    return members_of_rows(await db.execute_fetchall(members_sql(len(rowids)), tuple(rowids)), rowids)


# The query and the answer of `story_members`, for readers that hold their own connection (the
# answer path's synchronous one, retrieval/rowreads.py).

def members_sql(count: int) -> str:
    """The query of `story_members` for `count` rowids."""
    marks = ",".join("?" * count)
    return ("SELECT s.story, a.rowid, a.id, a.source, a.url, a.published FROM stories s"
            " JOIN articles a ON a.id = s.article_id WHERE s.story IN"
            f" (SELECT s1.story FROM articles a1 JOIN stories s1 ON s1.article_id = a1.id WHERE a1.rowid IN ({marks}))"
            " ORDER BY a.published DESC, a.rowid DESC")


def members_of_rows(rows: Iterable[Sequence], rowids: Sequence[int],
                    ) -> tuple[dict[int, str], dict[str, list[tuple[int, StoryCopy]]]]:
    """`story_members`' answer from the rows of `members_sql`."""
    wanted = set(rowids)
    story_of: dict[int, str] = {}
    members: dict[str, list[tuple[int, StoryCopy]]] = {}
    for story, rowid, article_id, source, url, published in rows:
        if rowid in wanted:
            story_of[rowid] = story
        members.setdefault(story, []).append((rowid, StoryCopy(article_id, source, url, published)))
    return story_of, members
