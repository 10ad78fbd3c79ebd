"""Spelling variants of a question word that the index knows, remembered per index.

`SearchEngine.expand` looks a rare or unknown question word's one-edit
neighbours up in the vocabulary: several hundred candidate strings built and
probed per word, a few hundred microseconds each time. The answer depends only
on the word and on the index, and readers ask about the same names again and
again, so it is kept with the index (`BM25Index.derived`): a rebuilt index
starts with none.
"""

from __future__ import annotations

from .analysis import edit1_variants
from .bm25 import BM25Index

# Bounded: a stream of distinct misspellings must not grow memory without end.
CACHE_LIMIT = 1 << 16


def _empty(_: BM25Index) -> dict[str, tuple[tuple[int, str], ...]]:
    return {}


def known_variants(index: BM25Index, term: str) -> tuple[tuple[int, str], ...]:
    """(document frequency, variant) of every index term one edit away from `term`."""
    known = index.derived("known_variants", _empty)
    found = known.get(term)
    if found is None:
        vocabulary = index.vocabulary
        found = tuple((index.df(vid), v) for v in edit1_variants(term) if (vid := vocabulary.get(v)) is not None)
        if len(known) >= CACHE_LIMIT:
            known.clear()
        known[term] = found
    return found
