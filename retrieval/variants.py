"""Spelling variants of a question word that the index knows, remembered per index.

`SearchEngine.expand` looks a rare or unknown question word's one-edit
neighbours up in the vocabulary: several hundred candidate strings built and
probed per word, a few hundred microseconds each time. The answer depends only
on the word and on the index, and readers ask about the same names again and
again, so it is kept with the index (`BM25Index.derived`): a rebuilt index
starts with none.
"""

from __future__ import annotations

import logging
import os

from .bm25 import BM25Index
from .rerank import one_edit_apart

# retrieval/_edits.c: the candidates probed in C (several times faster than the set built in Python).
try:
    from . import _edits as _native_edits
except ImportError as exc:  # built without a C compiler: correct, only slower
    logging.getLogger(__name__).warning("native spelling variants unavailable (%s): Python version used", exc)
    _native_edits = None

# NEWSBOT_PYTHON_EDITS=1 uses the Python version although the C one is built (A/B measurements).
USE_NATIVE_EDITS: bool = _native_edits is not None and os.environ.get("NEWSBOT_PYTHON_EDITS") != "1"

_ARABIC_LETTERS = "ابتثجحخدذرزسشصضطظعغفقكلمنهويء"


def _one_edit_of_py(term: str, variants: list[str]) -> list[str]:
    return [v for v in variants if one_edit_apart(term, v)]


# The variants one edit from a question word, checked in one C call (retrieval/_edits.c; a Python frame
# a pair cost ~0.5 µs, a few dozen pairs a question); `rerank.one_edit_apart` is the specification.
one_edit_of = _native_edits.one_edit_of if USE_NATIVE_EDITS else _one_edit_of_py


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


# Bounded: a stream of distinct misspellings must not grow memory without end.
CACHE_LIMIT = 1 << 16


def _empty(_: BM25Index) -> dict[str, tuple[tuple[int, str], ...]]:
    return {}


def _key_filter(index: BM25Index) -> tuple[dict[str, int], object]:
    """The id dict of `index` and a `KeyFilter` of it (retrieval/_edits.c)."""
    return index.vocabulary, _native_edits.KeyFilter(index.vocabulary)  # type: ignore[union-attr]


def known_variants(index: BM25Index, term: str) -> tuple[tuple[int, str], ...]:
    """(document frequency, variant) of every index term one edit away from `term`."""
    known = index.derived("known_variants", _empty)
    found = known.get(term)
    if found is None:
        vocabulary = index.vocabulary
        # The candidates are first probed in C against a plain dict holding every term the vocabulary
        # may know (a live index's views share its id dict; a few of its terms are not live): the
        # vocabulary's own check, a Python method on a live index, then runs on the few found
        # (~0.2 ms less for each new rare word at 100k).
        views = getattr(index, "views", None)
        owner = views[0] if views else index
        ids = owner.vocabulary
        if USE_NATIVE_EDITS and type(ids) is dict:
            # A Bloom filter over the id dict skips most candidates before they are built and probed
            # (~0.15 ms less a new rare word at 100k); kept with the index that owns the dict, and it
            # follows the terms segments add to it (only ever appended to: segment.Vocabulary).
            followed, keys = owner.derived("variant_key_filter", _key_filter)
            if followed is not ids:  # the owner's dict was replaced: a filter of the new one
                followed, keys = owner.keep("variant_key_filter", _key_filter(owner))
            present = _native_edits.known(term, ids, _ARABIC_LETTERS, keys)
        else:
            present = filter(ids.__contains__, edit1_variants(term))
        found = tuple((index.df(vid), v) for v in present if (vid := vocabulary.get(v)) is not None)
        if len(known) >= CACHE_LIMIT:
            known.clear()
        known[term] = found
    return found
