"""A port of Lucene's `ArabicAnalyzer`: the baseline the project's chain is measured against.

Lucene (9.x) builds the analyzer as

    StandardTokenizer → LowerCaseFilter → DecimalDigitFilter → StopFilter
      → ArabicNormalizationFilter → ArabicStemFilter

and the order matters: the Savoy stopword list is *not* normalised, so it is
matched on the lower-cased surface token before normalisation (a token
spelled `إلى` is a stopword, `الى` is not unless the list has it too). Each
step below is one function, checked on single words in tests/test_lucene.py.

This module is for evaluation only; the bot never calls it. It deliberately
keeps Lucene's quirks (stemmer suffixes that can never match after
normalisation, no hamza-seat folding, no Persian letters) because the point
is to measure against what people actually run.
"""

from __future__ import annotations

import re
import sys
import unicodedata
from collections.abc import Iterable
from importlib import resources

# --- StandardTokenizer (UAX #29 word boundaries, the parts that matter here) -----

# Extend and Format characters (combining marks such as the harakat, ZWJ/ZWNJ,
# direction marks) never break a word in UAX #29: they stay inside the token.
_EXTEND_FORMAT = "".join(
    chr(c) for c in range(0x300, 0x10000) if unicodedata.category(chr(c)) in ("Mn", "Mc", "Me", "Cf")
    and chr(c) not in "\u00ad\u2028\u2029")


def _char_class(chars: str) -> str:
    """A regex class body covering `chars` as compact ranges."""
    codes = sorted({ord(c) for c in chars})
    parts, i = [], 0
    while i < len(codes):
        j = i
        while j + 1 < len(codes) and codes[j + 1] == codes[j] + 1:
            j += 1
        lo, hi = codes[i], codes[j]
        parts.append(f"\\u{lo:04x}" if lo == hi else f"\\u{lo:04x}-\\u{hi:04x}")
        i = j + 1
    return "".join(parts)


_MARKS = _char_class(_EXTEND_FORMAT)
_UNIT = rf"[\w{_MARKS}]"  # \w = letters, digits and '_' (ExtendNumLet joins words too)
# WB6/WB7: MidLetter, MidNumLet and the apostrophe join two letters (u.s, l'homme);
# WB11/WB12: MidNum, MidNumLet and the apostrophe join two digits (3.5, 1,000, ٣٫٥,
# 10،5 since the Arabic comma is MidNum).
_MID_LETTER = ".'\u2019\u2018:\u00b7\u2027\ufe13\ufe55\uff1a\ufe52\uff07\uff0e\u2024"
_MID_NUM = ".,'\u2019\u2018;\u060c\u060d\u066c\u037e\u0589\u07f8\u2044\ufe10\ufe14\uff0c\uff1b\ufe52\uff07\uff0e\u2024"
_STANDARD_TOKEN = re.compile(
    rf"{_UNIT}+(?:(?:(?<=[^\W\d_])[{re.escape(_MID_LETTER)}](?=[^\W\d_])"
    rf"|(?<=\d)[{re.escape(_MID_NUM)}](?=\d)){_UNIT}+)*")
MAX_TOKEN_LENGTH = 255


def standard_tokenize(text: str) -> list[str]:
    """Word tokens as Lucene's StandardTokenizer cuts Arabic and Latin text.

    Covers the UAX #29 rules that occur in Arabic news: letters and digits
    join (`A380`, `كوفيد19`), combining marks and format characters stay in
    the word, `.`/`'` join letters and `.`/`,`/`،`/`٬` join digits. Tokens
    longer than 255 characters are cut into 255-character pieces, as Lucene
    does. Not covered: ideographs, Hebrew quote rules, emoji sequences.
    """
    out = []
    for tok in _STANDARD_TOKEN.findall(text):
        if len(tok) <= MAX_TOKEN_LENGTH:
            out.append(tok)
        else:
            out.extend(tok[i:i + MAX_TOKEN_LENGTH] for i in range(0, len(tok), MAX_TOKEN_LENGTH))
    return out


# --- LowerCaseFilter, DecimalDigitFilter ----------------------------------------

def lowercase(token: str) -> str:
    return token.lower()


_DIGIT_TABLE = {c: str(unicodedata.decimal(chr(c))) for c in range(sys.maxunicode + 1)
                if unicodedata.category(chr(c)) == "Nd" and not chr(c).isascii()}


def fold_decimal_digits(token: str) -> str:
    """Every Unicode decimal digit (Nd) to its ASCII digit, as DecimalDigitFilter."""
    return token.translate(_DIGIT_TABLE)


# --- StopFilter -------------------------------------------------------------------

def load_savoy_stopwords() -> frozenset[str]:
    """The Savoy list as Lucene loads it: '#' lines are comments, entries not normalised."""
    raw = resources.files("retrieval.resources").joinpath(
        "lucene_savoy_arabic_stopwords.txt").read_text(encoding="utf-8")
    words = (line.strip() for line in raw.splitlines())
    return frozenset(w for w in words if w and not w.startswith("#"))


SAVOY_STOPWORDS = load_savoy_stopwords()


# --- ArabicNormalizer -----------------------------------------------------------------

_NORMALIZER_TABLE: dict[int, str | None] = {
    0x0622: "\u0627", 0x0623: "\u0627", 0x0625: "\u0627",  # alef madda / hamza above / below → alef
    0x0649: "\u064a",  # dotless yeh (alef maksura) → yeh
    0x0629: "\u0647",  # teh marbuta → heh
    # tatweel and the eight harakat Lucene lists; other marks (e.g. U+0670) are kept
    0x0640: None, 0x064B: None, 0x064C: None, 0x064D: None, 0x064E: None,
    0x064F: None, 0x0650: None, 0x0651: None, 0x0652: None,
}


def arabic_normalize(token: str) -> str:
    """Lucene's ArabicNormalizer on one token."""
    return token.translate(_NORMALIZER_TABLE)


# --- ArabicStemmer (light10) ------------------------------------------------------------

PREFIXES = ("\u0627\u0644", "\u0648\u0627\u0644", "\u0628\u0627\u0644", "\u0643\u0627\u0644",
            "\u0641\u0627\u0644", "\u0644\u0644", "\u0648")  # ال وال بال كال فال لل و
SUFFIXES = ("\u0647\u0627", "\u0627\u0646", "\u0627\u062a", "\u0648\u0646", "\u064a\u0646",
            "\u064a\u0647", "\u064a\u0629", "\u0647", "\u0629", "\u064a")  # ها ان ات ون ين يه ية ه ة ي


def stem_prefix(token: str) -> str:
    """Remove the first listed prefix that matches (و needs ≥ 4 letters, the rest leave ≥ 2)."""
    for prefix in PREFIXES:
        if len(prefix) == 1 and len(token) < 4:
            continue
        if len(token) < len(prefix) + 2:
            continue
        if token.startswith(prefix):
            return token[len(prefix):]
    return token


def stem_suffix(token: str) -> str:
    """Remove, in one pass over the list, every suffix that matches and leaves ≥ 2 letters."""
    for suffix in SUFFIXES:
        if len(token) >= len(suffix) + 2 and token.endswith(suffix):
            token = token[:-len(suffix)]
    return token


def arabic_stem(token: str) -> str:
    return stem_suffix(stem_prefix(token))


# --- the analyzer ---------------------------------------------------------------------------

def analyze_token(token: str, stopwords: frozenset[str] = SAVOY_STOPWORDS) -> str | None:
    """The filter chain on one tokenizer output; None when the StopFilter drops it."""
    token = fold_decimal_digits(lowercase(token))
    if token in stopwords:
        return None
    return arabic_stem(arabic_normalize(token)) or None


class LuceneArabicAnalyzer:
    """`ArabicAnalyzer()` with its defaults; caches the chain per surface token."""

    def __init__(self, stopwords: Iterable[str] = SAVOY_STOPWORDS) -> None:
        self.stopwords = frozenset(stopwords)
        self._cache: dict[str, str | None] = {}

    def __call__(self, text: str) -> list[str]:
        cache = self._cache
        out = []
        for tok in standard_tokenize(text):
            try:
                term = cache[tok]
            except KeyError:
                if len(cache) > 1 << 21:
                    cache.clear()
                term = cache[tok] = analyze_token(tok, self.stopwords)
            if term is not None:
                out.append(term)
        return out


def analyze(text: str) -> list[str]:
    """Terms of `text` through Lucene's ArabicAnalyzer (same chain for documents and queries)."""
    return _DEFAULT(text)


_DEFAULT = LuceneArabicAnalyzer()
