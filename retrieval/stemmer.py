"""The chain's stemmer: clitics and the article, then suffixes, each stage on its own.

What a reader treats as one word must give one term, whatever is attached in front: the stem of
ال+X, و+X, بال+X, لل+X is the stem of X, because the suffix stage never looks at what the
prefix stage removed (a stemmer that chooses its suffix rules by whether the article is there,
as Snowball does, gives قوات → قوا but القوات → القو, انتخابات → انتخابا but الانتخابات →
انتخاب). The hard part is a word-initial و ف ب ك ل, which is a clitic in وقوات or بقوة and a
root letter in وزارة, فريق, بيان, لجنة, بكين: no rule on the letters can tell, so a
default (`clitic_default`) is corrected by `CLITIC_EXCEPTIONS`, words of a news corpus whose
evidence says otherwise (`benchmarks/lab/clitic_lexicon.py` builds it, docs/retrieval-quality.md
explains the evidence). Measured by `benchmarks/conflation.py` against the Lucene port and Snowball.

`_term` is the last filter of the analysis chain (`retrieval.analysis`): a token as the
normaliser leaves it → its term, or None for a stopword.
"""

from __future__ import annotations

from importlib import resources

from .normalize import _ALEF_VARIANTS, _table
from .stopwords import _HAMZA_ALEFS, _STOP_TABLE


def _load_clitic_exceptions() -> frozenset[str]:
    raw = resources.files("retrieval.resources").joinpath("clitic_exceptions.txt").read_text(encoding="utf-8")
    return frozenset(w for w in (line.strip() for line in raw.splitlines()) if w and not w.startswith("#"))


# Tokens (as the pre-stem normaliser leaves them) whose first letter و ف ب ك ل is decided against
# `clitic_default`: a و/ف that belongs to the word (وزارة, فريق) or a ب/ك/ل that is a clitic
# (بقوة, لقوات, كمدرب).
CLITIC_EXCEPTIONS: frozenset[str] = _load_clitic_exceptions()
CONJUNCTIONS = "وف"
PREPOSITIONS = "بكل"


def clitic_default(token: str) -> bool:
    """Whether the first letter of a token of ≥ 4 letters starting with و ف ب ك ل is read as a clitic, without evidence.

    و/ف (the conjunctions, by far the most frequent clitics) are, unless an alef follows: وافق,
    واشنطن, واضح begin with a root و. A hamza alef after them always starts a new word (وأكد), and
    so does the article in a word long enough to hold it and a stem (والحكومة, not والد or والي).
    ب/ك/ل are not: a word met for the first time is more likely a name (بريطانيا, لندن, كوريا)
    than a rare word with a preposition, and a missed clitic costs one rare form's conflation
    where a wrong one merges two words.
    """
    if token[0] not in CONJUNCTIONS:
        return False
    second = token[1]
    if second in _HAMZA_ALEFS:
        return True
    if second == "ا":
        return token[2] == "ل" and len(token) >= CONJUNCTION_ARTICLE_MIN_CHARS
    return True


# A word of at least this many letters starting with و/ف + ال is read as the conjunction on a
# definite noun (والحكومة); shorter ones are often words of their own (والد, والي, فالح).
CONJUNCTION_ARTICLE_MIN_CHARS = 6


def is_clitic(token: str) -> bool:
    """Whether the first letter of `token` (≥ 4 letters, starting with و ف ب ك ل) is a clitic."""
    return clitic_default(token) != (token in CLITIC_EXCEPTIONS)


def strip_prefixes(token: str) -> str:
    """Remove a conjunction (و ف), a preposition (ب ك ل) and the article, in that order, each at most once.

    Each leaves a stem of at least 3 letters (2 after a lone article would turn الآن, الله into
    particles). لل is ل + ال (للحكومة); ب/ك/ل + ال needs no evidence (بالقوة), a lone ب/ك/ل or
    و/ف is decided by `is_clitic`. Works on pre-stem tokens (hamza alefs still on their alef).
    """
    if len(token) >= 4 and token[0] in CONJUNCTIONS and is_clitic(token):
        token = token[1:]
    if len(token) >= 5 and token.startswith("لل"):
        return token[2:]
    if len(token) >= 6 and token[0] in PREPOSITIONS and token.startswith("ال", 1):
        return token[3:]
    if len(token) >= 4 and token[0] in PREPOSITIONS and is_clitic(token):
        token = token[1:]
    if len(token) >= 5 and token.startswith("ال"):
        token = token[2:]
    return token


# Attached pronouns, longest first. Not ك (your: rare in news, and the last root letter of تحرك,
# انتهاك, ملك) nor ي (my: taken as the nisba ending below).
PRONOUN_SUFFIXES = ("كما", "هما", "هم", "هن", "ها", "كم", "نا", "ه")
# Sound plurals and the plural verb ending. Not ان (dual): ايران, لبنان, سودان, انسان end so.
PLURAL_SUFFIXES = ("ات", "ون", "ين", "وا")
# Every suffix leaves at least this many letters.
MIN_STEM_CHARS = 3


def strip_suffixes(stem: str) -> str:
    """Remove a pronoun, a plural, taa marbuta, a final ه and the nisba ي, in that order, each at most once.

    A feminine noun spells its taa marbuta ت before a pronoun (حكومة → حكومته), so a ت left
    bare by a pronoun goes too (but not the ت of ات: حكوماتها → حكومات → حكوم). A final ه goes
    whether it is a pronoun or a root letter, after the plural and taa marbuta are gone, so that
    all forms of a word ending in ه meet: اتجاه / اتجاهات / اتجاهه → اتجا, مواجهة /
    مواجهات / مواجهته → مواج. Works on alef-folded stems that still have their taa marbuta.
    """
    for suffix in PRONOUN_SUFFIXES:
        if stem.endswith(suffix) and len(stem) - len(suffix) >= MIN_STEM_CHARS:
            stem = stem[:-len(suffix)]
            if stem.endswith("ت") and not stem.endswith("ات") and len(stem) > MIN_STEM_CHARS:
                stem = stem[:-1]
            break
    for suffix in PLURAL_SUFFIXES:
        if stem.endswith(suffix) and len(stem) - len(suffix) >= MIN_STEM_CHARS:
            stem = stem[:-len(suffix)]
            break
    if stem.endswith("ة") and len(stem) > 2:
        stem = stem[:-1]
    if stem.endswith("ه") and len(stem) > MIN_STEM_CHARS:
        stem = stem[:-1]
    if stem.endswith("ي") and len(stem) > MIN_STEM_CHARS:
        stem = stem[:-1]
    return stem


# Tokens longer than this pass through unstemmed: no word is this long, and the C chain keeps its
# stack buffers bounded by it.
MAX_STEM_CHARS = 64
# What the suffix stage sees: every alef form folded, alef maqsura to yeh (مستشفى / مستشفيات).
_STEM_TABLE = _table(_ALEF_VARIANTS, {"ى": "ي"})


def stem(token: str) -> str:
    """The stem of a pre-stem token: `strip_prefixes`, the alef folds, `strip_suffixes`, then ة → ه.

    Digits, Latin words and overlong tokens are only folded.
    """
    if not token or not ("\u0621" <= token[0] <= "\u064a") or len(token) > MAX_STEM_CHARS:
        return token.translate(_STEM_TABLE).replace("ة", "ه")
    return strip_suffixes(strip_prefixes(token).translate(_STEM_TABLE)).replace("ة", "ه")


def _term(token: str, stopwords: frozenset[str]) -> str | None:
    """A pre-stem token's term: None for a stopword, with or without its clitics; else its `stem`."""
    if token.translate(_STOP_TABLE) in stopwords:
        return None
    if token and "\u0621" <= token[0] <= "\u064a" and len(token) <= MAX_STEM_CHARS:
        bare = strip_prefixes(token)
        if bare is not token and bare.translate(_STOP_TABLE) in stopwords:
            return None
        token = strip_suffixes(bare.translate(_STEM_TABLE))
    else:
        token = token.translate(_STEM_TABLE)
    return token.replace("ة", "ه") or None


# What retrieval/_chain.c spells out as letters (`stop_fold`, `stem_fold`, the clitic and suffix
# rules): a change to a table or rule here must change it too (tests/test_native_chain.py compares
# `Chain.term` with `_term` on generated tokens and on the conflation families).
assert _STOP_TABLE == {ord(k): v for k, v in {"ة": "ه", "أ": "ا", "إ": "ا", "آ": "ا"}.items()}
assert _STEM_TABLE == {ord(k): v for k, v in {"أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا", "ٲ": "ا", "ٳ": "ا",
                                               "ى": "ي"}.items()}
assert _HAMZA_ALEFS == "أإآ" and CONJUNCTION_ARTICLE_MIN_CHARS == 6 and MIN_STEM_CHARS == 3
assert PRONOUN_SUFFIXES == ("كما", "هما", "هم", "هن", "ها", "كم", "نا", "ه")
assert PLURAL_SUFFIXES == ("ات", "ون", "ين", "وا")
