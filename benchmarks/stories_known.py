"""Known-item search with and without one result per story, counting the gold by id and by story.

Asks `--titles` random titles of a news database (e.g. the `news-*.db` that `benchmarks.eval`
caches in benchmarks/.cache) and reports MRR@10 three ways: by article id with one result per
story, by id listing every article (NEWSBOT_ONE_PER_STORY=false), and with one result per story
counting the gold when it is listed under a shown result (`also`: the reader sees its story).

    .venv/bin/python -m benchmarks.stories_known --db benchmarks/.cache/news-XXXX.db [--titles 300]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sqlite3
from pathlib import Path

from retrieval.engine import RetrievalConfig, SearchEngine


async def mrr(db: Path, rows: list[tuple[str, str]], config: RetrievalConfig) -> tuple[float, float]:
    by_id = by_story = 0.0
    async with await SearchEngine.open(db, config) as engine:
        for article_id, title in rows:
            result = await engine.search(title, k=10)
            for n, hit in enumerate(result.hits, start=1):
                if hit.article_id == article_id:
                    by_id += 1 / n
                    by_story += 1 / n
                    break
                if any(c.article_id == article_id for c in hit.also):
                    by_story += 1 / n
                    break
    return by_id / len(rows), by_story / len(rows)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--db", type=Path, required=True)
    p.add_argument("--titles", type=int, default=300)
    p.add_argument("--seed", type=int, default=3)
    args = p.parse_args()
    with sqlite3.connect(args.db) as con:
        rows = con.execute("SELECT id, title FROM articles WHERE title != '' ORDER BY rowid").fetchall()
    random.Random(args.seed).shuffle(rows)
    rows = rows[:args.titles]
    on = asyncio.run(mrr(args.db, rows, RetrievalConfig()))
    off = asyncio.run(mrr(args.db, rows, RetrievalConfig(one_per_story=False)))
    print(f"{len(rows)} titles of {args.db.name}: MRR@10 by article id: one result per story {on[0]:.3f}, "
          f"every article {off[0]:.3f}; one result per story counting the gold under a shown story: {on[1]:.3f}")


if __name__ == "__main__":
    main()
