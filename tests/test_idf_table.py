"""`segments.idf_and_df` (small df values read from a table in C) against `segments.live_idf`: bit for bit."""

from __future__ import annotations

import numpy as np
import pytest

from retrieval import bm25, segments


def bits(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a, dtype=np.float64).view(np.uint64)


@pytest.mark.parametrize("variant", ["okapi", "l", "plus"])
@pytest.mark.parametrize("seed", range(6))
def test_the_table_gives_live_idf_bit_for_bit(variant: str, seed: int) -> None:
    rng = np.random.default_rng(seed)
    size = int(rng.integers(1, 40_000))
    n = int(rng.integers(1, 2_000_000))
    # Mostly small df (a Zipf tail), some zero (absent terms), some past the table, up to n.
    df = np.minimum(rng.zipf(1.3, size=size), n).astype(np.int64)
    df[rng.random(size) < 0.05] = 0
    big = rng.random(size) < 0.01
    df[big] = rng.integers(segments.IDF_TABLE, max(n, segments.IDF_TABLE) + 1, size=int(big.sum()))
    params = bm25.BM25Params(variant=variant)
    idf, copy = segments.idf_and_df(df, n, params)
    assert np.array_equal(bits(idf), bits(segments.live_idf(df, n, params)))
    assert np.array_equal(copy, df) and copy is not df and not np.shares_memory(copy, df)
    present = df > 0
    if variant != "okapi" and present.any():  # and the values a full build computes for those terms
        assert np.array_equal(bits(idf[present]), bits(bm25._idf(df[present], n, params)))
    assert np.all(idf[~present] == 0.0)


def test_a_vocabulary_smaller_than_the_table_and_an_empty_one() -> None:
    params = bm25.BM25Params(variant="plus")
    for df in (np.array([0, 1, 2, 3], dtype=np.int64), np.zeros(0, dtype=np.int64), np.array([7], dtype=np.int64)):
        idf, copy = segments.idf_and_df(df, 10, params)
        assert np.array_equal(bits(idf), bits(segments.live_idf(df, 10, params)))
        assert np.array_equal(copy, df)


@pytest.mark.skipif(segments._table_gather is None, reason="built without the C extension")
def test_table_gather_refuses_arrays_of_the_wrong_kind_or_length() -> None:
    gather = segments._table_gather
    df = np.array([0, 1, 5, 2], dtype=np.int64)
    table = np.array([0.0, 1.0, 2.0])
    out = np.empty(4)
    assert np.frombuffer(gather(df, table, out), dtype=np.int64).tolist() == [2]
    assert out.tolist() == [0.0, 1.0, 0.0, 2.0]
    with pytest.raises(ValueError, match="as long as df"):
        gather(df, table, np.empty(3))
    with pytest.raises(ValueError, match="int64"):
        gather(df.astype(np.int32), table, out)
    with pytest.raises(ValueError, match="writable"):
        gather(df, table, np.frombuffer(bytes(32), dtype=np.float64))
    negative = np.array([-1, 1], dtype=np.int64)
    assert np.frombuffer(gather(negative, table, np.empty(2)), dtype=np.int64).tolist() == [0]
