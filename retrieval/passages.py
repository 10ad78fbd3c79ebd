"""Splitting an article body into passages sized for answering.

Paragraphs are the natural unit of a news article, but their length varies
from a one-line quote to a wall of text: short neighbours are merged and long
ones split at sentence ends, so that a passage is a self-contained excerpt of
a few sentences. Every passage keeps its character span in the body so the
full article can be shown around it.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

try:
    from ._scan import passage_spans as _native_passage_spans
except ImportError as exc:  # built without a C compiler: the same spans, only slower
    logging.getLogger(__name__).warning("native passage splitting unavailable (%s): using the Python scan", exc)
    _native_passage_spans = None

NATIVE_SPANS: bool = _native_passage_spans is not None

# Sizes in characters. Defaults chosen by the measurements recorded in
# docs/retrieval-quality.md.
DEFAULT_TARGET_CHARS = 500
DEFAULT_MAX_CHARS = 800

# Sentence ends: Latin and Arabic full stops, question and exclamation marks,
# the Arabic semicolon and ellipsis, each followed by space (and any closing
# quote or bracket that belongs to the sentence).
# The lookbehind starts a match only at the first mark of a run: a run not followed by a space
# fails from each of its marks alike, and trying them all cost n²/2 steps on a hostile
# paragraph of n dots (80,000 dots: two minutes). A match never starts inside a run anyway (the
# search resumes after a space), so the spans are the same.
_SENTENCE_END = re.compile(r"(?<![.!?؟؛…])[.!?؟؛…]+[\"'»”)\]]*\s+")
_CLAUSE_END = re.compile(r"[،,:;]\s+")


@dataclass(frozen=True, slots=True)
class Passage:
    ord: int
    start: int
    end: int
    text: str


# A paragraph: from the first to the last non-space character of a line. The
# same spans as stripping each `[^\n]+` run with str.isspace (`\s` is that
# very test), found by one regex scan instead of a Python loop per line.
_PARAGRAPH_SPAN = re.compile(r"\S(?:[^\n]*\S)?")


def paragraph_spans(body: str) -> list[tuple[int, int]]:
    """Spans of paragraphs: runs of non-empty lines separated by blank lines.

    Single newlines also separate paragraphs when lines look like whole
    paragraphs (the news corpus puts one paragraph per line).
    """
    return [m.span() for m in _PARAGRAPH_SPAN.finditer(body)]


def _split_at(body: str, start: int, end: int, pattern: re.Pattern[str], max_chars: int) -> list[tuple[int, int]]:
    """Cut [start, end) into pieces of at most max_chars at `pattern` matches."""
    cuts = [m.end() + start for m in pattern.finditer(body[start:end])]
    pieces: list[tuple[int, int]] = []
    piece_start = start
    last_cut = None
    for cut in cuts:
        if cut - piece_start > max_chars and last_cut is not None and last_cut > piece_start:
            pieces.append((piece_start, last_cut))
            piece_start = last_cut
        last_cut = cut
    pieces.append((piece_start, end))
    return pieces


def _split_long(body: str, start: int, end: int, max_chars: int) -> list[tuple[int, int]]:
    """Sentence ends first, then clause commas, then spaces as a last resort."""
    out: list[tuple[int, int]] = []
    for s, e in _split_at(body, start, end, _SENTENCE_END, max_chars):
        if e - s <= max_chars:
            out.append((s, e))
            continue
        for s2, e2 in _split_at(body, s, e, _CLAUSE_END, max_chars):
            out.extend(_split_at(body, s2, e2, re.compile(r"\s+"), max_chars) if e2 - s2 > max_chars else [(s2, e2)])
    return [(s, _rstrip(body, s, e)) for s, e in out if _rstrip(body, s, e) > s]


def _rstrip(body: str, start: int, end: int) -> int:
    while end > start and body[end - 1].isspace():
        end -= 1
    return end


def passage_spans(body: str, *, target_chars: int = DEFAULT_TARGET_CHARS,
                  max_chars: int = DEFAULT_MAX_CHARS) -> list[tuple[int, int]]:
    """The (start, end) spans of `split_passages`, without building `Passage` objects.

    Computed by `retrieval/_scan.c` when it is built (~4x faster; splitting was ~8%
    of ingest's CPU), else by `reference_passage_spans`, its specification.
    """
    if _native_passage_spans is not None:
        return _native_passage_spans(body, target_chars, max_chars)
    return reference_passage_spans(body, target_chars=target_chars, max_chars=max_chars)


def reference_passage_spans(body: str, *, target_chars: int = DEFAULT_TARGET_CHARS,
                            max_chars: int = DEFAULT_MAX_CHARS) -> list[tuple[int, int]]:
    """`passage_spans` in Python: the specification the C scan is tested against."""
    merged: list[tuple[int, int]] = []
    quarter = target_chars // 4
    for start, end in paragraph_spans(body):
        pieces = _split_long(body, start, end, max_chars) if end - start > max_chars else ((start, end),)
        for start, end in pieces:
            if merged:
                first, last = merged[-1]
                if end - first <= target_chars or (last - first < quarter and end - first <= max_chars):
                    merged[-1] = (first, end)
                    continue
            merged.append((start, end))
    return merged


def split_passages(body: str, *, target_chars: int = DEFAULT_TARGET_CHARS,
                   max_chars: int = DEFAULT_MAX_CHARS) -> list[Passage]:
    """Passages of `body`: paragraphs merged up to `target_chars`, split above `max_chars`."""
    spans = passage_spans(body, target_chars=target_chars, max_chars=max_chars)
    return [Passage(ord=i, start=s, end=e, text=body[s:e]) for i, (s, e) in enumerate(spans)]
