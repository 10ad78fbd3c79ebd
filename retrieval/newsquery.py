"""What a news question asks about besides its words: when, which outlet, and whether newest first.

`parse(question, now, tz, outlets)` finds time expressions (اليوم، أمس، الأسبوع الماضي، منذ
ثلاثة أيام، يوم الإثنين، 22 تشرين الثاني 2021، نوفمبر 2021، عام 2021 ...: `retrieval.newsdates`),
outlet mentions (حسب الجزيرة، ماذا قالت بي بي سي، صحيفة عكاظ ...) and the newest-first frames (آخر
أخبار، ما الجديد في), removes them from the text to search and returns them as `Filters` with a
one-line explanation (`أخبار 2021/11/21`).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo

from .analysis import analyze_query
from .newsdates import _B, _E, DATE_PATTERNS, clean, fold, names_an_event, resolve

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


@functools.lru_cache(maxsize=16)
def _outlet_patterns(outlets: tuple[Outlet, ...]) -> tuple[tuple[str, tuple[str, ...], re.Pattern[str]], ...]:
    """Each outlet name, longest first, with the sources it names and its pattern: built once per catalogue."""
    by_name: dict[str, list[str]] = {}
    for outlet in outlets:
        for name in outlet.names:
            by_name.setdefault(name, []).append(outlet.source)
    return tuple((name, tuple(by_name[name]),
                  re.compile(rf"{_B}(?P<cue>(?:{_FRAME})\s+(?:{_KIND}\s+)?|{_KIND}\s+)?"
                             rf"(?:(?:و|ف)?(?:في|ب|ل|على|علي)\s*)?(?P<name>{re.escape(name)}){_E}"))
                 for name in sorted(by_name, key=len, reverse=True))


def _find_outlets(folded: str, outlets: Sequence[Outlet], taken: list[_Found]) -> list[_Found]:
    found: list[_Found] = []
    for name, sources, pattern in _outlet_patterns(tuple(outlets)):
        if name not in folded:  # the pattern holds the name verbatim: most names are not in a question
            continue
        for m in pattern.finditer(folded):
            start, end = m.start(), m.end()
            if any(f.start < end and start < f.end for f in taken + found):
                continue
            ambiguous = name in _COMMON or (len(name.split()) == 1 and name.startswith("ال") and not name.isascii())
            if ambiguous and not m["cue"]:
                continue
            found.append(_Found(start, end, "outlet", (sources, name)))
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
    for pattern, name in DATE_PATTERNS:
        for m in pattern.finditer(folded):
            if any(f.start < m.end() and m.start() < f.end for f in found):
                continue
            if name == "day_month" and not m["y"] and names_an_event(folded, m.start()):
                continue
            if name == "today" and re.search(rf"{_KIND}\s+$", folded[:m.start()]):
                continue  # صحيفة اليوم: the newspaper, not the day
            resolved = resolve(name, m, now, tz)
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
