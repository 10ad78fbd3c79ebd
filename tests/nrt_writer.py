"""A serving process that writes: what tests/test_crash.py kills at random moments.

`python -m tests.nrt_writer DB FOLDER` opens the engine as the bot does (base, tail file, log),
ingests each JSONL file of FOLDER with a near-real-time refresh after each (segments, deletion
marks for updated articles), with merge thresholds low enough that tiered merges, tail-file
saves and background full merges all happen within a run, then closes (saving the tail).
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from retrieval import indexing
from retrieval.engine import RetrievalConfig, SearchEngine


async def main(db: Path, parts: list[Path]) -> None:
    indexing.MAX_SMALL_SEGMENTS = 1
    indexing.MERGE_SHARE = 0.3
    async with await SearchEngine.open(db, RetrievalConfig()) as engine:
        for part in parts:
            await engine.ingest_paths([part])
        if engine._merger is not None:
            await asyncio.wait([engine._merger])


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]), sorted(Path(sys.argv[2]).glob("part*.jsonl"))))
