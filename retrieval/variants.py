"""Spelling variants of a question word that the index knows, remembered per index.

`SearchEngine.expand` looks a rare or unknown question word's one-edit
neighbours up in the vocabulary: several hundred candidate strings built and
probed per word, a few hundred microseconds each time. The answer depends only
on the word and on the index, and readers ask about the same names again and
again, so it is kept until the index is replaced.
"""

from __future__ import annotations

import weakref

from .analysis import edit1_variants
from .bm25 import BM25Index

# Bounded: a stream of distinct misspellings must not grow memory without end.
CACHE_LIMIT = 1 << 16

_index_ref: weakref.ref[BM25Index] | None = None
_known: dict[str, tuple[tuple[int, str], ...]] = {}


def known_variants(index: BM25Index, term: str) -> tuple[tuple[int, str], ...]:
    """(document frequency, variant) of every index term one edit away from `term`."""
    global _index_ref, _known
    if _index_ref is None or _index_ref() is not index:
        # A new index (a rebuild swapped it in): what the old one knew no longer holds.
        _index_ref, _known = weakref.ref(index), {}
    found = _known.get(term)
    if found is None:
        vocabulary = index.vocabulary
        found = tuple((index.df(vid), v) for v in edit1_variants(term) if (vid := vocabulary.get(v)) is not None)
        if len(_known) >= CACHE_LIMIT:
            _known.clear()
        _known[term] = found
    return found
