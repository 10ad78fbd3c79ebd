"""Ways to read an answer's shown passages, each timed where the answer path reads them: right after ranking.

The rows are read after `query.rank` has run, with its caches gone cold (a statement that takes ~15 us
warm takes ~40 us then), so each way is timed right after a ranking of the question, in one process,
the ways in a shuffled order for each question. Every way must read the same rows (checked).

- `e6c830f`: the statement before (`p.id IN (...)`, a join on the article's text id);
- `values`: the (passage id, article rowid) pairs from a `VALUES` table, each read by id and rowid;
- `union`: one `SELECT` a passage by id and rowid, joined by `UNION ALL`: `shown.shown_sql` (the engine's);
- `SELECT 1`, `one row`: a statement's floor, cold: no table, and one article's title by rowid.

    .venv/bin/python -m benchmarks.lab.shown_sql --db /tmp/p5/news.db
"""

from __future__ import annotations

import asyncio
import os
import random
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from benchmarks import answer_path
from retrieval import query, shown
from retrieval.engine import RetrievalConfig, SearchEngine

_COLUMNS = ('p.id, p.ord, substr(a.body, p.start + 1, p."end" - p.start), a.id, a.title, a.source, a.section,'
            ' a.published, a.url')


def _marks(n: int) -> str:
    return ",".join("?" * n)


# name → (the statement for n passages, its parameters from the (passage id, article rowid) keys)
WAYS: dict[str, tuple[Callable[[int], str], Callable[[list[shown.Key]], list[int]]]] = {
    "e6c830f": (lambda n: f"SELECT {_COLUMNS} FROM passages p JOIN articles a ON a.id = p.article_id"
                          f" WHERE p.id IN ({_marks(n)})", lambda keys: [p for p, _ in keys]),
    "values": (lambda n: "WITH w(pid, aid) AS (VALUES " + ",".join(["(?,?)"] * n) + f") SELECT {_COLUMNS}"
                         " FROM w JOIN passages p ON p.id = w.pid JOIN articles a ON a.rowid = w.aid"
                         " WHERE +a.id = p.article_id", lambda keys: [x for k in keys for x in k]),
    "union": (lambda n: shown.shown_sql(n), lambda keys: [x for k in keys for x in k]),
}


def read(db, way: str, keys: list[shown.Key]) -> dict[int, shown.ShownPassage]:
    sql, args = WAYS[way]
    return {r[0]: shown.ShownPassage(*r) for r in db.execute(sql(len(keys)), args(keys)).fetchall()}


async def measure(db_path: Path, questions: Sequence[str], warmup: int, k: int) -> dict[str, list[float]]:
    engine = await SearchEngine.open(db_path, RetrievalConfig())
    try:
        if engine.rows is None:
            raise SystemExit("an in-memory database has no synchronous reader")
        db = engine.rows._db  # the answer path's own connection (retrieval/rowreads.py)
        for q in questions[:warmup]:
            await engine.search(q, k=k)
        live = query.live(engine.index)
        floor = {"SELECT 1": lambda keys: db.execute("SELECT 1").fetchall(),
                 "one row": lambda keys: db.execute("SELECT title FROM articles WHERE rowid = ?",
                                                    (keys[0][1],)).fetchall()}
        names = [*WAYS, *floor]
        times: dict[str, list[float]] = {n: [] for n in names}
        order = random.Random(7)
        fetch = 2 * k + 1
        for q in questions[warmup:]:
            ranking = query.rank(live, q, fetch, 0, engine.config)
            if not ranking.picked:
                continue
            keys = shown.shown_keys(live, [p for p, _ in ranking.picked[:k]])
            want = read(db, "e6c830f", keys)
            order.shuffle(names)
            for name in names:
                query.rank(live, q, fetch, 0, engine.config)  # the caches as the answer path finds them
                t = time.perf_counter()
                got = read(db, name, keys) if name in WAYS else floor[name](keys)
                times[name].append(time.perf_counter() - t)
                if name in WAYS and got != want:
                    raise SystemExit(f"{name} read other rows than e6c830f's statement for {q!r}")
    finally:
        await engine.close()
    return times


def main(argv: Sequence[str] | None = None) -> int:
    args, core, passages, questions = answer_path.lab_inputs(
        "Ways to read the shown passages, timed after ranking, one process.", argv)
    times = asyncio.run(measure(args.db, questions, args.warmup, args.k))
    print(f"the shown passages (k={args.k}) at {passages:,} passages, each read right after a ranking, core {core}"
          f" (load average {os.getloadavg()[0]:.1f}); every way read the same rows:\n")
    print("| way | p50 us | p95 us | mean us |\n|---|---:|---:|---:|")
    for name, v in times.items():
        us = np.asarray(v) * 1e6
        print(f"| {name} | {np.median(us):.1f} | {np.percentile(us, 95):.1f} | {us.mean():.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
