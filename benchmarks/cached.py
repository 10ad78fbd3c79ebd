"""The databases and indexes `benchmarks.eval` caches: built once, named by what they hold, found again by
the tools that reuse them.

A name hashes the input files' content and the analysis pipeline (its version and its sources), so a
changed chain or corpus never reuses stale terms and a copied corpus keeps its caches.
"""

from __future__ import annotations

import hashlib
import sqlite3
import sys
import time
from pathlib import Path

from retrieval import bm25
from retrieval.engine import RetrievalConfig, SearchEngine

REPO = Path(__file__).resolve().parent.parent


# --- cached databases ------------------------------------------------------------------

def file_identity(path: Path) -> str:
    """What the input is, by content: a copy elsewhere or a re-stamped file keeps its caches."""
    digest = hashlib.sha1()
    with path.open("rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def source_hash(*modules: str) -> str:
    h = hashlib.sha1()
    for name in modules:
        h.update((REPO / name).read_bytes())
    return h.hexdigest()[:12]


def pipeline_key(config: RetrievalConfig) -> str:
    # Stored terms depend on the analysis chain and the passage splitter; hashing
    # their sources as well as PIPELINE_VERSION keeps a forgotten bump from
    # silently reusing stale terms.
    sources = source_hash("retrieval/analysis.py", "retrieval/stemmer.py", "retrieval/normalize.py",
                          "retrieval/stopwords.py", "retrieval/resources/clitic_exceptions.txt",
                          "retrieval/passages.py")
    return f"{config.pipeline_signature}:{sources}"


def cache_name(kind: str, *parts: str) -> str:
    return f"{kind}-{hashlib.sha1('|'.join(parts).encode()).hexdigest()[:16]}"


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _start_fresh(db: Path, done: Path, base: Path | None) -> bool:
    """False if a finished build is cached; else clear leftovers and seed from `base`."""
    if done.exists() and db.exists():
        return False
    for stale in db.parent.glob(db.name + "*"):
        stale.unlink()
    if base is not None:
        with sqlite3.connect(base) as src, sqlite3.connect(db) as dst:
            src.backup(dst)
    return True


async def build_db(db: Path, jsonl_inputs: list[Path], config: RetrievalConfig, base: Path | None = None) -> None:
    """Ingest JSONL files into a fresh database at `db` (optionally starting from a copy of `base`)."""
    done = db.with_name(db.name + ".done")
    if not _start_fresh(db, done, base):
        return
    started = time.perf_counter()
    engine = await SearchEngine.open(db, config, load_index=False)
    try:
        report = await engine.ingest_paths(jsonl_inputs)
        if not (report.added or report.updated):
            await engine.rebuild_index()
    finally:
        await engine.close()
    log(f"  built {db.name}: {report.summary()} (+index) in {time.perf_counter() - started:.0f} s")
    done.touch()



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
    return SearchEngine.over_index(index, config)
