"""Question understanding: time windows, outlets, newest-first (retrieval/newsquery.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from retrieval.analysis import analyze_query
from retrieval.newsquery import Filters, outlet_catalogue, outlet_key, parse

from .date_table import NO_DATE, NOW, ROWS, TZ

SOURCES = ["bbc", "cnn", "skynews", "alarabia", "france24", "الجزيرة", "صحيفة عكاظ", "الرياض", "المدن", "اليوم"]
OUTLETS = outlet_catalogue(SOURCES, {"المدن": ["almodon", "موقع المدن الإلكتروني"]})


@pytest.mark.parametrize(("question", "expression", "first", "last", "rest"), ROWS,
                         ids=[r[1] for r in ROWS])
def test_time_expressions(question: str, expression: str, first: str, last: str, rest: str) -> None:
    parsed = parse(question, NOW, TZ, OUTLETS)
    assert parsed.filters.days() == (first, last)
    assert analyze_query(parsed.text) == analyze_query(rest)
    assert parsed.filters.sources == ()


@pytest.mark.parametrize("question", NO_DATE)
def test_no_time_expression(question: str) -> None:
    parsed = parse(question, NOW, TZ, OUTLETS)
    assert parsed.filters.start is None
    assert analyze_query(parsed.text) == analyze_query(question)
    assert parsed.explanation == ""


def test_hours_are_hours_not_days() -> None:
    f = parse("القصف خلال الساعات الماضية", NOW, TZ, OUTLETS).filters
    assert f.start == NOW - timedelta(hours=24)
    assert f.end is not None and f.end > NOW


def test_explanation_line() -> None:
    assert parse("أخبار غزة 2021/11/21", NOW, TZ, OUTLETS).explanation == "أخبار 2021/11/21"
    assert parse("غزة الأسبوع الماضي", NOW, TZ, OUTLETS).explanation == "أخبار من 2021/11/13 إلى 2021/11/19"
    assert parse("ماذا قالت بي بي سي عن الانتخابات أمس", NOW, TZ, OUTLETS).explanation == \
        "أخبار بي بي سي 2021/11/23"


def test_window_in_the_configured_time_zone() -> None:
    # 23:30 UTC on the 23rd is already the 24th in Riyadh: اليوم is the 24th there.
    now = datetime(2021, 11, 23, 23, 30, tzinfo=UTC)
    assert parse("اليوم", now, TZ, []).filters.days() == ("2021-11-24", "2021-11-24")


OUTLET_CASES = [
    ("ماذا قالت بي بي سي عن الانتخابات؟", ("bbc",), "الانتخابات"),
    ("الانتخابات في بي بي سي", ("bbc",), "الانتخابات"),
    ("حسب الجزيرة ما عدد الضحايا", ("الجزيرة",), "ما عدد الضحايا"),
    ("ماذا تقول سكاي نيوز عن الزلزال", ("skynews",), "الزلزال"),
    ("أسعار النفط على موقع العربية", ("alarabia",), "أسعار النفط"),
    ("وفق فرانس 24 ماذا حدث في مالي", ("france24",), "ماذا حدث مالي"),
    ("صحيفة عكاظ الميزانية", ("صحيفة عكاظ",), "الميزانية"),
    ("عكاظ الميزانية", ("صحيفة عكاظ",), "الميزانية"),  # the kind word is optional
    ("ما ذكرته CNN عن ترامب", ("cnn",), "ما ذكرته ترامب"),
    ("ماذا قالت سي إن إن عن ترامب", ("cnn",), "ترامب"),
    ("تقرير almodon عن الكهرباء", ("المدن",), "تقرير الكهرباء"),  # an operator's alias
    ("صحيفة الرياض عن الميزانية", ("الرياض",), "الميزانية"),
    # Common words and places: an outlet only with a cue.
    ("الطقس في الرياض", (), "الطقس الرياض"),
    ("ماذا حدث في المدينة المنورة", (), "ماذا حدث المدينة المنورة"),
    ("اللغة العربية في المدارس", (), "اللغة العربية المدارس"),
    ("شبه الجزيرة الكورية", (), "شبه الجزيرة الكورية"),
    ("قناة الجزيرة عن الحرب", ("الجزيرة",), "الحرب"),
    ("ماذا نشرت صحيفة اليوم عن النفط", ("اليوم",), "النفط"),  # the newspaper, not today
    ("أسعار النفط اليوم", (), "أسعار النفط"),  # today (tested below), not the newspaper
    # The outlet is the subject: the filter would leave nothing to search.
    ("ماذا حدث في قناة الجزيرة؟", (), "ماذا حدث قناة الجزيرة"),
    ("بي بي سي", (), "بي بي سي"),
]


@pytest.mark.parametrize(("question", "sources", "rest"), OUTLET_CASES, ids=[c[0] for c in OUTLET_CASES])
def test_outlets(question: str, sources: tuple[str, ...], rest: str) -> None:
    parsed = parse(question, NOW, TZ, OUTLETS)
    assert parsed.filters.sources == sources
    assert analyze_query(parsed.text) == analyze_query(rest)


def test_the_newspaper_named_today_is_no_date() -> None:
    assert parse("ماذا نشرت صحيفة اليوم عن النفط", NOW, TZ, OUTLETS).filters.start is None
    assert parse("أسعار النفط اليوم", NOW, TZ, OUTLETS).filters.days() == ("2021-11-24", "2021-11-24")


def test_outlet_key_drops_the_kind_word() -> None:
    assert outlet_key("صحيفة عكاظ") == outlet_key("عكاظ") == "عكاظ"
    assert outlet_key("قناة الجزيرة") == "الجزيره"


@pytest.mark.parametrize(("question", "rest"), [
    ("آخر أخبار الزلزال", "الزلزال"), ("أحدث أخبار غزة", "غزة"), ("ما الجديد في قضية خاشقجي", "قضية خاشقجي"),
    ("آخر مستجدات كورونا", "كورونا")])
def test_newest_first(question: str, rest: str) -> None:
    parsed = parse(question, NOW, TZ, OUTLETS)
    assert parsed.filters.newest_first
    assert parsed.filters.start is None
    assert analyze_query(parsed.text) == analyze_query(rest)
    assert "الأحدث أولاً" in parsed.explanation


def test_filters_json() -> None:
    f = parse("آخر أخبار النفط على موقع العربية أمس", NOW, TZ, OUTLETS).filters
    assert f.as_json() == {"from": "2021-11-23", "to": "2021-11-23", "sources": ["alarabia"], "newest_first": True}
    assert Filters().as_json()["from"] is None
