"""Excerpts: the stretch of a passage that best shows why it matched.

The window is placed over the densest run of matched words (distinct query
terms count more than repeats), cut at word boundaries, and returned with the
character spans of the matched words so a front end can highlight them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection
from dataclasses import dataclass

from .analysis import analyze_token, token_matches
from .normalize import tokenize_with_spans

DEFAULT_EXCERPT_CHARS = 300
ELLIPSIS = "…"
# A passage is a few hundred characters, but text without whitespace cannot be cut and stays one
# passage however long (a garbage or hostile upload: a million characters). Its excerpt is chosen
# among the matches of its first EXCERPT_SCAN_CHARS characters: tokenizing the whole of such a
# passage took ~0.2 s of every question it answered, on the event loop that answers everyone.
EXCERPT_SCAN_CHARS = 20_000


@dataclass(frozen=True, slots=True)
class Excerpt:
    text: str
    highlights: tuple[tuple[int, int], ...]  # spans in `text` of matched words


# Placing the excerpt (the window, word bounds, spans) in C: ~20 us a passage in Python, three
# passages an answer. `_place` below is its specification and the fallback without a compiler.
try:
    from . import _excerpt as _native_excerpt
except ImportError as exc:  # built without a C compiler: correct, only slower
    logging.getLogger(__name__).warning("native excerpt placement unavailable (%s): using the Python version", exc)
    _native_excerpt = None

# Raw token (as written in a passage, diacritics and all) → its term, or None.
# Highlighting ran the whole analysis chain on every word of every shown
# passage (half the cost of a search at 100,000 passages); news vocabulary is
# Zipfian, so nearly every word is a dict hit after a few hundred questions.
# Cleared when it grows past a bound, so memory stays flat.
_TERM_OF_RAW: dict[str, str | None] = {}
_TERM_OF_RAW_LIMIT = 1 << 18
_MISSING = object()


def cached_term(raw_token: str) -> str | None:
    """`analyze_token(raw_token)`, remembered."""
    term = _TERM_OF_RAW.get(raw_token, _MISSING)
    if term is _MISSING:
        if len(_TERM_OF_RAW) >= _TERM_OF_RAW_LIMIT:
            _TERM_OF_RAW.clear()
        term = _TERM_OF_RAW[raw_token] = analyze_token(raw_token)
    return term  # type: ignore[return-value]


def matched_words(text: str, terms: Collection[str],
                  term_of: Callable[[str], str | None] = cached_term) -> list[tuple[int, int, str]]:
    """(start, end, term) of every word in `text` whose analysed form is in `terms`."""
    if term_of is cached_term:
        # The C chain tokenizes and analyses the whole passage in one call (the loop below cost
        # ~0.1 ms a passage, a third of an answer); it is the same chain analyze_token runs.
        found = token_matches(text, len(text), terms)
        if found is not None:
            return found
    out = []
    for word, start, end in tokenize_with_spans(text):
        term = term_of(word)
        if term is not None and term in terms:
            out.append((start, end, term))
    return out


def make_excerpt(text: str, terms: Collection[str], max_chars: int = DEFAULT_EXCERPT_CHARS) -> Excerpt:
    """At most `max_chars` (plus ellipses) of `text`, centred on the matches (of its first
    EXCERPT_SCAN_CHARS characters)."""
    return Excerpt(*excerpt_parts(text, terms, max_chars))


def excerpt_parts(text: str, terms: Collection[str], max_chars: int = DEFAULT_EXCERPT_CHARS,
                  ) -> tuple[str, tuple[tuple[int, int], ...]]:
    """`make_excerpt`'s text and highlights, without the object: an answer makes three, after ranking has
    left its caches cold, where each Python layer and object costs ~1-2 us."""
    if len(text) <= EXCERPT_SCAN_CHARS:
        matches = token_matches(text, len(text), terms)  # matched_words' C path, called directly
        if matches is None:
            matches = matched_words(text, terms)
    else:  # a word cut by the limit may read as another: its match is dropped
        matches = [m for m in matched_words(text[:EXCERPT_SCAN_CHARS], terms) if m[1] < EXCERPT_SCAN_CHARS]
    if _native_excerpt is not None:
        return _native_excerpt.place(text, matches, max_chars)
    placed = _place(text, matches, max_chars)
    return placed.text, placed.highlights


def _place(text: str, matches: list[tuple[int, int, str]], max_chars: int) -> Excerpt:
    """The excerpt of `text` around its `matches` (start, end, term; in text order): the
    specification of retrieval/_excerpt.c's `place`, and its fallback."""
    if len(text) <= max_chars:
        return Excerpt(text, tuple((s, e) for s, e, _ in matches))

    # Best window: the run of matches fitting in max_chars with the most
    # distinct terms, then the most matches.
    best = (0, 0, 0, 0)  # distinct, count, first index, last index
    j = 0
    for i in range(len(matches)):
        j = max(j, i)
        while j + 1 < len(matches) and matches[j + 1][1] - matches[i][0] <= max_chars:
            j += 1
        window = matches[i:j + 1]
        key = (len({m[2] for m in window}), len(window), i, j)
        if key[:2] > best[:2]:
            best = key
    if matches:
        first, last = matches[best[2]], matches[best[3]]
        used = last[1] - first[0]
        start = max(0, first[0] - (max_chars - used) // 2)
    else:
        start = 0
    end = min(len(text), start + max_chars)
    start = max(0, end - max_chars)
    start, end = _word_bounds(text, start, end)

    prefix = ELLIPSIS if start > 0 else ""
    suffix = ELLIPSIS if end < len(text) else ""
    body = text[start:end].strip()
    shift = len(prefix) - start - (len(text[start:end]) - len(text[start:end].lstrip()))
    spans = tuple((s + shift, e + shift) for s, e, _ in matches if s >= start and e <= end)
    return Excerpt(prefix + body + suffix, spans)


def _word_bounds(text: str, start: int, end: int) -> tuple[int, int]:
    """Move the cut points inward so no word is cut in half."""
    if start > 0 and not text[start - 1].isspace():
        nxt = text.find(" ", start)
        if nxt != -1 and nxt < end:
            start = nxt + 1
    if end < len(text) and not text[end].isspace():
        prev = text.rfind(" ", start, end)
        if prev > start:
            end = prev
    return start, end
