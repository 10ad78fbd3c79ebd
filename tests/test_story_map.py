"""Each indexed article's story kept in memory (retrieval/storymap.py): answers identical to asking SQLite for
every story, through ingests that add copies, edits that move an article to another story, deletions, and
articles without a story row."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import numpy as np

from retrieval import query, storymap
from retrieval.engine import RetrievalConfig, SearchEngine

from .conftest import write_jsonl
from .test_stories import ARTICLES, OTHER, WIRE

QUESTIONS = ["إصابة بجدري القردة في المغرب", "حملة تطعيم ضد الإنفلونزا", "وزارة الصحة في المغرب", "جدري القردة",
             "لقاحات الإنفلونزا الموسمية", "مدينة الدار البيضاء"]
# Other news, each its own story, so that pages hold singletons and copies side by side.
FILLER = [{"id": f"f{i}", "title": f"خبر رقم {i} عن وزارة الصحة", "source": "outlet",
           "published": f"2022-06-{i + 1:02d}", "url": f"https://example.com/f{i}",
           "text": f"قالت وزارة الصحة في تقرير رقم {i} إن " + " ".join(f"كلمة{i}{j}" for j in range(30))
           + f" في المغرب عن {'الإنفلونزا' if i % 2 else 'جدري القردة'}."}
          for i in range(12)]


def shown(result) -> list:
    return [(h.article_id, h.passage_id, h.score, h.excerpt, h.source, h.url,
             [(c.article_id, c.source, c.url, c.published) for c in h.also]) for h in result.hits]


async def answers(engine: SearchEngine) -> list:
    out = []
    for q in QUESTIONS:
        for k, offset in ((1, 0), (3, 0), (5, 0), (2, 2)):
            r = await engine.search(q, k=k, offset=offset)
            out.append((shown(r), r.has_more))
    return out


async def both_ways(engine: SearchEngine) -> list:
    """The answers with the stories from memory, checked against the same answers from SQLite alone."""
    keeper = engine._story_map
    assert keeper is not None
    # Reads start on first need; a merge finishing meanwhile swaps in a new base, read in turn.
    for _ in range(200):
        if keeper.of(query.live(engine.index)) is not None:
            break
        await keeper.settled()
        await asyncio.sleep(0.01)
    assert keeper.of(query.live(engine.index)) is not None, "every view's stories read"
    quick = await answers(engine)
    engine._story_map = None
    try:
        slow = await answers(engine)
    finally:
        engine._story_map = keeper
    assert quick == slow
    return quick


async def test_answers_equal_sqlites_through_adds_edits_and_deletions(tmp_path: Path) -> None:
    async with await SearchEngine.open(tmp_path / "news.db", RetrievalConfig()) as engine:
        await engine.ingest_paths([write_jsonl(tmp_path / "a.jsonl", [*ARTICLES, *FILLER])])
        first = await both_ways(engine)
        assert any(also for page, _ in first for *_, also in page), "a story with copies is shown"

        # Another outlet's copy, in a segment of its own: it joins w1's story.
        copy = {"id": "w4", "title": "المغرب يسجل أول إصابة بجدري القردة", "source": "cnn",
                "published": "2022-05-24T13:00", "url": "https://example.com/w4", "text": WIRE}
        await engine.ingest_paths([write_jsonl(tmp_path / "b.jsonl", [copy])])
        assert len(query.live(engine.index).views) > 1
        second = await both_ways(engine)
        story_of_w4 = [{a, *(c[0] for c in also)} for page, _ in second for a, *_, also in page]
        assert any({"w1", "w4"} <= ids for ids in story_of_w4), "the copy is listed with its story"

        # w2 edited into another story, then w1 deleted.
        edited = dict(ARTICLES[1], text=OTHER + " وأكدت الوزارة توفر اللقاحات.", title="لقاحات الإنفلونزا")
        await engine.ingest_paths([write_jsonl(tmp_path / "c.jsonl", [edited])])
        await both_ways(engine)
        assert await engine.delete_article("w1")
        await both_ways(engine)


async def test_singleton_stories_are_not_asked_of_sqlite(tmp_path: Path) -> None:
    async with await SearchEngine.open(tmp_path / "news.db", RetrievalConfig()) as engine:
        await engine.ingest_paths([write_jsonl(tmp_path / "a.jsonl", FILLER)])
        await both_ways(engine)
        asked = []
        read = engine.rows.shown_passages

        def spy(keys, copied=()):
            asked.append(list(copied))
            return read(keys, copied)

        engine.rows.shown_passages = spy  # type: ignore[method-assign]
        result = await engine.search("تقرير وزارة الصحة", k=3)
        assert result.hits and not any(h.also for h in result.hits)
        assert asked == [[]]  # the shown passages read, no story's copies with them
        await engine.ingest_paths([write_jsonl(tmp_path / "b.jsonl", ARTICLES)])
        await both_ways(engine)
        asked.clear()
        result = await engine.search("إصابة بجدري القردة في المغرب", k=3)
        assert any(h.also for h in result.hits) and asked and asked[0]  # a story with copies: read with them


async def test_an_article_without_a_story_row_is_answered_from_sqlite(tmp_path: Path) -> None:
    db = tmp_path / "news.db"
    async with await SearchEngine.open(db, RetrievalConfig()) as engine:
        await engine.ingest_paths([write_jsonl(tmp_path / "a.jsonl", [*ARTICLES, *FILLER])])
    with sqlite3.connect(db) as con:  # as a database from before stories were kept, read before catch_up
        con.execute("DELETE FROM stories WHERE article_id IN ('w2', 'f3')")
    async with await SearchEngine.open(db, RetrievalConfig(), load_index=False) as engine:
        pass  # catch_up grouped them again on open
    with sqlite3.connect(db) as con:
        assert con.execute("SELECT COUNT(*) FROM stories WHERE article_id IN ('w2', 'f3')").fetchone()[0] == 2
    async with await SearchEngine.open(db, RetrievalConfig()) as engine:
        with sqlite3.connect(db) as con:  # now gone under the running engine, before its stories are read
            con.execute("DELETE FROM stories WHERE article_id IN ('w2', 'f3')")
        live = query.live(engine.index)
        await both_ways(engine)
        maps = engine._story_map.of(live)
        assert maps is not None and any(any(story is None for story in m.story) for m in maps)


async def test_closing_stops_the_reads_in_flight(tmp_path: Path) -> None:
    async with await SearchEngine.open(tmp_path / "news.db", RetrievalConfig()) as engine:
        await engine.ingest_paths([write_jsonl(tmp_path / "a.jsonl", [*ARTICLES, *FILLER])])
        await engine.search(QUESTIONS[0], k=3)  # starts the reads; the engine closes without waiting for them
    keeper = storymap.StoryMap(tmp_path / "news.db")
    async with await SearchEngine.open(tmp_path / "news.db", RetrievalConfig()) as engine:
        view = query.live(engine.index).views[0]
        await keeper.close()
        keeper._read(view, None)  # a read that starts after close gives up at once
        assert view.kept("stories") == "failed"
        assert keeper.of(query.live(engine.index)) is None  # and the answers ask SQLite


async def test_a_one_question_engine_reads_no_story_map_and_answers_the_same(tmp_path: Path) -> None:
    # `newsbot ask` opens with story_map=False: its one answer asks SQLite, with no read of every story beside it.
    db = tmp_path / "news.db"
    async with await SearchEngine.open(db, RetrievalConfig()) as engine:
        await engine.ingest_paths([write_jsonl(tmp_path / "a.jsonl", [*ARTICLES, *FILLER])])
        serving = await both_ways(engine)
    async with await SearchEngine.open(db, RetrievalConfig(), story_map=False) as engine:
        assert engine.story_map is None
        assert await answers(engine) == serving


def test_members_summed_over_views_equal_each_view_s_counts() -> None:
    # storymap._members (both sides of each hash in one search a view) against ViewStories.counts
    # (a search of each side), with hashes at the edges of int64, repeated ones and absent ones.
    rng = np.random.default_rng(3)
    edge = [-(1 << 63), -(1 << 63) + 1, -2, 0, 1, (1 << 63) - 2, (1 << 63) - 1]
    maps = []
    for size in (0, 1, 50, 400):
        hashes = np.sort(np.concatenate([rng.integers(-50, 50, size), rng.choice(edge, size // 10 + 1)]))
        maps.append(storymap.ViewStories(story=np.empty(0, dtype=object), live_hashes=hashes.astype(np.int64)))
    for asked in ([3], [-2, 0, 7], edge[:-1], edge, [(1 << 63) - 1, 5], [99, 99, -99]):
        want = sum(m.counts(np.asarray(asked, dtype=np.int64)) for m in maps).tolist()
        assert storymap._members(maps, asked) == want


def test_a_view_holds_a_story_as_its_counts_say() -> None:
    # ViewStories.holds (a set for a segment, a search for a base) against ViewStories.counts.
    rng = np.random.default_rng(5)
    edge = [-(1 << 63), -2, 0, 1, (1 << 63) - 1]
    for size in (0, 1, 50, 400):
        hashes = np.sort(np.concatenate([rng.integers(-50, 50, size), rng.choice(edge, size // 10 + 1)]))
        base = storymap.ViewStories(story=np.empty(0, dtype=object), live_hashes=hashes.astype(np.int64))
        segment = storymap.ViewStories(story=base.story, live_hashes=base.live_hashes,
                                       hash_set=frozenset(base.live_hashes.tolist()))
        for h in [*range(-60, 60), *edge]:
            want = bool(base.counts(np.asarray([h], dtype=np.int64))[0] > 0)
            assert base.holds(h) == segment.holds(h) == want, h
