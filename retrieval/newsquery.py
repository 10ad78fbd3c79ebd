"""What a news question asks about besides its words: when, which outlet, and whether newest first.

`parse(question, now, tz, outlets)` finds time expressions (اليوم، أمس، الأسبوع الماضي، منذ
ثلاثة أيام، يوم الإثنين، 22 تشرين الثاني 2021، نوفمبر 2021، عام 2021 ...), outlet mentions
(حسب الجزيرة، ماذا قالت بي بي سي، صحيفة عكاظ ...) and the newest-first frames (آخر أخبار، ما
الجديد في), removes them from the text to search and returns them as `Filters` with a one-line
explanation (`أخبار 2021/11/21`).

dateparser was measured on the expression table of tests/test_newsquery.py first
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
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo

from .analysis import analyze_query

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


# --- filters ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Filters:
    start: datetime | None = None  # inclusive, aware
    end: datetime | None = None  # exclusive, aware
    sources: tuple[str, ...] = ()  # stored source names
    newest_first: bool = False
    # How the reader named them, for the explanation (the outlet as written, the window as days).
    source_labels: tuple[str, ...] = ()

    @property
    def active(self) -> bool:
        return self.start is not None or bool(self.sources)

    def days(self) -> tuple[str, str] | None:
        """First and last day of the window (inclusive, ISO), in the window's own time zone."""
        if self.start is None or self.end is None:
            return None
        return self.start.date().isoformat(), (self.end - timedelta(microseconds=1)).date().isoformat()

    def as_json(self) -> dict:
        days = self.days()
        return {"from": days[0] if days else None, "to": days[1] if days else None,
                "sources": list(self.sources), "newest_first": self.newest_first}

    def explain(self) -> str:
        """One line: how the question was understood (`أخبار 2021/11/21`), or '' if nothing was."""
        if not self.active and not self.newest_first:
            return ""
        parts = ["أخبار"]
        if self.source_labels or self.sources:
            parts.append("، ".join(self.source_labels or self.sources))
        if days := self.days():
            first, last = (d.replace("-", "/") for d in days)
            parts.append(first if first == last else f"من {first} إلى {last}")
        if self.newest_first:
            parts.append("الأحدث أولاً")
        return " ".join(parts)


@dataclass(frozen=True)
class Parsed:
    text: str  # what is left to search
    filters: Filters
    explanation: str
    removed: tuple[str, ...] = field(default=())  # the expressions taken out, as written


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
_PATTERNS: list[tuple[re.Pattern[str], str]] = [(re.compile(p), name) for p, name in (
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


def _names_an_event(folded: str, start: int) -> bool:
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


def _resolve(name: str, m: re.Match[str], now: datetime, tz: tzinfo) -> tuple[datetime, datetime] | None:
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


# --- outlets -----------------------------------------------------------------------------

# The outlets of the shared corpus (stored as these Latin names) and what readers call them.
BUILTIN_ALIASES: dict[str, tuple[str, ...]] = {
    "bbc": ("bbc", "بي بي سي", "بي بي سي عربي", "البي بي سي", "bbc عربي", "هيئة الاذاعة البريطانية"),
    "cnn": ("cnn", "سي ان ان", "سي إن إن", "السي ان ان", "cnn بالعربية", "سي ان ان بالعربية"),
    "skynews": ("skynews", "sky news", "سكاي نيوز", "سكاي نيوز عربية", "سكاي نيوز عربيه"),
    "alarabia": ("alarabia", "alarabiya", "al arabiya", "العربية", "العربية نت", "قناة العربية"),
    "france24": ("france24", "france 24", "فرانس 24", "فرانس24", "فرانس ٢٤"),
}
# Words that may stand before an outlet's name, and make a common word an outlet (a cue).
_KIND = r"(?:ال)?(?:صحيفه|جريده|قناه|موقع|وكاله|شبكه|اذاعه|تلفزيون|مجله)"
# Reporting frames: what an outlet says, reports or is credited with.
_FRAME = (r"(?:ماذا\s+(?:قالت|قال|تقول|يقول|نشرت|نشر|ذكرت|ذكر)|(?:قالت|قال|ذكرت|ذكر|نشرت|نشر|اوردت|افادت)"
          r"|بحسب|حسب|وفق|وفقا\s+ل|وفقا\s+الي|نقلا\s+عن|عن\s+لسان|على\s+موقع|علي\s+موقع|كما\s+(?:ذكرت|قالت|نشرت)"
          r"|في\s+تقرير\s+ل|لدي|لدى|من)")
_OPTIONAL_WORDS = ("صحيفه", "جريده", "قناه", "موقع", "وكاله", "شبكه", "اذاعه", "تلفزيون", "مجله")
# Outlet names that are also common words or places: an outlet only with a cue.
_COMMON = {fold(w) for w in ("الرياض", "المدينة", "الجزيرة", "اليوم", "الوطن", "العربية", "الشرق", "الحياة",
                             "النهار", "الأهرام", "البيان", "الخليج", "الأخبار", "الشروق", "الدستور", "الصباح",
                             "الأيام", "المستقبل", "الثورة", "الاتحاد", "الرأي", "الغد", "الجمهورية", "الوسط",
                             "الأنباء", "القدس", "العرب", "المدن", "الحرة", "الميادين", "الراية", "الوطنية")}


def outlet_key(name: str) -> str:
    """A name as outlets are compared: folded, the optional kind word (صحيفة، قناة ...) dropped."""
    words = fold(clean(name)).split()
    while len(words) > 1 and words[0].removeprefix("ال") in _OPTIONAL_WORDS:
        words = words[1:]
    return " ".join(words)


@dataclass(frozen=True)
class Outlet:
    source: str  # the stored source name
    names: tuple[str, ...]  # outlet keys it is known by (its own, built-in and operator aliases)


def outlet_catalogue(sources: Iterable[str], aliases: dict[str, Sequence[str]] | None = None) -> list[Outlet]:
    """Outlets for the stored `sources`: each known by its name, built-in aliases and `aliases` (source → names)."""
    aliases = aliases or {}
    builtin = {outlet_key(n): group for group, names in BUILTIN_ALIASES.items() for n in names}
    out = []
    for source in sources:
        if not source.strip():
            continue
        names = {outlet_key(source)}
        group = builtin.get(outlet_key(source))
        if group is not None:
            names.update(outlet_key(n) for n in BUILTIN_ALIASES[group])
        names.update(outlet_key(n) for n in aliases.get(source, ()))
        out.append(Outlet(source, tuple(sorted(n for n in names if n))))
    return out


@dataclass
class _Found:
    start: int
    end: int
    kind: str  # "date", "outlet", "newest"
    value: object = None


def _find_outlets(folded: str, outlets: Sequence[Outlet], taken: list[_Found]) -> list[_Found]:
    found: list[_Found] = []
    by_name: dict[str, list[str]] = {}
    for outlet in outlets:
        for name in outlet.names:
            by_name.setdefault(name, []).append(outlet.source)
    for name in sorted(by_name, key=len, reverse=True):
        pattern = re.compile(rf"{_B}(?P<cue>(?:{_FRAME})\s+(?:{_KIND}\s+)?|{_KIND}\s+)?"
                             rf"(?:(?:و|ف)?(?:في|ب|ل|على|علي)\s*)?(?P<name>{re.escape(name)}){_E}")
        for m in pattern.finditer(folded):
            start, end = m.start(), m.end()
            if any(f.start < end and start < f.end for f in taken + found):
                continue
            ambiguous = name in _COMMON or (len(name.split()) == 1 and name.startswith("ال") and not name.isascii())
            if ambiguous and not m["cue"]:
                continue
            found.append(_Found(start, end, "outlet", (tuple(by_name[name]), name)))
    return found


_NEWEST = re.compile(rf"{_B}(?:(?:اخر|احدث)\s+(?:الاخبار|اخبار|مستجدات|المستجدات|تطورات|التطورات)(?:\s+عن)?"
                     rf"|ما\s+(?:هو\s+)?(?:الجديد|جديد)(?:\s+(?:في|عن|بشان|حول))?|(?:الاخبار|الانباء)\s+الاخيره\s+عن){_E}")
# A news question often starts with أخبار (news of): the word itself is no search term.
_NEWS_WORD = re.compile(rf"^(?:ما\s+(?:هي\s+)?)?(?:اخبار|الاخبار|خبر|ابرز\s+اخبار){_E}")


# Words of news questions that name no subject (ماذا حدث، ما الجديد، ماذا قالت): a question left
# with only these after its outlet is taken out asks about the outlet itself.
_GENERIC = ("حدث", "يحدث", "حصل", "يحصل", "جرى", "يجري", "أخبار", "الأخبار", "خبر", "جديد", "الجديد", "قال",
            "قالت", "تقول", "يقول", "ذكر", "ذكرت", "نشر", "نشرت", "آخر", "أحدث", "تطورات", "مستجدات")
_GENERIC_TERMS: set[str] | None = None


def content_terms(text: str) -> list[str]:
    """The analysed terms of `text` that name a subject (generic news-question words left out)."""
    global _GENERIC_TERMS
    if _GENERIC_TERMS is None:
        _GENERIC_TERMS = {t for w in _GENERIC for t in analyze_query(w)}
    return [t for t in analyze_query(text) if t not in _GENERIC_TERMS]


def parse(question: str, now: datetime, tz: tzinfo, outlets: Sequence[Outlet]) -> Parsed:
    """Time, outlet and newest-first expressions taken out of `question`; see the module docstring."""
    text = clean(question)
    folded = fold(text)
    found: list[_Found] = []
    window: tuple[datetime, datetime] | None = None
    for pattern, name in _PATTERNS:
        for m in pattern.finditer(folded):
            if any(f.start < m.end() and m.start() < f.end for f in found):
                continue
            if name == "day_month" and not m["y"] and _names_an_event(folded, m.start()):
                continue
            if name == "today" and re.search(rf"{_KIND}\s+$", folded[:m.start()]):
                continue  # صحيفة اليوم: the newspaper, not the day
            resolved = _resolve(name, m, now, tz)
            if resolved is None:
                continue
            if window is None:  # the first expression in pattern order wins; later ones only leave the text
                window = resolved
            found.append(_Found(m.start(), m.end(), "date", resolved))
    newest = False
    for m in _NEWEST.finditer(folded):
        if not any(f.start < m.end() and m.start() < f.end for f in found):
            found.append(_Found(m.start(), m.end(), "newest"))
            newest = True
    outlet_hits = _find_outlets(folded, outlets, found)
    sources: list[str] = []
    labels: list[str] = []
    for f in outlet_hits:
        names, _ = f.value  # type: ignore[misc]
        for s in names:
            if s not in sources:
                sources.append(s)
        labels.append(text[f.start:f.end])
    all_found = found + outlet_hits

    def remaining(spans: list[_Found]) -> str:
        keep, pos = [], 0
        for f in sorted(spans, key=lambda f: f.start):
            keep.append(text[pos:f.start])
            pos = f.end
        keep.append(text[pos:])
        rest = " ".join(" ".join(keep).split())
        if m := _NEWS_WORD.match(fold(rest)):
            rest = rest[m.end():].strip()
        return rest

    rest = remaining(all_found)
    if outlet_hits and not content_terms(rest):
        # The outlet is the subject (ماذا حدث في قناة الجزيرة؟): search for it instead of filtering by it.
        outlet_hits, sources, labels = [], [], []
        rest = remaining(found)
    filters = Filters(start=window[0] if window else None, end=window[1] if window else None,
                      sources=tuple(sources), newest_first=newest, source_labels=tuple(_outlet_label(x)
                                                                                     for x in labels))
    removed = tuple(text[f.start:f.end] for f in sorted(found + outlet_hits, key=lambda f: f.start))
    return Parsed(rest, filters, filters.explain(), removed)


def _outlet_label(written: str) -> str:
    """The outlet's name as the reader wrote it, without the frame words before it."""
    words = written.split()
    folded = [fold(w) for w in words]
    # Drop leading frame and kind words and a leading preposition.
    skip = {"ماذا", "قالت", "قال", "تقول", "يقول", "نشرت", "نشر", "ذكرت", "ذكر", "اوردت", "افادت", "بحسب",
            "حسب", "وفق", "وفقا", "نقلا", "عن", "لسان", "على", "علي", "كما", "في", "تقرير", "لدي", "لدى", "من",
            "ل", "الي"}
    i = 0
    while i < len(words) - 1 and (folded[i] in skip or folded[i].removeprefix("ال") in _OPTIONAL_WORDS):
        i += 1
    return " ".join(words[i:])
