"""The answer path's story query reads its members through an index alone (migration 6 → 7)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from retrieval import newsstore, storygroups
from retrieval.engine import RetrievalConfig, SearchEngine

from .conftest import write_jsonl
from .test_stories import ARTICLES


async def test_story_members_are_read_from_a_covering_index(tmp_path: Path) -> None:
    async with await SearchEngine.open(tmp_path / "news.db", RetrievalConfig()) as engine:
        await engine.ingest_paths([write_jsonl(tmp_path / "a.jsonl", ARTICLES)])
        rowids = [r[0] for r in await engine.reader.execute_fetchall("SELECT rowid FROM articles")]
        story_of, members = await storygroups.story_members(engine.reader, rowids)
    assert set(story_of) == set(rowids) and members  # the query still answers
    con = sqlite3.connect(tmp_path / "news.db")
    try:
        plan = [row[3] for row in con.execute("EXPLAIN QUERY PLAN " + newsstore.story_members_sql(2), rowids[:2])]
        indexes = {row[0] for row in con.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    finally:
        con.close()
    # Each member found without reading its stories row (which holds the MinHash signature).
    assert "SEARCH s USING COVERING INDEX stories_story_article (story=?)" in plan, plan
    assert "stories_story" not in indexes  # replaced, not kept beside it (one index less to write)
