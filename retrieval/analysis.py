"""Arabic text analysis: a tokenizer followed by a chain of small filters.

Read it the way Lucene's analysis package reads: each filter does one job and
is tested alone (tests/test_analysis.py); `analyze` and `analyze_query` are the
chains the index and the questions go through. The same chain runs on both
sides, so a passage and a question that mean the same words meet on the same
terms.

Order matters: character normalisation runs on the whole text before
tokenizing (it is one `str.translate`, by far the cheapest way in CPython),
leaving three folds for later (taa marbuta, hamza alefs, alef maqsura) that
the term decision needs; stopwords are matched on that surface form, so a
name spelled like a folded particle survives (علي, not على); stemming
(clitics and the article, then suffixes: `retrieval.stemmer`) is last and
cached per surface token, since news vocabulary is heavily repeated.
"""

from __future__ import annotations

import re
from array import array
from collections.abc import Collection
from itertools import chain

from .normalize import (
    _TOKEN_CHAR,
    _TOKEN_RE,
    MAX_TOKEN_CHARS,
)
from .stemmer import CLITIC_EXCEPTIONS, MAX_STEM_CHARS, _term
from .stopwords import (
    _PRE_STEM_TABLE,
    QUERY_STOPWORDS,
    STOPWORDS,
)

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
# in C (the stopword and clitic sets are passed in), and a chunk with a character outside the table
# goes through `_chain` whole, so the C chain yields the Python chain's terms
# (tests/test_native_chain.py). In C a passage is analysed in a few µs; the Python chain takes
# ~45 µs (warm chunk cache; ~80 µs on a first pass), which is why both exist.
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

    return Chain(tables[0], tables[1], stopwords, CLITIC_EXCEPTIONS, fallback, MAX_TOKEN_CHARS, MAX_STEM_CHARS,
                 cache_limit)


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


def release_index_caches(keep: int = 0) -> None:
    """Give back the indexing side's cache memory (after a bulk ingest), unless it holds at most `keep` entries.

    An ingest that ends keeps a small cache (`keep`) for the next: a serving process's adds of a few
    articles each would otherwise analyse every word from scratch (23 articles: 2.7 ms cold, 1.7 ms
    after one other batch of 23 warmed it).
    """
    if _index_native is not None and _index_native.cached() > keep:
        _index_native.clear()
    if len(_index_chunks) + len(_index_chunks.token_terms) > keep:
        _index_chunks.forget()


def reference_analyze(text: str) -> list[str]:
    """The indexing chain in pure Python (the specification the C chain is tested against)."""
    return _index_chunks.analyze(text)


def reference_analyze_query(text: str) -> list[str]:
    """The question chain in pure Python."""
    return strip_frame(_query_chunks.analyze(text))


def analyze(text: str) -> list[str]:
    """The indexing chain: normalise → tokenize → stopwords → stem."""
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
    """The question chain: as `analyze`, with question words and a leading question frame dropped too."""
    if _query_native is not None:
        return strip_frame(_query_native.analyze(text))
    return strip_frame(_query_chunks.analyze(text))


# --- question frames -------------------------------------------------------------

# How people open a question about a topic. The words of a frame are not the topic, yet each
# would weigh as much as a topic word: `ماذا حدث في الانتخابات العراقية؟` would be refused while
# `الانتخابات العراقية` is answered, because no article holds حدث near the topic. A frame is
# dropped where its terms open the question's terms (so clitics and spellings do not matter; the
# question words before it are gone already, so متى قال loses قال as ماذا قال does) and something
# is left after it; the same words later in a question are kept. Frames whose terms could open a
# topic of their own are left out (ما صحة: صحة is also health). benchmarks/frames.py measures
# what frames cost.
QUESTION_FRAMES = (
    "ماذا حدث في", "ما الذي حدث في", "ماذا يحدث في", "ما قصة", "ما حكاية", "هل صحيح أن",
    "ما حقيقة", "ما الجديد بخصوص", "ما الجديد في", "ما آخر أخبار", "ما هي آخر أخبار", "آخر أخبار",
    "ما آخر التطورات في", "ما هي آخر التطورات في", "آخر تطورات", "ما آخر المستجدات في", "أخبار",
    "أريد أن أعرف عن", "أريد معلومات عن", "أعطني معلومات عن", "معلومات عن", "حدثني عن", "أخبرني عن",
    "ماذا قال", "ماذا قالت", "ماذا قالوا", "كيف رد", "كيف ردت", "ما رد", "ما هو الوضع في", "ما الوضع في",
)
_FRAME_TERMS: tuple[tuple[str, ...], ...] = ()


def strip_frame(terms: list[str]) -> list[str]:
    """`terms` without the longest question frame they open with, unless nothing would be left."""
    # Only the frames opening with the question's first term can match (a question is analysed on
    # every answer, and trying all ~30 frames, a slice and a tuple each, cost ~10 µs).
    for frame in _FRAMES_BY_FIRST.get(terms[0], ()) if terms else ():
        if len(terms) > len(frame) and tuple(terms[:len(frame)]) == frame:
            return terms[len(frame):]
    return terms


# Longest first, so ما هي آخر أخبار wins over أخبار; frames made only of question words add nothing.
_FRAME_TERMS = tuple(sorted({t for t in (tuple(_query_chunks.analyze(f)) for f in QUESTION_FRAMES) if t},
                            key=len, reverse=True))
# The same frames grouped by their first term, longest first within each group as in _FRAME_TERMS.
_FRAMES_BY_FIRST: dict[str, tuple[tuple[str, ...], ...]] = {
    first: tuple(f for f in _FRAME_TERMS if f[0] == first) for first in dict.fromkeys(f[0] for f in _FRAME_TERMS)}


def analyze_token(raw_token: str) -> str | None:
    """The indexing chain on one raw token (for highlighting matched words)."""
    terms = analyze(raw_token)
    return terms[0] if len(terms) == 1 else None


def token_matches(text: str, stop: int, terms: Collection[str]) -> list[tuple[int, int, str]] | None:
    """(start, end, term) of every raw word of text[:stop] (as `normalize.tokenize_with_spans` cuts them)
    whose `analyze_token` is in `terms`, found by the C chain in one call; None without it."""
    if _index_native is None:
        return None
    return _index_native.matches(text, stop, terms)
