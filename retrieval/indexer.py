"""Building the search index from the database file, in a process of its own.

A reindex of a large database is seconds of CPU work, most of it Python
holding the GIL; run in a thread of the serving process it would stall the
event loop (questions waited seconds in the benchmark). So `SearchEngine`
runs this module as a child process (`python -m retrieval.indexer DB OUT
PARAMS`; a plain subprocess rather than multiprocessing, which would
re-import the front end's main script): `indexing.build_base_file` reads the
passages' stored terms with plain sqlite3 (one read transaction, so the
content generation it reports is exactly the content it indexed), builds the
base segment and writes it atomically to the file the engine then loads; this
prints what it built as one JSON line.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import asdict, dataclass

from . import bm25, indexing


@dataclass(frozen=True, slots=True)
class BuiltIndex:
    passages: int
    terms: int
    generation: int
    log_seq: int = 0


# The child runs at a lower priority: on a busy machine (two cores here) it would otherwise take
# time slices from the process answering questions, which then waited tens of ms behind it.
CHILD_NICENESS = 10


def main(argv: list[str] | None = None) -> int:
    db_path, out_path, params_json = argv if argv is not None else sys.argv[1:]
    params = bm25.BM25Params(**json.loads(params_json))
    # The engine's index file: the base of retrieval/indexing.py (segments are applied on top).
    passages, terms, generation, log_seq = indexing.build_base_file(db_path, out_path, params)
    print(json.dumps(asdict(BuiltIndex(passages, terms, generation, log_seq))))
    return 0


if __name__ == "__main__":
    try:
        os.nice(CHILD_NICENESS)
    except OSError:  # not permitted here: the build runs at the parent's priority
        pass
    sys.exit(main())
