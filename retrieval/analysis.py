"""Arabic text analysis: a tokenizer followed by a chain of small filters.

Read it the way Lucene's analysis package reads: each filter does one job and
is tested alone (tests/test_analysis.py); `analyze` and `analyze_query` are the
chains the index and the questions go through. The same chain runs on both
sides, so a passage and a question that mean the same words meet on the same
terms.

Order matters: character normalisation runs on the whole text before
tokenizing (it is one `str.translate`, by far the cheapest way in CPython);
stopwords are matched after normalisation against a normalised list; stemming
is last and cached per surface token, since news vocabulary is heavily
repeated.
"""

from __future__ import annotations

import ctypes
import re
import threading
from array import array
from collections.abc import Callable, Iterable, Iterator
from importlib import resources
from itertools import chain

import Stemmer
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


# --- stopwords -----------------------------------------------------------------

def _load_stopwords() -> frozenset[str]:
    raw = resources.files("retrieval.resources").joinpath(
        "lucene_savoy_arabic_stopwords.txt").read_text(encoding="utf-8")
    words = [line.strip() for line in raw.splitlines()]
    return frozenset(normalize(w) for w in words if w and not w.startswith("#"))


LUCENE_STOPWORDS: frozenset[str] = _load_stopwords()

# Words that ask rather than tell, plus request verbs and fillers people type
# into a search box. They carry no topic, so they are dropped from questions
# only: in a passage, "من" or "كم" may be part of what is said.
QUESTION_WORDS: frozenset[str] = frozenset(normalize(w) for w in """
ما ماذا من متى أين اين كيف لماذا لم هل كم أي اي ايش شو وين ليش إيه
وما وماذا ومن ومتى وأين وكيف ولماذا وهل وكم فما فمن فهل أما بماذا لماذا
عن عما ممن ماهو ماهي ما هو هي هو هم هن
أريد اريد أعرف اعرف أخبرني اخبرني اعطني أعطني ابحث أبحث قل لي
""".split())

STOPWORDS: frozenset[str] = LUCENE_STOPWORDS
QUERY_STOPWORDS: frozenset[str] = LUCENE_STOPWORDS | QUESTION_WORDS


def remove_stopwords(tokens: Iterable[str], stopwords: frozenset[str] = STOPWORDS) -> list[str]:
    """Drop normalised tokens found in `stopwords`."""
    return [t for t in tokens if t not in stopwords]


# --- stemming --------------------------------------------------------------------

# Light stemming after Larkey et al. ("light10"), the stemmer Lucene's
# ArabicStemmer implements. Operates on normalised tokens (alef/heh folded).
_PREFIXES = ("ال", "وال", "بال", "كال", "فال", "لل", "و")
_SUFFIXES = ("ها", "ان", "ات", "ون", "ين", "يه", "يه", "ه", "ه", "ي")


def light_stem(token: str) -> str:
    """Strip one article/conjunction prefix and stacked plural/pronoun suffixes.

    Faithful to light10 as Lucene implements it: prefixes are tried in order
    and only the first match is removed (و only from words of ≥ 4 letters, the
    others only when ≥ 2 letters remain); then every suffix, in order, is
    removed once if ≥ 2 letters remain. Digits and Latin words pass through.
    """
    if not token or not ("\u0621" <= token[0] <= "\u064a"):
        return token
    for prefix in _PREFIXES:
        if token.startswith(prefix):
            if prefix == "و":
                if len(token) >= 4:
                    token = token[1:]
            elif len(token) - len(prefix) >= 2:
                token = token[len(prefix):]
            else:
                continue
            break
    for suffix in _SUFFIXES:
        if token.endswith(suffix) and len(token) - len(suffix) >= 2:
            token = token[: -len(suffix)]
    return token


# --- chains --------------------------------------------------------------------------

# Two caches stand in front of the chain, one pair per side (index, query).
# News vocabulary is Zipfian, so after a few thousand passages nearly every
# lookup is a hit: a whitespace-delimited chunk (بالرياض،) → its terms, and a
# token → its term for the chunks not seen yet. Chunking at whitespace gives
# the same terms as running the chain on the whole text, because no character
# filter turns whitespace into a letter or a letter into whitespace, and a
# token never spans whitespace (tests/test_analysis.py checks it). A cache is
# cleared when it grows past its bound, so memory stays flat on huge ingests
# (~200 bytes an entry: the index side may reach ~200 MB during a bulk
# ingest, which is why the engine empties it when an ingest ends).
_TOKEN_CACHE_LIMIT = 1 << 20
_CHUNK_CACHE_LIMIT = 1 << 20  # a year of news has ~350k distinct chunks: fits
_QUERY_CHUNK_CACHE_LIMIT = 1 << 16
# Longer chunks are rare (URLs, hostile input) and not worth keeping.
_MAX_CACHED_CHUNK = 48


_snowball = threading.local()  # PyStemmer objects must not be shared between threads


# The Snowball stemmer takes time quadratic in the token's length (a 1 MB
# "word" in an uploaded file took minutes); no word is this long, so longer
# tokens pass through unstemmed.
MAX_STEM_CHARS = 64


def snowball_stem(token: str) -> str:
    """Snowball's Arabic stemmer (PyStemmer) on a token that still has its taa marbuta.

    Measured better than light10 on both news and Wikipedia questions
    (docs/retrieval-quality.md): besides light10's articles and plural
    endings it strips attached pronouns (خطفهم → خطف, حكومته → حكوم) and verb
    affixes (يكتبون → يكتب), and it leaves names ending in -ان alone (ايران
    and الايراني both give ايران; light10 cuts ايران to اير). Taa marbuta
    marks the feminine ending it removes, so it is folded to heh only after
    stemming. Digits and Latin words pass through.
    """
    if not token or not ("\u0621" <= token[0] <= "\u064a") or len(token) > MAX_STEM_CHARS:
        return token
    stem_word = getattr(_snowball, "stem_word", None)
    if stem_word is None:
        stem_word = _snowball.stem_word = new_stemmer()
    return stem_word(token).replace("ة", "ه")


# Hamza-seated and madda alef: folded to bare alef by `normalize`, but kept
# until the conjunction check below has seen them.
_HAMZA_ALEFS = "أإآ"
# Folds what the chain's normaliser left for later (taa marbuta, hamza alefs).
_POST_TABLE = _table({"ة": "ه"}, {a: "ا" for a in _HAMZA_ALEFS})
# A word of at least this many letters starting with و/ف + ال is read as the
# conjunction on a definite noun (والحكومة); shorter ones are often words of
# their own (والد, والي, فالح).
CONJUNCTION_ARTICLE_MIN_CHARS = 6


def strip_conjunction(token: str) -> str:
    """Remove the conjunction و/ف where Snowball cannot tell it from a root letter.

    Snowball strips a leading و/ف only when no alef follows, since وافق or
    واشنطن begin with a root و; so it leaves و+ال (والحكومة, by far the most
    frequent case) and و+hamza (وأمطار, once the hamza is folded) whole:
    each a second, rarer term for the same word (والحكوم beside حكوم), which
    a question or headline using the bare form never meets. A hamza after
    و/ف always starts a new word (no Arabic root has و then hamza-alef as its
    first letters in common use), and ال after it is the article in all but
    short words.
    """
    if len(token) > 3 and token[0] in "وف":
        if token[1] in _HAMZA_ALEFS or (token.startswith("ال", 1) and len(token) >= CONJUNCTION_ARTICLE_MIN_CHARS):
            return token[1:]
    return token


def _term(token: str, stopwords: frozenset[str]) -> str | None:
    if token.translate(_POST_TABLE) in stopwords:
        return None
    bare = strip_conjunction(token)
    if bare is not token and bare.translate(_POST_TABLE) in stopwords:
        return None
    return snowball_stem(bare.translate(_ALEF_TABLE)) or None


def new_stemmer() -> Callable[[str], str]:
    """A Snowball stem callable of its own (PyStemmer's objects must not be shared between threads).

    PyStemmer's own cache is off (maxCacheSize 0): the chains cache terms in front of it, and with
    ~190k distinct tokens in 100k passages its purges cost more than the stemming. `snowball_stem`
    keeps one per thread, and so does the C chain when it cannot call libstemmer directly; the C
    chain computes the rest of `_term` itself (stopwords, `strip_conjunction`, the alef and taa
    marbuta folds, the pass-through of non-Arabic and overlong tokens) and stems only a new token
    that reaches Snowball.
    """
    return Stemmer.Stemmer("arabic", 0).stemWord


# libstemmer's C API (libstemmer.h), in the order `_chain.Chain` takes it.
SNOWBALL_C_FUNCTIONS = ("sb_stemmer_new", "sb_stemmer_delete", "sb_stemmer_stem", "sb_stemmer_length")


def snowball_c_api() -> tuple[int, ...] | None:
    """The addresses of libstemmer's C functions in PyStemmer's extension module, or None.

    PyStemmer links libstemmer into that module and exports its API; `stemWord`
    is a thin wrapper over it (UTF-8 in, `sb_stemmer_stem`, UTF-8 out). The C
    chain calls the same functions for a new token, without a Python call and
    two str objects per token: the same stems from the same code, ~190,000
    times per 100k passages ingested. None (the chain then calls `new_stemmer`'s
    callables) if this PyStemmer build does not export them.
    """
    try:
        module = ctypes.CDLL(Stemmer.__file__)  # already loaded: dlopen hands back the same library
        addresses = tuple(ctypes.cast(getattr(module, name), ctypes.c_void_p).value for name in SNOWBALL_C_FUNCTIONS)
    except (OSError, AttributeError):
        return None
    return addresses if all(addresses) else None


# What retrieval/_chain.c spells out as letters (`post_fold`, `alef_fold`, the conjunction test):
# a change to either table or to `strip_conjunction` must change it too (tests/test_native_chain.py
# compares `Chain.term` with `_term` on generated tokens).
assert _POST_TABLE == {ord(k): v for k, v in {"ة": "ه", "أ": "ا", "إ": "ا", "آ": "ا"}.items()}
assert _ALEF_TABLE == {ord(k): "ا" for k in "أإآٱٲٳ"}
assert _HAMZA_ALEFS == "أإآ" and CONJUNCTION_ARTICLE_MIN_CHARS == 6


# The chain's normaliser: everything `normalize` does except folding taa
# marbuta, which the stemmer needs to see (see `snowball_stem`), and the
# hamza alefs, which tell the conjunction و from a root و (`strip_conjunction`).
_PRE_STEM_TABLE = {k: v for k, v in _NORMALIZE_TABLE.items() if chr(k) not in "ة" + _HAMZA_ALEFS}


def _chain(text: str, token_terms: dict[str, str | None], stopwords: frozenset[str]) -> list[str]:
    """normalise → tokenize → stopwords → stem, with a token → term cache."""
    out = []
    for tok in _TOKEN_RE.findall(text.translate(_PRE_STEM_TABLE).lower()):
        try:
            term = token_terms[tok]
        except KeyError:
            if len(token_terms) >= _TOKEN_CACHE_LIMIT:
                token_terms.clear()
            term = token_terms[tok] = _term(tok, stopwords)
        if term is not None:
            out.append(term)
    return out


class _ChunkTerms(dict[str, tuple[str, ...]]):
    """Chunk → its terms, running the chain only on a chunk not seen before.

    A dict subclass so that the hit path is `map(dict.__getitem__, chunks)`,
    a loop in C: that is what takes ingest from the cost of the chain per
    word to the cost of one lookup per word.
    """

    def __init__(self, stopwords: frozenset[str], limit: int) -> None:
        super().__init__()
        self.stopwords = stopwords
        self.limit = limit
        self.token_terms: dict[str, str | None] = {}

    def __missing__(self, chunk: str) -> tuple[str, ...]:
        terms = tuple(_chain(chunk, self.token_terms, self.stopwords))
        if len(chunk) <= _MAX_CACHED_CHUNK:
            if len(self) >= self.limit:
                self.clear()
            self[chunk] = terms
        return terms

    def analyze(self, text: str) -> list[str]:
        return list(chain.from_iterable(map(self.__getitem__, text.split())))

    def forget(self) -> None:
        self.clear()
        self.token_terms.clear()


_index_chunks = _ChunkTerms(STOPWORDS, _CHUNK_CACHE_LIMIT)
_query_chunks = _ChunkTerms(QUERY_STOPWORDS, _QUERY_CHUNK_CACHE_LIMIT)


# --- the same chain in C ---------------------------------------------------------------

# `retrieval/_chain.c` runs the chain above (normalise → tokenize → token → term cache) per
# character in C; the Python chain stays the specification. Its tables come from the
# definitions above, character by character: what the normaliser makes of each BMP character
# (`translate` then `lower`, both per character except for the capital sigma's context-
# dependent lower case, which like surrogates is left to the Python chain), and which
# normalised characters the tokenizer's class accepts. A new token's term is `_term`'s, computed
# in C but for the Snowball call (`new_stemmer`), and a chunk with a character outside the table
# goes through `_chain` whole, so the C chain yields the Python chain's terms
# (tests/test_native_chain.py). The C loop takes analysis from ~45 µs
# a passage (warm chunk cache; ~80 µs on a first pass) to a few µs.
_BMP = 0x10000


def native_tables() -> tuple[list[str | None], bytes]:
    """Per BMP character: the pre-stem normaliser's output (None: not per-character), and token-character flags."""
    # Built in bulk (~10 ms at import rather than 100+ for 65,536 small calls): all characters
    # but the surrogates, NUL-separated (NUL is neither changed nor produced by lower()), are
    # lower-cased in one call; the few the translate table maps are then done one by one.
    codes = array("I", chain(range(1, 0xD800), range(0xE000, _BMP)))
    spaced = array("I", bytes(8 * len(codes)))
    spaced[1::2] = codes
    pieces = spaced.tobytes().decode("utf-32-le")[1:].lower().split("\x00")
    if len(pieces) != len(codes):
        raise RuntimeError("lower() changed the character count of the native table")
    mapped: list[str | None] = ["\x00", *pieces[:0xD800 - 1], *([None] * 0x800), *pieces[0xD800 - 1:]]
    for code, out in _PRE_STEM_TABLE.items():
        if code < _BMP and not 0xD800 <= code < 0xE000:
            mapped[code] = (out or "").lower()
    # Σ's lower case depends on its neighbours: left to the Python chain, with whatever becomes a Σ.
    mapped[0x03A3] = None
    for code, out in _PRE_STEM_TABLE.items():
        if out and "\u03a3" in out:
            mapped[code] = None
    flags = bytearray(_BMP)
    runs = re.compile(f"{_TOKEN_CHAR}+")
    for first, last in ((0, 0xD800), (0xE000, _BMP)):
        block = array("I", range(first, last)).tobytes().decode("utf-32-le")
        for match in runs.finditer(block):
            flags[first + match.start():first + match.end()] = b"\x01" * (match.end() - match.start())
    return mapped, bytes(flags)


def _native_chain(stopwords: frozenset[str], cache_limit: int, tables: tuple[list[str | None], bytes]) -> object:
    from ._chain import Chain

    token_terms: dict[str, str | None] = {}  # the fallback's own cache, for the rare unsafe chunk

    def fallback(chunk: str) -> list[str]:
        if len(token_terms) >= _TOKEN_CACHE_LIMIT:
            token_terms.clear()
        return _chain(chunk, token_terms, stopwords)

    return Chain(tables[0], tables[1], stopwords, new_stemmer, fallback, MAX_TOKEN_CHARS, MAX_STEM_CHARS, cache_limit,
                 snowball=snowball_c_api())


try:
    _tables = native_tables()
    _index_native = _native_chain(STOPWORDS, _TOKEN_CACHE_LIMIT, _tables)
    _query_native = _native_chain(QUERY_STOPWORDS, _QUERY_CHUNK_CACHE_LIMIT, _tables)
    del _tables
except ImportError as exc:  # built without a C compiler: correct, only slower
    import logging

    logging.getLogger(__name__).warning(
        "native analysis chain unavailable (%s): using the pure-Python chain, ingest is several times slower", exc)
    _index_native = _query_native = None

NATIVE_CHAIN: bool = _index_native is not None
# Whether the C chain stems through libstemmer's C API rather than a Python call per new token.
NATIVE_SNOWBALL: bool = _index_native is not None and _index_native.calls_libstemmer()


def release_index_caches() -> None:
    """Give back the indexing side's cache memory (after a bulk ingest)."""
    _index_chunks.forget()
    if _index_native is not None:
        _index_native.clear()


def reference_analyze(text: str) -> list[str]:
    """The indexing chain in pure Python (the specification the C chain is tested against)."""
    return _index_chunks.analyze(text)


def reference_analyze_query(text: str) -> list[str]:
    """The question chain in pure Python."""
    return _query_chunks.analyze(text)


def analyze(text: str) -> list[str]:
    """The indexing chain: normalise → tokenize → stopwords → Snowball stem."""
    if _index_native is not None:
        return _index_native.analyze(text)
    return _index_chunks.analyze(text)


def analyze_joined(text: str) -> str:
    """`" ".join(analyze(text))`, without the list in between (the form passages store)."""
    if _index_native is not None:
        return _index_native.analyze_joined(text)
    return " ".join(_index_chunks.analyze(text))


def passage_terms_utf8(text: str, start: int, stop: int, suffix: bytes = b"") -> bytes:
    """The UTF-8 of `analyze_joined(text[start:stop])`, then a space and `suffix` if both are non-empty.

    What a passage stores as its terms (`suffix`: its article's title terms, joined and encoded
    once per article), made by the C chain as bytes straight from its cache: no slice of the body,
    no str of the terms to build and for SQLite to encode again (`store.write_articles` binds them
    as UTF-8 text).
    """
    if _index_native is not None:
        return _index_native.analyze_utf8(text, start, stop, suffix)
    terms = " ".join(_index_chunks.analyze(text[start:stop])).encode()
    return terms + b" " + suffix if terms and suffix else terms or suffix


def analyze_query(text: str) -> list[str]:
    """The question chain: as `analyze`, with question words dropped too."""
    if _query_native is not None:
        return _query_native.analyze(text)
    return _query_chunks.analyze(text)


def analyze_token(raw_token: str) -> str | None:
    """The indexing chain on one raw token (for highlighting matched words)."""
    terms = analyze(raw_token)
    return terms[0] if len(terms) == 1 else None


# --- spelling variants ---------------------------------------------------------

_ARABIC_LETTERS = "ابتثجحخدذرزسشصضطظعغفقكلمنهويء"


def edit1_variants(term: str) -> set[str]:
    """All Arabic-letter strings one edit (insert/delete/substitute/swap) away.

    Used to match transliterated names spelled several ways (لافرينتييف /
    لافرنتييف) by looking each candidate up in the index vocabulary: a few
    hundred dict probes instead of an edit-distance scan over the vocabulary.
    """
    out: set[str] = set()
    n = len(term)
    for i in range(n + 1):
        left, right = term[:i], term[i:]
        if right:
            out.add(left + right[1:])
            if len(right) > 1:
                out.add(left + right[1] + right[0] + right[2:])
        for ch in _ARABIC_LETTERS:
            out.add(left + ch + right)
            if right:
                out.add(left + ch + right[1:])
    out.discard(term)
    return out
