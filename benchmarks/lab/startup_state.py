"""Give a database segments and deletion marks, as `benchmarks.nrt` does, for timing start-ups on it.

Re-ingests copies of the database's own articles under new ids until `--segment-share` of the
passages are in segments, and re-ingests changed a run of articles from the base until
`--deleted-share` of the passages are deleted, in one serving process with merges into the base
held off (as the benchmark does), then saves the tail file as closing does. Start-ups on the result
are timed by `benchmarks.lab.startup_stages`. Needs no corpus: the articles come from the database.

    .venv/bin/python -m benchmarks.lab.startup_state --db /tmp/nrt1m/news.db --segment-share 0.20 \\
        --deleted-share 0.08
"""

from __future__ import annotations

import argparse
import asyncio
import time
from dataclasses import replace
from pathlib import Path

from retrieval import indexing, store
from retrieval.articles import Article
from retrieval.engine import RetrievalConfig, SearchEngine

BATCH = 2_000  # articles read at a time
INGESTS = 8  # the segments grow in this many ingests (the tiered policy merges the small ones)


async def articles_until(engine: SearchEngine, after: int, passages: float) -> tuple[list[Article], int]:
    """Stored articles after rowid `after` until they hold `passages` passages, and the last rowid read."""
    out: list[Article] = []
    held = 0
    while held < passages:
        rows = await store.articles_from(engine.reader, after, BATCH)
        if not rows:
            break
        for rowid, article, _ in rows:
            out.append(article)
            held += len(article.body) // 400 + 1  # rough, as benchmarks.nrt counts
            after = rowid
            if held >= passages:
                break
    return out, after


async def prepare(db: Path, segment_share: float, deleted_share: float) -> dict:
    indexing.MERGE_SHARE, indexing.DELETED_SHARE, indexing.TAIL_SHARE = 1e9, 1e9, 1.0
    tag = f"~s{int(time.time())}"
    engine = await SearchEngine.open(db, RetrievalConfig())
    try:
        live = engine.index
        assert live is not None
        n = live.n_passages
        held = sum(v.n_passages for v in live.views)
        in_segments = held - live.views[0].n_passages
        # n_new / (held + n_new) = share, counting what is already in segments.
        wanted = max(0.0, (segment_share * held - in_segments) / (1 - segment_share))
        copies, after = await articles_until(engine, 0, wanted)
        for i in range(INGESTS):
            part = [replace(a, id=f"{a.id}{tag}") for a in copies[i::INGESTS]]
            if part:
                await engine.ingest_articles(part, "startup_state")
        changed, _ = await articles_until(engine, after, max(0.0, deleted_share * n - live.deleted))
        await engine.ingest_articles([replace(a, body=f"{a.body}\n\nتحديث {tag}.") for a in changed],
                                     "startup_state")
        live = engine.index
        total = sum(v.n_passages for v in live.views)
        out = {"segments": len(live.views) - 1, "share_in_segments": (total - live.views[0].n_passages) / total,
               "deleted_share": live.deleted / total, "live_passages": live.n_passages}
    finally:
        await engine.close()  # saves the tail file
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--db", type=Path, required=True)
    p.add_argument("--segment-share", type=float, default=0.10)
    p.add_argument("--deleted-share", type=float, default=0.05)
    args = p.parse_args()
    print(asyncio.run(prepare(args.db, args.segment_share, args.deleted_share)))


if __name__ == "__main__":
    main()
