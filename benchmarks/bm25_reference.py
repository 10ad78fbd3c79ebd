"""Plain BM25 entry points over `retrieval.bm25` that the product does not use: the top k by query terms.

Tests check the index against rank-bm25 through these, and benchmarks time and evaluate them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from retrieval import topk
from retrieval.bm25 import BM25Index


def query_weights(index: BM25Index, terms: Iterable[str]) -> dict[int, float]:
    """Term id → count in the query (rank-bm25 scores a repeated term twice)."""
    weights: dict[int, float] = {}
    for term in terms:
        tid = index.vocabulary.get(term)
        if tid is not None:
            weights[tid] = weights.get(tid, 0.0) + 1.0
    return weights


def top_k(index: BM25Index, weights: dict[int, float], k: int) -> tuple[np.ndarray, np.ndarray]:
    """Exact top k as (passage numbers, scores), best first, ties by passage number.

    The same passages and order as `rank(*score(...), k)`, touching fewer
    postings (MaxScore, vectorised): see `retrieval.topk.top`.
    """
    return topk.top(index, weights, k, None)


def top_passages(index: BM25Index, terms: Sequence[str], k: int = 10) -> list[tuple[int, float]]:
    """Plain BM25 top k as (passage number, score): what rank-bm25 would rank."""
    cand, scores = top_k(index, query_weights(index, terms), k)
    return [(int(p), float(s)) for p, s in zip(cand, scores, strict=True)]
