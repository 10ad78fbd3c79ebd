"""How well dateparser understands the time expressions of Arabic news questions.

For each row of the date table (tests/date_table.json, the data tests/test_newsquery.py checks
the product's parser against; read as a file, not imported; fixed now: Wednesday 2021-11-24 15:00,
Asia/Riyadh) two
uses are scored: `DateDataParser(languages=["ar"]).get_date_data(expression)` given the expression
alone, its date and period turned into a window (day, week from Saturday, month, year); and
`search_dates(question)`, which must find the expression inside the question. A row counts when
the window equals the expected one. Then the same rows through `retrieval.newsquery.parse`.

    .venv/bin/python -m benchmarks.dateparser_ar [--show]
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

DATE_TABLE = Path(__file__).resolve().parent.parent / "tests" / "date_table.json"
_table = json.loads(DATE_TABLE.read_text(encoding="utf-8"))
TZ = ZoneInfo(_table["timezone"])
NOW = datetime.fromisoformat(_table["now"]).replace(tzinfo=TZ)
ROWS: list[tuple[str, str, str, str, str]] = [tuple(row) for row in _table["rows"]]


def _window(moment: datetime, period: str) -> tuple[str, str]:
    day = moment.date()
    if period == "week":
        start = day - timedelta(days=(day.weekday() - 5) % 7)
        return start.isoformat(), min(start + timedelta(days=6), NOW.date()).isoformat()
    if period == "month":
        start = day.replace(day=1)
        end = (start + timedelta(days=32)).replace(day=1) - timedelta(days=1)
        return start.isoformat(), end.isoformat()
    if period == "year":
        return date(day.year, 1, 1).isoformat(), date(day.year, 12, 31).isoformat()
    return day.isoformat(), day.isoformat()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--show", action="store_true", help="print every row's result")
    args = p.parse_args()
    import dateparser
    from dateparser.search import search_dates

    from retrieval.newsquery import parse

    settings = {"RELATIVE_BASE": NOW.replace(tzinfo=None), "PREFER_DATES_FROM": "past", "DATE_ORDER": "DMY",
                "TIMEZONE": "Asia/Riyadh", "RETURN_AS_TIMEZONE_AWARE": False}
    ddp = dateparser.date.DateDataParser(languages=["ar"], settings=settings)
    alone = found = ours = 0
    t_dp = t_ours = 0.0
    for question, expr, first, last, _ in ROWS:
        started = time.perf_counter()
        data = ddp.get_date_data(expr)
        got_alone = _window(data.date_obj, data.period or "day") if data.date_obj else None
        hits = search_dates(question, languages=["ar"], settings=settings) or []
        got_search = [(text, _window(d, "day")) for text, d in hits]
        t_dp += time.perf_counter() - started
        started = time.perf_counter()
        filters = parse(question, NOW, TZ, []).filters
        t_ours += time.perf_counter() - started
        got_ours = filters.days() if filters.start else None
        ok_alone = got_alone == (first, last)
        ok_search = any(w == (first, last) for _, w in got_search)
        ok_ours = got_ours == (first, last)
        alone += ok_alone
        found += ok_search
        ours += ok_ours
        if args.show:
            print(f"{'✓' if ok_alone else '✗'}{'✓' if ok_search else '✗'}{'✓' if ok_ours else '✗'} {expr!r:34} "
                  f"want {first}..{last}  dateparser {got_alone}  search {got_search}  ours {got_ours}")
    n = len(ROWS)
    print(f"{n} expressions, now {NOW.isoformat()}")
    print(f"dateparser get_date_data(expression): {alone}/{n} windows right")
    print(f"dateparser search_dates(question):    {found}/{n} found with the right day")
    print(f"newsquery.parse(question):             {ours}/{n} windows right")
    print(f"time per question: dateparser {t_dp / n * 1000:.2f} ms (both calls), newsquery {t_ours / n * 1000:.3f} ms")


if __name__ == "__main__":
    main()
