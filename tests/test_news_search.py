"""Date and outlet filters in search, newest first, and the command line's news options."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from retrieval import outlets
from retrieval.engine import RetrievalConfig, SearchEngine
from retrieval.news import NewsDesk
from retrieval.newsrank import published_timestamp

from .conftest import write_jsonl
from .test_cli import newsbot

TZ = ZoneInfo("Asia/Riyadh")
NOW = datetime(2021, 11, 24, 15, 0, tzinfo=TZ)


QUAKE_TEXTS = [
    "ضرب زلزال بقوة {m} درجات مدينة {place} صباح اليوم وأدى إلى انهيار مبان قديمة في وسطها.",
    "أفاد مرصد الزلازل بأن هزة أرضية شدتها {m} درجات وقعت قرب {place} وشعر بها السكان في المدن المجاورة.",
    "قتل عشرة أشخاص على الأقل في زلزال قوي بلغت قوته {m} درجات ضرب {place} ليلا، وتواصل فرق الإنقاذ عملها.",
    "سجلت أجهزة الرصد زلزالا متوسط القوة ({m} درجات) في منطقة {place} من دون أن يسفر عن خسائر بشرية.",
]


def quake(n: int, day: str, source: str, place: str) -> dict:
    return {"id": f"q{n}", "title": f"{place}: زلزال", "source": source, "url": f"https://example.com/q{n}",
            "published": day, "text": QUAKE_TEXTS[n - 1].format(m=n + 4, place=place)}


ARTICLES = [
    quake(1, "2021-11-23T09:00:00+03:00", "bbc", "إزمير"),  # yesterday in Riyadh
    quake(2, "2021-11-20T10:00:00", "skynews", "طهران"),
    quake(3, "2021-10-02", "cnn", "كابول"),
    quake(4, "2021-11-24T01:00:00+03:00", "alarabia", "ليما"),  # today
    {"id": "e1", "title": "الانتخابات في العراق", "source": "الجزيرة", "published": "2021-11-23T12:00:00+03:00",
     "url": "https://example.com/e1",
     "text": "أعلنت مفوضية الانتخابات في العراق النتائج النهائية للانتخابات البرلمانية.\n"
             "وحصلت الكتلة الصدرية على أكبر عدد من المقاعد."},
    {"id": "j1", "title": "قناة الجزيرة تطلق خدمة جديدة", "source": "bbc", "published": "2021-11-01",
     "url": "https://example.com/j1", "text": "أطلقت قناة الجزيرة خدمة بث جديدة على الإنترنت لمتابعيها في العالم."},
    {"id": "x1", "title": "الطقس", "source": "cnn", "published": "not a date",
     "text": "زلزال خفيف في منطقة نائية لم يسبب أضرارا."},
]


@pytest.fixture
async def desk(tmp_path: Path):
    engine = await SearchEngine.open(tmp_path / "news.db", RetrievalConfig())
    await engine.ingest_paths([write_jsonl(tmp_path / "a.jsonl", ARTICLES)])
    yield NewsDesk(engine, TZ)
    await engine.close()


async def test_date_filter_keeps_every_hit_inside_the_window(desk: NewsDesk) -> None:
    result = await desk.ask("زلزال أمس", k=10, now=NOW)
    assert [h.article_id for h in result.hits] == ["q1"]
    assert not result.outside_filters and not result.hits[0].outside_filters
    assert result.filters is not None and result.filters.explain() == "أخبار 2021/11/23"
    week = await desk.ask("زلزال هذا الأسبوع", k=10, now=NOW)
    assert {h.article_id for h in week.hits} == {"q1", "q2", "q4"}


async def test_nothing_inside_the_window_falls_back_outside_marked(desk: NewsDesk) -> None:
    result = await desk.ask("زلزال في 2019", k=10, now=NOW)
    assert result.hits and result.outside_filters
    assert all(h.outside_filters for h in result.hits)


async def test_outlet_filter(desk: NewsDesk) -> None:
    result = await desk.ask("ماذا قالت سكاي نيوز عن الزلزال", k=10, now=NOW)
    assert [h.article_id for h in result.hits] == ["q2"]
    result = await desk.ask("الانتخابات حسب الجزيرة", k=10, now=NOW)
    assert [h.article_id for h in result.hits] == ["e1"]


async def test_outlet_as_the_subject_is_searched_not_filtered(desk: NewsDesk) -> None:
    result = await desk.ask("ماذا حدث في قناة الجزيرة؟", k=10, now=NOW)
    assert result.hits and result.hits[0].article_id == "j1"
    assert not result.filters or not result.filters.sources


async def test_newest_first(desk: NewsDesk) -> None:
    result = await desk.ask("آخر أخبار الزلزال", k=10, now=NOW)
    assert [h.article_id for h in result.hits][:4] == ["q4", "q1", "q2", "q3"]
    plain = await desk.engine.search("الزلزال", k=10)
    assert [h.article_id for h in plain.hits] != [h.article_id for h in result.hits]


async def test_a_question_without_news_words_is_searched_as_before(desk: NewsDesk) -> None:
    for question in ("زلزال طهران", "الانتخابات البرلمانية"):
        asked = await desk.ask(question, k=5, now=NOW)
        plain = await desk.engine.search(question, k=5)
        assert asked.hits == plain.hits and asked.filters is None


async def test_operator_alias(desk: NewsDesk) -> None:
    assert await desk.add_aliases("الجزيرة", ["الجزيرة نت", "aljazeera"]) == ["الجزيرة نت", "aljazeera"]
    result = await desk.ask("الانتخابات في aljazeera", k=10, now=NOW)
    assert [h.article_id for h in result.hits] == ["e1"]
    with pytest.raises(outlets.AliasError, match="no articles from source"):
        await desk.add_aliases("nowhere", ["x"])
    with pytest.raises(outlets.AliasError, match="already names source 'bbc'"):
        await desk.add_aliases("الجزيرة", ["قناة قطر", "بي بي سي"])
    assert "قناة قطر" not in (await desk.aliases())["الجزيرة"]  # all or none
    with pytest.raises(outlets.AliasError, match="no letters"):
        await desk.add_aliases("الجزيرة", ["  ...  "])


def test_published_timestamps() -> None:
    assert published_timestamp("2021-11-23", TZ) == datetime(2021, 11, 23, tzinfo=TZ).timestamp()
    assert published_timestamp("2021/11/23", TZ) == datetime(2021, 11, 23, tzinfo=TZ).timestamp()
    assert published_timestamp("Mon, 26 Feb 2018 02:20:10 GMT", TZ) == datetime.fromisoformat(
        "2018-02-26T02:20:10+00:00").timestamp()
    assert published_timestamp("2018-02-18T21:35:43+04:00", TZ) == datetime.fromisoformat(
        "2018-02-18T21:35:43+04:00").timestamp()
    for bad in ("", "not a date", "2021/13/45"):
        assert published_timestamp(bad, TZ) != published_timestamp(bad, TZ)  # NaN


def test_cli_now_filters_and_sources_alias(tmp_path: Path) -> None:
    db = tmp_path / "news.db"
    assert newsbot("ingest", str(write_jsonl(tmp_path / "a.jsonl", ARTICLES)), db=db).returncode == 0
    out = newsbot("ask", "زلزال أمس", "--now", "2021-11-24T15:00", db=db)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("🔎 أخبار 2021/11/23\n") and "إزمير" in out.stdout
    out = newsbot("search", "--jsonl", "--now", "2021-11-24T15:00:00+03:00", db=db,
                  stdin="زلزال أمس\nزلزال في 2019\nزلزال طهران\n")
    lines = [json.loads(line) for line in out.stdout.splitlines()]
    assert lines[0]["filters"] == {"from": "2021-11-23", "to": "2021-11-23", "sources": []}
    assert [h["article_id"] for h in lines[0]["hits"]] == ["q1"]
    assert lines[0]["hits"][0]["outside_filters"] is False
    assert lines[1]["hits"] and all(h["outside_filters"] for h in lines[1]["hits"])
    assert lines[2]["filters"] == {"from": None, "to": None, "sources": []}
    bad = newsbot("ask", "زلزال", "--now", "yesterday", db=db)
    assert bad.returncode == 2 and "not an ISO 8601 date" in bad.stderr

    out = newsbot("sources", "alias", "الجزيرة", "aljazeera", "الجزيرة نت", db=db)
    assert out.returncode == 0 and "2 alias(es) added" in out.stdout, out.stderr
    out = newsbot("sources", db=db)
    assert "الجزيرة\t1\taljazeera | الجزيرة نت" in out.stdout and "bbc\t2\tبي بي سي" in out.stdout
    out = newsbot("sources", "alias", "nowhere", "x", db=db)
    assert out.returncode == 2 and "no articles from source 'nowhere'" in out.stderr
    out = newsbot("search", "--jsonl", "--now", "2021-11-24", db=db, stdin="الانتخابات حسب aljazeera\n")
    assert json.loads(out.stdout)["filters"]["sources"] == ["الجزيرة"]


def test_bad_timezone_setting_is_refused(tmp_path: Path) -> None:
    out = newsbot("stats", db=tmp_path / "news.db", env={"NEWSBOT_TIMEZONE": "Mars/Olympus"})
    assert out.returncode == 2 and "NEWSBOT_TIMEZONE" in out.stderr and "unknown time zone" in out.stderr


async def test_a_date_without_a_subject_lists_that_days_news(desk: NewsDesk) -> None:
    result = await desk.ask("ماذا حدث أمس؟", k=10, now=NOW)
    assert [h.article_id for h in result.hits] == ["e1", "q1"]  # 12:00 then 09:00 on the 23rd
    assert result.filters is not None and result.filters.explain() == "أخبار 2021/11/23 الأحدث أولاً"
    empty = await desk.ask("أخبار 2019/01/01", k=10, now=NOW)
    assert empty.hits == () and empty.no_answer == "empty_window"


async def test_a_later_page_reads_dates_as_when_the_question_was_asked(desk: NewsDesk, tmp_path: Path) -> None:
    from bot.records import QuestionLog

    log = await QuestionLog.open(tmp_path / "news.db", retention_days=100_000)
    try:
        qid = await log.record(chat_type="private", user_id=1, question="زلزال أمس", hits=1, latency_seconds=0.01,
                               now=NOW)
        asked = await log.asked_at(qid)
        assert asked == NOW.replace(second=0, microsecond=0)
        again = await desk.ask(await log.question(qid), k=10, now=asked)
        assert [h.article_id for h in again.hits] == ["q1"]
        assert await log.asked_at(qid + 1) is None
    finally:
        await log.close()
