"""A batch grouped against the window of stored rows gets exactly the stories the whole index gives.

Three databases receive the same generated news, batch by batch: one is grouped by a fresh keeper
with the whole index loaded (`StoryKeeper.load`), one as `newsbot ingest` does (a fresh keeper, which
reads only the stored rows within the batch's date window when it can), one by a single keeper kept
up to date throughout, as the bot's. Their `stories` tables must stay equal row for row (an edited
article's row moves to the end of the table, where the kept index puts it). The news has copies of a few stories at many
similarities around the threshold, dates across two months with pairs exactly `MAX_DAYS_APART` days
apart and a second more, undated articles (stored and in batches), and edits of stored articles.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import aiosqlite
import pytest

from retrieval import newsstore, store, stories, storygroups

TZ = ZoneInfo("Asia/Riyadh")
START = datetime(2021, 3, 1, tzinfo=UTC)
LETTERS = "ابتثجحخدذرزسشصضطظعغفقكلمنهوي"


def words(rng: random.Random, n: int) -> list[str]:
    return ["".join(rng.choice(LETTERS) for _ in range(rng.randint(3, 7))) for _ in range(n)]


class News:
    """Generated articles: copies of a few base stories, or of a stored article, with some words
    replaced, at chosen dates."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.bases = [words(self.rng, 50) for _ in range(12)]
        self.stored: dict[str, tuple[list[str], datetime | None]] = {}
        self.next_id = 0

    def article(self, article_id: str, center: datetime) -> tuple[str, str, str, str]:
        rng = self.rng
        days = timedelta(days=stories.MAX_DAYS_APART)
        near = [v for v in self.stored.values() if v[1] is not None and abs(v[1] - center) < 2 * days]
        pick = rng.random()
        if pick < 0.05:
            text, date = list(rng.choice(self.bases)), None  # undated
        elif pick < 0.5 and near:
            # A copy of a stored article exactly the largest distance away that still joins, a second
            # past it, or at the same moment.
            parent, parent_date = rng.choice(near)
            text = list(parent)
            date = parent_date + rng.choice([days, -days, days + timedelta(seconds=1),
                                             -days - timedelta(seconds=1), timedelta(0)])
        else:
            text, date = list(rng.choice(self.bases)), center + timedelta(hours=rng.uniform(-60, 60))
        # 0 to 45 of 50 words replaced: similarities from 1 down past the thresholds (0.3, and 0.9 for
        # undated pairs), with exact copies (ties between several stored copies) among them.
        for i in rng.sample(range(len(text)), rng.choice([0, 0, 2, 5, 10, 15, 20, 25, 30, 35, 45])):
            text[i] = words(rng, 1)[0]
        self.stored[article_id] = (text, date)
        return article_id, " ".join(text[:6]), " ".join(text[6:]), "" if date is None else date.isoformat()

    def batch(self) -> list[tuple[str, str, str, str]]:
        rng = self.rng
        center = START + timedelta(days=rng.uniform(0, 60))
        out: list[tuple[str, str, str, str]] = []
        for _ in range(rng.choice([1, 1, 2, 5, 12, 30])):
            if self.stored and rng.random() < 0.15:
                article_id = rng.choice(sorted(self.stored))  # an edit (maybe of its date too)
                if any(a[0] == article_id for a in out):
                    continue
            else:
                article_id = f"a{self.next_id}"
                self.next_id += 1
            out.append(self.article(article_id, center))
        return out


async def write_articles(db: aiosqlite.Connection, batch: list[tuple[str, str, str, str]]) -> None:
    """The articles rows (a stories row names its article), added or replaced as ingest would."""
    async with store.transaction(db):
        await db.executemany(
            "INSERT INTO articles (id, title, body, published, content_hash, ingested_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, '', '') ON CONFLICT (id) DO UPDATE SET title = excluded.title,"
            " body = excluded.body, published = excluded.published, content_hash = excluded.content_hash",
            [(i, t, b, p, str(hash((t, b, p)))) for i, t, b, p in batch])


async def story_table(db: aiosqlite.Connection) -> list[tuple]:
    return list(await db.execute_fetchall(
        "SELECT article_id, story, signature, published_ts FROM stories ORDER BY rowid"))


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
async def test_windowed_grouping_gives_the_stories_of_the_whole_index(tmp_path: Path, seed: int) -> None:
    news = News(seed)
    whole = await store.connect(tmp_path / "whole.db")
    windowed = await store.connect(tmp_path / "windowed.db")
    serving = await store.connect(tmp_path / "serving.db")
    server = storygroups.StoryKeeper(TZ)  # one index kept up to date, as the bot's
    await server.load(serving)
    try:
        used_window = joined = 0
        for _ in range(70):
            batch = news.batch()
            for db in (whole, windowed, serving):
                await write_articles(db, batch)
            reference = storygroups.StoryKeeper(TZ)
            await reference.load(whole)
            joined += await reference.update(whole, batch)
            keeper = storygroups.StoryKeeper(TZ)
            await keeper.update(windowed, batch)
            used_window += not keeper.loaded
            await server.update(serving, batch)
            assert await story_table(windowed) == await story_table(whole), batch
            assert await story_table(serving) == await story_table(whole), batch
        stored = await newsstore.story_count(whole)
    finally:
        for db in (whole, windowed, serving):
            await db.close()
    # The test means something only if many batches took the window, and many articles joined stories.
    assert used_window >= 25 and joined >= stored // 4, (used_window, joined, stored)


async def test_window_reads_only_rows_near_the_batch_and_undated_ones(tmp_path: Path) -> None:
    db = await store.connect(tmp_path / "news.db")
    try:
        rng = random.Random(7)
        day = timedelta(days=1)
        rows = [(f"d{i}", "", " ".join(words(rng, 30)), (START + i * day).isoformat()) for i in range(40)]
        rows.append(("undated", "", " ".join(words(rng, 30)), ""))
        await write_articles(db, rows)
        await storygroups.StoryKeeper(TZ).update(db, rows)  # undated among them: the whole index
        new = [("new", "", " ".join(words(rng, 30)), (START + 20 * day).isoformat())]
        await write_articles(db, new)
        keeper = storygroups.StoryKeeper(TZ)
        await keeper.update(db, new)
        # Days 17 to 23 (the window's edges are a minute wider than MAX_DAYS_APART), and the undated row.
        assert not keeper.loaded and keeper.window_rows_read == 7 + 1
        # A batch spanning the whole range reads the whole index instead.
        spread = [("x", "", "a b c", START.isoformat()), ("y", "", "d e f", (START + 39 * day).isoformat())]
        await write_articles(db, spread)
        wide = storygroups.StoryKeeper(TZ)
        await wide.update(db, spread)
        assert wide.loaded and wide.window_rows_read == 0
    finally:
        await db.close()
