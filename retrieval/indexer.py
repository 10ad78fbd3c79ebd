"""Building the search index from the database file, in a process of its own.

A reindex of a large database is seconds of CPU work, most of it Python
holding the GIL; run in a thread of the serving process it would stall the
event loop (questions waited seconds in the benchmark). So `SearchEngine`
runs this module as a child process (`python -m retrieval.indexer DB OUT
PARAMS`; a plain subprocess rather than multiprocessing, which would
re-import the front end's main script): it reads the passages' stored terms
with plain sqlite3 (one read transaction, so the content generation it
reports is exactly the content it indexed), builds the index, writes it
atomically to the .npz the engine then loads, and prints what it built as
one JSON line.
"""

from __future__ import annotations

import json
import sqlite3
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

from . import bm25, indexfile, indexing

INDEX_INPUTS_SQL = ("SELECT p.id, a.rowid, p.terms FROM passages p"
                    " JOIN articles a ON a.id = p.article_id ORDER BY p.id")


@dataclass(frozen=True, slots=True)
class BuiltIndex:
    passages: int
    terms: int
    generation: int
    log_seq: int = 0


def read_index_inputs(con: sqlite3.Connection) -> tuple[int, list[int], list[int], list[str]]:
    """(content generation, passage ids, article rowids, terms) in one consistent snapshot."""
    con.execute("BEGIN")
    try:
        row = con.execute("SELECT value FROM meta WHERE key = 'content_generation'").fetchone()
        generation = int(row[0]) if row else 0
        ids, articles, terms = [], [], []
        for pid, arowid, text in con.execute(INDEX_INPUTS_SQL):
            ids.append(pid)
            articles.append(arowid)
            terms.append(text)
    finally:
        con.execute("COMMIT")
    return generation, ids, articles, terms


def build_index_from_db(db_path: str | Path, params: bm25.BM25Params) -> tuple[bm25.BM25Index, int]:
    """The index of the database at `db_path`, and the content generation it reflects."""
    con = sqlite3.connect(db_path, isolation_level=None)
    try:
        con.execute("PRAGMA busy_timeout=5000")
        generation, ids, articles, terms = read_index_inputs(con)
    finally:
        con.close()
    return bm25.build_index((t.split() for t in terms), ids, articles, params), generation


def build_index_file(db_path: str | Path, out_path: str | Path, params: bm25.BM25Params) -> BuiltIndex:
    """Build the index of the database at `db_path` and save it to `out_path` (atomically)."""
    index, generation = build_index_from_db(db_path, params)
    indexfile.save_index(index, Path(out_path), generation)
    return BuiltIndex(passages=index.n_passages, terms=len(index.vocabulary), generation=generation)


def main(argv: list[str] | None = None) -> int:
    db_path, out_path, params_json = argv if argv is not None else sys.argv[1:]
    params = bm25.BM25Params(**json.loads(params_json))
    # The engine's index file: the base of retrieval/indexing.py (segments are applied on top).
    passages, terms, generation, log_seq = indexing.build_base_file(db_path, out_path, params)
    print(json.dumps(asdict(BuiltIndex(passages, terms, generation, log_seq))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
