"""The news metadata per passage (retrieval/newsrank.py): publication time and source, however read.

Every article at once (grouped by date and by source from their indexes) or the articles of a
segment by rowid, over a base, segments and deleted passages: each live passage gets its article's
`published_timestamp` and source, a deleted one NaN and no source.
"""

from __future__ import annotations

import asyncio
import json
import math
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from retrieval import indexing, newsrank, store
from retrieval.engine import RetrievalConfig, SearchEngine

TZ = ZoneInfo("Asia/Riyadh")
# What stored articles hold: ISO with an offset, without (read in the zone), a bare date, the
# slashed form, RFC 2822 as feeds write it, nothing, and text that is no date.
DATES = ["2021-03-04T10:20:30+02:00", "2021-03-04T10:20:30", "2021-03-05", "2021/03/06",
         "Sun, 07 Mar 2021 08:00:00 GMT", "", "قبل ساعتين", "2021-03-04T10:20:30+02:00"]
SOURCES = ["بي بي سي", "الجزيرة", "", "العربية"]


def record(i: int, version: int = 0) -> bytes:
    words = ["اقتصاد", "نفط", "انتخابات", "مباراة", "زلزال", "قمة"]
    text = " ".join(words[(i + j) % len(words)] for j in range(40)) + f" نسخة {version} مقال {i}"
    return json.dumps({"id": f"a{i}", "title": f"عنوان {i}", "text": text, "source": SOURCES[i % len(SOURCES)],
                       "published": DATES[i % len(DATES)]}, ensure_ascii=False).encode()


@pytest.fixture
def no_full_merges(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(indexing, "MERGE_SHARE", 1e9)
    monkeypatch.setattr(indexing, "DELETED_SHARE", 1e9)


async def expected(engine: SearchEngine) -> tuple[list[float], list[str | None]]:
    """Per global passage number: its article's time and source name (NaN and None if deleted)."""
    live = engine.index
    assert live is not None
    rows = {r[0]: r for r in await store.dates_and_sources(engine.reader, None)}
    published: list[float] = []
    sources: list[str | None] = []
    for view, seg in zip(live.views, live.segments, strict=True):
        for local, rowid in enumerate(view.article_ids.tolist()):
            if seg is not None and not seg.live[local]:
                published.append(math.nan)
                sources.append(None)
            else:
                published.append(newsrank.published_timestamp(rows[rowid][1], TZ))
                sources.append(rows[rowid][2])
    return published, sources


@pytest.mark.parametrize("lookup_share", [0.0, 1e9])  # every read grouped / every segment by rowid
def test_meta_over_segments_and_deletions(tmp_path: Path, no_full_merges: None, monkeypatch: pytest.MonkeyPatch,
                                          lookup_share: float) -> None:
    monkeypatch.setattr(newsrank, "_LOOKUP_SHARE", lookup_share)

    async def run() -> None:
        async with await SearchEngine.open(tmp_path / "news.db", RetrievalConfig()) as engine:
            await engine.ingest_bytes(b"\n".join(record(i) for i in range(16)), "base.jsonl")
            await engine.rebuild_index()
            await engine.ingest_bytes(b"\n".join(record(i) for i in range(16, 20)), "more.jsonl")  # a segment
            await engine.ingest_bytes(record(3, version=1), "update.json")  # a base passage deleted
            await engine.delete_article("a17")  # a segment's passages deleted
            live = engine.index
            assert live is not None and len(live.views) >= 2 and live.deleted
            sources: dict[str, int] = {}
            meta = await newsrank.live_meta(engine.reader, live, TZ, sources)
            want_published, want_sources = await expected(engine)
            names = {code: name for name, code in sources.items()}
            assert np.array_equal(meta.published, np.array(want_published), equal_nan=True)
            assert [names.get(int(c)) for c in meta.source] == want_sources
            # Kept with the snapshot, and with each segment: a new segment reads only its own articles.
            assert await newsrank.live_meta(engine.reader, live, TZ, sources) is meta
            await engine.ingest_bytes(record(30), "new.json")
            meta = await newsrank.live_meta(engine.reader, engine.index, TZ, sources)
            want_published, want_sources = await expected(engine)
            names = {code: name for name, code in sources.items()}
            assert np.array_equal(meta.published, np.array(want_published), equal_nan=True)
            assert [names.get(int(c)) for c in meta.source] == want_sources

    asyncio.run(run())


def test_grouped_read_is_the_read_by_rowid(tmp_path: Path) -> None:
    async def run() -> None:
        async with await SearchEngine.open(tmp_path / "news.db", RetrievalConfig(), load_index=False) as engine:
            await engine.ingest_bytes(b"\n".join(record(i) for i in range(24)), "base.jsonl", rebuild=False)
            grouped = newsrank._dates_of_groups(await store.articles_grouped_by_date_and_source(engine.reader),
                                                TZ, by_group := {})
            rows = newsrank._dates_of_rows(await store.dates_and_sources(engine.reader, None), TZ, by_row := {})
            assert np.array_equal(grouped.rowids, rows.rowids)
            assert np.array_equal(grouped.published, rows.published, equal_nan=True)
            named = [{c: n for n, c in d.items()} for d in (by_group, by_row)]
            assert [named[0][c] for c in grouped.source.tolist()] == [named[1][c] for c in rows.source.tolist()]
            # Rowids past the stored ones (an article gone) get no date and no source.
            ids = np.array([int(rows.rowids[0]), int(rows.rowids[-1]) + 5], dtype=np.int64)
            published, source = grouped.of(ids)
            assert published[0] == rows.published[0] and math.isnan(published[1]) and source[1] == -1

    asyncio.run(run())
