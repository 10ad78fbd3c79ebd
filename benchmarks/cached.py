"""The databases and indexes `benchmarks.eval` caches, found again by the tools that reuse them."""

from __future__ import annotations

from pathlib import Path

from benchmarks.eval import cache_name, file_identity, pipeline_key
from retrieval import bm25
from retrieval.engine import RetrievalConfig, SearchEngine


def cached_dbs(cache: Path, corpus: Path, qa: Path, config: RetrievalConfig, corpus_limit: int | None = None,
               seed: int = 13) -> dict[str, Path]:
    """The databases `benchmarks.eval` built for these options (same names as eval.run gives them)."""
    corpus_id = f"{file_identity(corpus)}:{corpus_limit}:{seed}"
    pkey = pipeline_key(config)
    return {"arcd": cache / (cache_name("pooled", corpus_id, file_identity(qa), pkey) + ".db"),
            "known": cache / (cache_name("untitled", corpus_id, pkey) + ".db"),
            "noanswer": cache / (cache_name("news", corpus_id, pkey) + ".db")}


def article_names(db: Path) -> dict[int, str]:
    import sqlite3
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as con:
        return dict(con.execute("SELECT rowid, id FROM articles").fetchall())


def engine_over(index: bm25.BM25Index, config: RetrievalConfig) -> SearchEngine:
    engine = SearchEngine(":memory:", config, None, None)  # type: ignore[arg-type]
    engine._index = index
    return engine
