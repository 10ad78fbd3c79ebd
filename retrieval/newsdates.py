"""Time expressions in a news question, as windows of whole days: the dates half of `retrieval.newsquery`.

dateparser was measured on the expression table of tests/date_table.py first
(benchmarks/dateparser_ar.py): given the expression alone it gave the right window for 15 of 40,
and `search_dates` found it inside the question for 10 of 40 (it misses البارحة، أول أمس، هذا
العام، منذ أسبوعين، خلال الأيام الماضية، the Levantine and Maghrebi month names, and returns
points, not windows, for منذ N أيام or هذا الشهر). Finding the expression in the question is
the hard part, and once found its window is a few lines of date arithmetic, so the rules here do
both; the library is not a dependency.

Windows are whole days in the reader's time zone (`NEWSBOT_TIMEZONE`), end exclusive, except
`خلال الساعات الماضية` (the last 24 hours, or N hours). A week starts on Saturday, as Arab
calendars print it.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta, tzinfo

# --- normalisation ---------------------------------------------------------------------

_DIACRITICS = re.compile("[\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed\u0640]")
# One character for one: spans found in the folded text are spans of the question.
_FOLD = str.maketrans("أإآٱىة٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹", "اااايه01234567890123456789")


def clean(text: str) -> str:
    """The question without diacritics and tatweel, whitespace collapsed (what spans refer to)."""
    return " ".join(_DIACRITICS.sub("", text).split())


def fold(text: str) -> str:
    """Alef and hamza seats, alef maqsura, taa marbuta and digits folded, Latin lower-cased: same length."""
    return text.translate(_FOLD).lower()


# --- time expressions -----------------------------------------------------------------

MONTHS: dict[str, int] = {}
for _number, _names in enumerate((
        ("يناير", "كانون الثاني", "جانفي"), ("فبراير", "شباط", "فيفري"), ("مارس", "اذار", "آذار"),
        ("ابريل", "أبريل", "إبريل", "نيسان", "افريل", "أفريل"), ("مايو", "أيار", "ايار", "ماي"),
        ("يونيو", "يونيه", "حزيران", "جوان"), ("يوليو", "يوليه", "تموز", "جويلية"),
        ("اغسطس", "أغسطس", "آب", "اب", "أوت", "اوت"), ("سبتمبر", "أيلول", "ايلول"),
        ("اكتوبر", "أكتوبر", "تشرين الأول", "تشرين الاول"), ("نوفمبر", "تشرين الثاني"),
        ("ديسمبر", "كانون الأول", "كانون الاول")), start=1):
    for _name in _names:
        MONTHS[fold(_name)] = _number
# Longest first, so تشرين الثاني is tried before a shorter name could match part of it.
_MONTH = "|".join(sorted((re.escape(m) for m in MONTHS), key=len, reverse=True))

# Python weekday numbers (Monday = 0).
WEEKDAYS = {fold(k): v for k, v in {"الاثنين": 0, "الإثنين": 0, "الثلاثاء": 1, "الأربعاء": 2, "الاربعاء": 2,
                                     "الخميس": 3, "الجمعة": 4, "السبت": 5, "الأحد": 6, "الاحد": 6}.items()}
_WEEKDAY = "|".join(sorted((re.escape(w) for w in WEEKDAYS), key=len, reverse=True))

_SMALL = {"واحد": 1, "واحده": 1, "اثنين": 2, "اثنان": 2, "ثلاث": 3, "ثلاثه": 3, "اربع": 4, "اربعه": 4,
          "خمس": 5, "خمسه": 5, "ست": 6, "سته": 6, "سبع": 7, "سبعه": 7, "ثماني": 8, "ثمانيه": 8, "ثمان": 8,
          "تسع": 9, "تسعه": 9, "عشر": 10, "عشره": 10}
_NUMBER_WORD = "|".join(sorted(_SMALL, key=len, reverse=True))
# Dual forms carry their number: يومين = two days.
_DUAL = {"يومين": ("day", 2), "يومان": ("day", 2), "اسبوعين": ("week", 2), "اسبوعان": ("week", 2),
         "شهرين": ("month", 2), "شهران": ("month", 2), "ساعتين": ("hour", 2), "عامين": ("year", 2),
         "سنتين": ("year", 2)}
_UNITS = {"يوم": "day", "ايام": "day", "اسبوع": "week", "اسابيع": "week", "شهر": "month", "اشهر": "month",
          "شهور": "month", "ساعه": "hour", "ساعات": "hour", "عام": "year", "اعوام": "year", "سنه": "year",
          "سنوات": "year"}
_UNIT = "|".join(sorted(_UNITS, key=len, reverse=True))
_PAST = r"(?:الماضي|الماضيه|الفائت|الفائته|المنصرم|المنصرمه|السابق|السابقه|الاخير|الاخيره)"
_B = r"(?<![\w])"  # word start (Arabic letters are \w)
_E = r"(?![\w])"
_PREP = r"(?:(?:في|خلال|منذ|يوم|ليوم|بتاريخ|تاريخ)\s+)?"  # a leading preposition goes with the date

# Each pattern: (compiled regex on the folded question, handler name). Tried in order; a span
# taken by one is not reused.
DATE_PATTERNS: list[tuple[re.Pattern[str], str]] = [(re.compile(p), name) for p, name in (
    (rf"{_B}{_PREP}(?P<y>\d{{4}})[/.-](?P<m>\d{{1,2}})[/.-](?P<d>\d{{1,2}}){_E}", "ymd"),
    (rf"{_B}{_PREP}(?P<d>\d{{1,2}})[/.-](?P<m>\d{{1,2}})[/.-](?P<y>\d{{4}}){_E}", "ymd"),
    (rf"{_B}{_PREP}(?P<d>\d{{1,2}})\s*(?:من\s+)?(?:شهر\s+)?(?P<month>{_MONTH})(?:\s*(?:عام|سنه)?\s*(?P<y>\d{{4}}))?{_E}",
     "day_month"),
    (rf"{_B}{_PREP}(?:شهر\s+)?(?P<month>{_MONTH})\s*(?:من\s+)?(?:عام|سنه)?\s*(?P<y>\d{{4}}){_E}", "month_year"),
    (rf"{_B}(?:في|خلال|عام|سنه|في\s+عام|في\s+سنه|خلال\s+عام|خلال\s+سنه)\s+(?P<y>(?:19|20)\d{{2}}){_E}", "year"),
    (rf"{_B}(?:(?:في|خلال|منذ)\s+)?(?:اول|قبل)\s+(?:امس|البارحه){_E}", "day_before_yesterday"),
    (rf"{_B}(?:(?:في|خلال|يوم)\s+)?(?:امس|البارحه|ليله\s+امس){_E}", "yesterday"),
    (rf"{_B}(?:(?:في|خلال)\s+)?(?:الساعات|ساعات)\s+(?:ال)?(?:{_NUMBER_WORD}\s+)?{_PAST}{_E}", "last_hours"),
    (rf"{_B}(?:(?:في|خلال)\s+)?(?:ال|الـ\s*)?(?P<n>\d{{1,3}})\s*(?:ساعه|ساعات)\s+{_PAST}{_E}", "last_n_hours"),
    (rf"{_B}(?:(?:في|خلال)\s+)?(?:ال)?(?:ايام|الايام)\s+(?:ال(?P<w>{_NUMBER_WORD})\s+)?{_PAST}{_E}", "last_days"),
    (rf"{_B}(?:(?:في|خلال)\s+)?(?:ال|الـ\s*)?(?P<n>\d{{1,3}})\s*(?:يوما|يوم|ايام)\s+{_PAST}{_E}", "last_n_days"),
    (rf"{_B}(?:(?:في|خلال)\s+)?(?P<this>هذا|هذه)\s+(?P<unit>الاسبوع|الشهر|العام|السنه){_E}", "this_period"),
    (rf"{_B}(?:(?:في|خلال)\s+)?(?P<unit>الاسبوع|الشهر|العام|السنه)\s+(?:الحالي|الحاليه|الجاري|الجاريه){_E}",
     "this_period"),
    (rf"{_B}(?:(?:في|خلال)\s+)?(?P<unit>الاسبوع|الشهر|العام|السنه)\s+{_PAST}{_E}", "last_period"),
    (rf"{_B}(?:(?:في|خلال)\s+)?(?:منذ|قبل)\s+(?:(?P<n>\d{{1,3}})|(?P<w>{_NUMBER_WORD}))\s*(?P<unit>{_UNIT}){_E}",
     "ago"),
    (rf"{_B}(?:(?:في|خلال)\s+)?(?:منذ|قبل)\s+(?P<dual>{'|'.join(_DUAL)}){_E}", "ago_dual"),
    (rf"{_B}(?:(?:في|خلال)\s+)?(?:منذ|قبل)\s+(?P<unit>يوم|اسبوع|شهر|ساعه|عام|سنه){_E}", "ago_one"),
    (rf"{_B}(?:(?:في|خلال)\s+)?(?:اليوم|هذا\s+اليوم){_E}", "today"),
    (rf"{_B}(?:في\s+)?(?:يوم|ليوم)\s+(?P<wd>{_WEEKDAY})(?:\s+{_PAST})?{_E}", "weekday"),
    (rf"{_B}(?:في\s+|يوم\s+)?(?P<wd>{_WEEKDAY})\s+{_PAST}{_E}", "weekday"),
)]


# A day and month after these words name an event (ثورة 25 يناير، أحداث 11 سبتمبر), not a date.
_EVENT_WORDS = {fold(w) for w in ("ثورة", "حركة", "أحداث", "هجمات", "انتفاضة", "ذكرى", "مظاهرات", "تظاهرات",
                                  "اعتداءات", "حرب", "هجوم", "تفجيرات", "انقلاب", "شارع", "ميدان", "جسر")}


def names_an_event(folded: str, start: int) -> bool:
    before = folded[:start].split()
    return bool(before) and before[-1].removeprefix("و") in _EVENT_WORDS | {w.removeprefix("ال") for w in _EVENT_WORDS}


def _day_start(day: date, tz: tzinfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=tz)


def _window(first: date, last: date, tz: tzinfo) -> tuple[datetime, datetime]:
    return _day_start(first, tz), _day_start(last + timedelta(days=1), tz)


def _month_end(year: int, month: int) -> date:
    return (date(year, month, 28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)


def _months_back(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 - months
    year, month = divmod(index, 12)
    return date(year, month + 1, min(day.day, _month_end(year, month + 1).day))


def _count(m: re.Match[str]) -> int:
    if m.groupdict().get("n"):
        return int(m["n"])
    return _SMALL.get(m.groupdict().get("w") or "", 0)


def resolve(name: str, m: re.Match[str], now: datetime, tz: tzinfo) -> tuple[datetime, datetime] | None:
    today = now.astimezone(tz).date()
    if name == "ymd":
        try:
            day = date(int(m["y"]), int(m["m"]), int(m["d"]))
        except ValueError:
            return None
        return _window(day, day, tz)
    if name == "day_month":
        month = MONTHS[m["month"]]
        try:
            if m["y"]:
                day = date(int(m["y"]), month, int(m["d"]))
            else:  # no year: the most recent such day
                day = date(today.year, month, int(m["d"]))
                if day > today:
                    day = date(today.year - 1, month, int(m["d"]))
        except ValueError:
            return None
        return _window(day, day, tz)
    if name == "month_year":
        year, month = int(m["y"]), MONTHS[m["month"]]
        return _window(date(year, month, 1), _month_end(year, month), tz)
    if name == "year":
        year = int(m["y"])
        return _window(date(year, 1, 1), date(year, 12, 31), tz)
    if name == "today":
        return _window(today, today, tz)
    if name == "yesterday":
        day = today - timedelta(days=1)
        return _window(day, day, tz)
    if name == "day_before_yesterday":
        day = today - timedelta(days=2)
        return _window(day, day, tz)
    if name == "last_hours":
        hours = _SMALL.get(m.group(0).split()[-2].removeprefix("ال"), 24) if len(m.group(0).split()) > 2 else 24
        return now - timedelta(hours=hours), now + timedelta(seconds=1)
    if name == "last_n_hours":
        return now - timedelta(hours=max(int(m["n"]), 1)), now + timedelta(seconds=1)
    if name == "last_days":
        days = _SMALL.get(m["w"] or "", 7)
        return _window(today - timedelta(days=days), today, tz)
    if name == "last_n_days":
        return _window(today - timedelta(days=max(int(m["n"]), 1)), today, tz)
    week_start = today - timedelta(days=(today.weekday() - 5) % 7)  # Saturday
    if name == "this_period":
        unit = m["unit"]
        first = {"الاسبوع": week_start, "الشهر": today.replace(day=1)}.get(unit, date(today.year, 1, 1))
        return _window(first, today, tz)
    if name == "last_period":
        unit = m["unit"]
        if unit == "الاسبوع":
            return _window(week_start - timedelta(days=7), week_start - timedelta(days=1), tz)
        if unit == "الشهر":
            last = today.replace(day=1) - timedelta(days=1)
            return _window(last.replace(day=1), last, tz)
        return _window(date(today.year - 1, 1, 1), date(today.year - 1, 12, 31), tz)
    if name in ("ago", "ago_dual", "ago_one"):
        if name == "ago_dual":
            unit, n = _DUAL[m["dual"]]
        elif name == "ago_one":
            unit, n = _UNITS[m["unit"]], 1
        else:
            unit, n = _UNITS[m["unit"]], _count(m)
        if n <= 0 or n > 400:
            return None
        if unit == "hour":
            return now - timedelta(hours=n), now + timedelta(seconds=1)
        first = {"day": lambda: today - timedelta(days=n), "week": lambda: today - timedelta(weeks=n),
                 "month": lambda: _months_back(today, n),
                 "year": lambda: _months_back(today, 12 * n)}[unit]()
        return _window(first, today, tz)
    if name == "weekday":
        day = today - timedelta(days=(today.weekday() - WEEKDAYS[m["wd"]]) % 7)
        if day == today and re.search(_PAST, m.group(0)):
            day -= timedelta(days=7)  # الخميس الماضي said on a Thursday: a week ago
        return _window(day, day, tz)
    raise AssertionError(f"no rule for {name}")
