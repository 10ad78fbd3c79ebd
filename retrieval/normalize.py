"""Character normalisation and tokenizing: the first two stages of the analysis chain.

Each filter is one job, tested alone (tests/test_analysis.py); `normalize` fuses them into one
`str.translate` table, by far the cheapest way in CPython. `retrieval.analysis` builds the chain on these.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from pyarabic import araby

# --- character filters ------------------------------------------------------

# Harakat (fathatan .. sukun), superscript alef, Quranic marks: pyarabic's
# TASHKEEL covers the common ones; the extra ranges catch Quranic annotation
# signs that appear in religious quotes inside news text.
_DIACRITICS = set(araby.TASHKEEL) | {araby.SHADDA, "\u0670"}
_DIACRITICS |= {chr(c) for c in range(0x0610, 0x061B)}
_DIACRITICS |= {chr(c) for c in range(0x06D6, 0x06EE)} - {"\u06E5", "\u06E6"}
_DIACRITICS |= {chr(c) for c in range(0x08D3, 0x0900)}

# Invisible formatting characters: they split or join words without being
# letters (ZWNJ/ZWJ, direction marks, BOM, soft hyphen).
_INVISIBLE = {"\u200b", "\u200c", "\u200d", "\u200e", "\u200f", "\u061c",
              "\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066",
              "\u2067", "\u2068", "\u2069", "\ufeff", "\u00ad"}


def _deletions(chars: Iterable[str]) -> dict[int, None]:
    return {ord(c): None for c in chars}


def strip_diacritics(text: str) -> str:
    """Remove tashkeel (harakat, shadda, tanwin, sukun, dagger alef)."""
    return text.translate(_DIACRITICS_TABLE)


def strip_tatweel(text: str) -> str:
    """Remove the kashida used to stretch words (كتـــاب → كتاب)."""
    return text.replace(araby.TATWEEL, "")


_LIGATURES = {
    "\ufefb": "لا", "\ufefc": "لا",  # lam-alef isolated/final
    "\ufef5": "لآ", "\ufef6": "لآ",
    "\ufef7": "لأ", "\ufef8": "لأ",
    "\ufef9": "لإ", "\ufefa": "لإ",
}


def split_ligatures(text: str) -> str:
    """Expand presentation-form lam-alef ligatures into their two letters."""
    return text.translate(_LIGATURES_TABLE)


# Alef with hamza above/below, madda and wasla all become bare alef; these are
# the spellings writers (and keyboards) use interchangeably.
_ALEF_VARIANTS = {"أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا", "ٲ": "ا", "ٳ": "ا"}
# Alef maqsura and Farsi yeh fold to yeh; taa marbuta to heh (as Lucene's
# ArabicNormalizer): final ى/ي and ة/ه are confused constantly in news copy.
_YEH_HEH = {"ى": "ي", "ی": "ي", "ې": "ي", "ة": "ه", "ۀ": "ه", "ھ": "ه"}
# Hamza seated on waw/yeh is written both ways (مسؤول/مسئول/مسوول); seat-less
# forms keep the letter so مسؤول and مسوول still meet.
_HAMZA_SEATS = {"ؤ": "و", "ئ": "ي"}
# Persian/Urdu letters that appear in transliterated names.
_PERSIAN = {"ک": "ك", "گ": "ك", "ڤ": "ف", "پ": "ب", "چ": "ج", "ژ": "ز"}


def normalize_alef(text: str) -> str:
    """Fold hamza/madda/wasla alef forms to bare alef (أحمد → احمد)."""
    return text.translate(_ALEF_TABLE)


def normalize_yeh_heh(text: str) -> str:
    """Fold alef maqsura to yeh and taa marbuta to heh (مستشفى/مدينة)."""
    return text.translate(_YEH_HEH_TABLE)


def normalize_hamza_seats(text: str) -> str:
    """Drop the hamza from its waw/yeh seat (مسؤول → مسوول)."""
    return text.translate(_HAMZA_TABLE)


_ARABIC_INDIC = "٠١٢٣٤٥٦٧٨٩"
_PERSIAN_DIGITS = "۰۱۲۳۴۵۶۷۸۹"


def fold_digits(text: str) -> str:
    """Arabic-Indic and Persian digits to ASCII, so ٢٥٨٥ finds 2585."""
    return text.translate(_DIGITS_TABLE)


def lowercase_latin(text: str) -> str:
    """Lower-case Latin letters (Arabic has no case; str.lower is a no-op there)."""
    return text.lower()


def _table(*mappings: dict[str, str]) -> dict[int, str | None]:
    table: dict[int, str | None] = {}
    for mapping in mappings:
        table.update({ord(k): v for k, v in mapping.items()})
    return table


_DIACRITICS_TABLE = _deletions(_DIACRITICS)
_LIGATURES_TABLE = _table(_LIGATURES)
_ALEF_TABLE = _table(_ALEF_VARIANTS)
_YEH_HEH_TABLE = _table(_YEH_HEH)
_HAMZA_TABLE = _table(_HAMZA_SEATS)
_DIGITS_TABLE = _table(
    {d: str(i) for i, d in enumerate(_ARABIC_INDIC)},
    {d: str(i) for i, d in enumerate(_PERSIAN_DIGITS)},
)

# All character filters above fused into one translate table: composition of
# single-character maps, applied in the order the functions are listed in
# `normalize`. Tested against the composed functions in the test suite.
_NORMALIZE_TABLE: dict[int, str | None] = {}
for _m in (_deletions(_DIACRITICS | _INVISIBLE | {araby.TATWEEL}), _LIGATURES_TABLE,
           _ALEF_TABLE, _YEH_HEH_TABLE, _HAMZA_TABLE, _table(_PERSIAN), _DIGITS_TABLE):
    for _k, _v in _m.items():
        _NORMALIZE_TABLE.setdefault(_k, _v)


def normalize(text: str) -> str:
    """All character filters in one pass: the normaliser of the chain."""
    return text.translate(_NORMALIZE_TABLE).lower()


# --- tokenizer ---------------------------------------------------------------

# A token is a run of letters and digits (\w minus underscore). Apostrophes and
# hyphens split, which is what Arabic news needs (كيم يونغ-تشول). Runs longer
# than MAX_TOKEN_CHARS are cut into pieces (as Lucene's maxTokenLength does):
# no word is that long, and the stemmer's cost grows faster than linearly with
# a token's length, so a megabyte "word" in hostile input would stall ingest.
MAX_TOKEN_CHARS = 64
_TOKEN_CHAR = r"[^\W_]"
_TOKEN_RE = re.compile(rf"{_TOKEN_CHAR}{{1,{MAX_TOKEN_CHARS}}}")


def tokenize(text: str) -> list[str]:
    """Split normalised text into letter/digit runs."""
    return _TOKEN_RE.findall(text)


def tokenize_with_spans(text: str) -> Iterator[tuple[str, int, int]]:
    """Tokens of the *original* text with their character spans.

    Normalisation can delete characters (diacritics, tatweel), so spans are
    taken on the raw text and each token is normalised on its own; letters
    joined only by a deleted mark still form one token because the pattern
    below treats marks as word characters.
    """
    for match in _RAW_RUN_RE.finditer(text):
        word = match.group()
        if "_" not in word:
            yield word, match.start(), match.end()
            continue
        start = match.start()
        for part in word.split("_"):
            if part:
                yield part, start, start + len(part)
            start += len(part) + 1


# Raw text: letters, digits, combining marks and tatweel/ZWJ/ZWNJ inside words.
# One character class (which must include the underscore of \w, split off
# above) scans about twice as fast as an alternation per character, and this
# runs over every word of every passage shown.
_RAW_RUN_RE = re.compile(r"[\w\u0610-\u061A\u064B-\u065F\u0670\u06D6-\u06ED\u0640\u200c\u200d]+")
