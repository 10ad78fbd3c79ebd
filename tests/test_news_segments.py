"""News filters over the near-real-time index: base + segments answer as a full rebuild does, and the
per-passage news metadata is read per segment (a new article reads its own segment only)."""

from __future__ import annotations

from pathlib import Path

from retrieval.engine import RetrievalConfig, SearchEngine
from retrieval.news import NewsDesk

from .conftest import write_jsonl
from .test_news_search import ARTICLES, NOW, TZ, quake

# Enough other articles that two more stay in a segment (no background merge starts: segments < 10%).
FILLER = [{"id": f"f{i}", "title": f"تقرير اقتصادي رقم {i}", "source": "reuters", "published": "2020-03-01",
           "text": f"ارتفعت أسعار النفط في الأسواق العالمية للمرة {i} هذا العام وسط توقعات بزيادة الطلب."}
          for i in range(40)]
QUESTIONS = ["زلزال أمس", "زلزال هذا الأسبوع", "ماذا قالت سكاي نيوز عن الزلزال", "ماذا حدث أمس؟",
             "ماذا حدث اليوم؟", "زلزال في 2019", "أحدث أخبار الزلزال", "الانتخابات حسب الجزيرة"]


async def answers(desk: NewsDesk) -> list[list[tuple[str, float, bool]]]:
    out = []
    for question in QUESTIONS:
        # Pages of one as well: a deleted passage still ranked would leave one empty (its row is gone).
        for k, offset in ((10, 0), (1, 0), (1, 1), (1, 2)):
            result = await desk.ask(question, k=k, offset=offset, now=NOW)
            out.append([(h.article_id, h.score, h.outside_filters) for h in result.hits])
    return out


async def test_filters_over_segments_answer_as_a_full_rebuild(tmp_path: Path) -> None:
    async with await SearchEngine.open(tmp_path / "news.db", RetrievalConfig()) as engine:
        desk = NewsDesk(engine, TZ)
        await engine.ingest_paths([write_jsonl(tmp_path / "a.jsonl", ARTICLES + FILLER)], rebuild=False)
        await engine.rebuild_index()
        assert (await desk.ask("زلزال أمس", k=10, now=NOW)).hits  # the base's metadata read
        base = engine.index.views[0]
        base_part = base.kept("news_meta")[1]

        # After the base: a new quake yesterday, q2 moved to yesterday by an update, q1 rewritten (same
        # day), q3 deleted.
        moved = {**quake(2, "2021-11-23T20:00:00+03:00", "skynews", "طهران")}
        rewritten = ARTICLES[0] | {"text": ARTICLES[0]["text"] + " وتضررت الطرق المؤدية إلى المدينة."}
        added = quake(3, "2021-11-23T18:00:00+03:00", "bbc", "أنقرة") | {"id": "q9", "url": "https://example.com/q9"}
        await engine.ingest_paths([write_jsonl(tmp_path / "b.jsonl", [moved, added, rewritten])])
        await engine.delete_article("q3")
        assert engine._merger is None  # no background merge: the segments stay
        info = engine.segment_info()
        assert info is not None and info.count >= 1 and engine.index.deleted > 0

        yesterday = await desk.ask("زلزال أمس", k=10, now=NOW)
        assert {h.article_id for h in yesterday.hits} == {"q1", "q2", "q9"}
        assert engine.index.views[0] is not base and engine.index.views[0].kept("news_meta")[1] is base_part
        latest = await desk.ask("ماذا حدث أمس؟", k=10, now=NOW)
        assert [h.article_id for h in latest.hits][:2] == ["q2", "q9"]  # newest first, each article once
        assert len({h.article_id for h in latest.hits}) == len(latest.hits)
        assert [h.article_id for h in (await desk.ask("ماذا حدث أمس؟", k=1, offset=3, now=NOW)).hits] == ["q1"]
        with_segments = await answers(desk)

        await engine.rebuild_index()
        assert engine.segment_info().count == 0
        assert await answers(desk) == with_segments
