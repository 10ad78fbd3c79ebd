"""The whole answer path, stage by stage: where `SearchEngine.search(q, k=3)` spends its time.

Opens a database (`--db`, with its index beside it; by default one of `--passages` passages of the
news corpus, built once and cached as benchmarks/bot_path.py builds it), pins this process to one
core, asks `--warmup` questions untimed, then times each of `--questions` questions (perf.make_questions)
stage by stage, as the engine runs them:

- rank: `query.rank` at the depth one-per-story asks for (analysis, expansion, top articles, re-ranking,
  no-answer check);
- stories: the one-per-story collapse (the ranked articles' stories from memory; SQL for all of them
  while the stories are being read);
- passages: the shown passages' rows and the shown stories' copies, one statement (`shown.shown_passages`);
- excerpts: the excerpt and highlights of each shown passage;
- search: the whole `SearchEngine.search(q, k=3)`, timed first for each question (the stages are
  timed after it, so they read what the search has just read: warm caches, their p50s are a lower
  bound; the search's is the figure).

Prints the p50 of each (and the search's p95 and CPU p50) and a JSON line with them.

    .venv/bin/python -m benchmarks.answer_path --passages 100000
    .venv/bin/python -m benchmarks.answer_path --db /tmp/nrt1m/news.db
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sqlite3
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from benchmarks import bot_path, perf
from benchmarks import eval as quality_eval
from retrieval import query, shown, storygroups
from retrieval.engine import RetrievalConfig, SearchEngine
from retrieval.excerpts import excerpt_parts

STAGES = ("rank", "stories", "passages", "excerpts", "search")


async def measure(db: Path, questions: Sequence[str], warmup: int, k: int) -> dict[str, list[float]]:
    engine = await SearchEngine.open(db, RetrievalConfig())
    config = engine.config
    times: dict[str, list[float]] = {s: [] for s in STAGES}
    times["search_cpu"] = []
    try:
        for q in questions[:warmup]:
            await engine.search(q, k=k)
        if engine.story_map is not None:  # the steady state: the stories read once, in a worker thread
            await engine.story_map.settled()
        live = query.live(engine.index)
        for q in questions[warmup:]:
            # The whole search first, so that nothing the stages below read is warmer for it.
            t, c = time.perf_counter(), time.process_time()
            await engine.search(q, k=k)
            times["search"].append(time.perf_counter() - t)
            times["search_cpu"].append(time.process_time() - c)
            t = time.perf_counter()
            fetch = 2 * k + 1 if config.one_per_story else k
            ranking = query.rank(live, q, fetch, 0, config)
            times["rank"].append(time.perf_counter() - t)
            if ranking.picked:
                rowids = [live.article_id(p) for p, _ in ranking.picked]
                t = time.perf_counter()
                # The stories from memory, as the engine asks (the shown stories' copies are read with the
                # shown passages, below), else SQL for all of them.
                collapsed = (engine.story_map.collapse(live, ranking.picked, 0, k)
                             if engine.story_map is not None and engine.rows is not None else None)
                copied = collapsed[2] if collapsed is not None else []
                if collapsed is None:
                    if engine.rows is not None:
                        engine.rows.story_members(rowids)
                    else:
                        await storygroups.story_members(engine.reader, rowids)
                times["stories"].append(time.perf_counter() - t)
                shown_passages = collapsed[0] if collapsed is not None else ranking.picked[:k]
                t = time.perf_counter()
                keys = shown.shown_keys(live, [p for p, _ in shown_passages])
                got = engine.rows.shown_passages(keys, copied) if engine.rows is not None else None
                if got is None:
                    got = await shown.shown_passages(engine.reader, keys, copied)
                rows = got[0]
                times["passages"].append(time.perf_counter() - t)
                t = time.perf_counter()
                for row in rows.values():
                    excerpt_parts(row.text, ranking.expanded.keys(), config.excerpt_chars)
                times["excerpts"].append(time.perf_counter() - t)
    finally:
        await engine.close()
    return times


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="SearchEngine.search stage by stage, pinned to one core.")
    p.add_argument("--db", type=Path, help="an existing database with its index (default: build one of --passages)")
    p.add_argument("--passages", type=int, default=100_000)
    p.add_argument("--cache-dir", type=Path, default=quality_eval.DEFAULT_CACHE)
    add_question_args(p)
    args = p.parse_args(argv)
    if args.db is not None and not args.db.exists():
        p.error(f"--db {args.db} does not exist")
    core = pin_to_one_core()
    db = args.db
    if db is None:
        db, _ = bot_path.cached_database(args.corpus, args.passages, args.cache_dir)
    passages, questions = questions_for(db, args.corpus, args.warmup + args.questions)
    times = asyncio.run(measure(db, questions, args.warmup, args.k))
    p50 = {s: float(np.percentile(np.asarray(v) * 1000, 50)) for s, v in times.items() if v}
    p95 = float(np.percentile(np.asarray(times["search"]) * 1000, 95))
    print(f"SearchEngine.search(q, k={args.k}) at {passages:,} passages, {args.questions} questions after"
          f" {args.warmup} warm-up ones, pinned to core {core} (load average {os.getloadavg()[0]:.1f}):\n")
    print("| stage | p50 ms |\n|---|---:|")
    for s in STAGES[:-1]:
        print(f"| {s} | {p50.get(s, 0.0):.3f} |")
    print(f"| **search (whole)** | **{p50['search']:.3f}** |\n")
    print(f"search p95 {p95:.3f} ms, CPU p50 {p50['search_cpu']:.3f} ms")
    print(json.dumps({"passages": passages, "questions": args.questions, "k": args.k,
                      **{f"{s}_p50_ms": round(v, 4) for s, v in p50.items()}, "search_p95_ms": round(p95, 4)}))
    return 0


def add_question_args(p: argparse.ArgumentParser, k: bool = True) -> None:
    """The options every answer-path timing shares: where its questions come from, how many, the page size."""
    p.add_argument("--corpus", type=Path, default=perf.DEFAULT_CORPUS, help="where the questions come from")
    p.add_argument("--questions", type=int, default=1000)
    p.add_argument("--warmup", type=int, default=200, help="questions asked first, untimed (default: %(default)s)")
    if k:
        p.add_argument("-k", type=int, default=3, help="results per question (the bot's page: 3)")


def lab_inputs(description: str, argv: Sequence[str] | None, k: bool = True,
               ) -> tuple[argparse.Namespace, int, int, list[str]]:
    """What a lab timing of the answer path starts from: its options parsed (`--db`, required, and
    `add_question_args`'s), this process pinned, and the questions. Returns (args, core, passages, questions)."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--db", type=Path, required=True, help="a database with its index beside it")
    add_question_args(p, k)
    args = p.parse_args(argv)
    if not args.db.exists():
        p.error(f"--db {args.db} does not exist")
    core = pin_to_one_core()
    passages, questions = questions_for(args.db, args.corpus, args.warmup + args.questions)
    return args, core, passages, questions


def pin_to_one_core() -> int:
    """Pins this process to its lowest allowed core and returns it; call it before aiosqlite's threads start:
    they inherit it."""
    core = min(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {core})
    return core


def questions_for(db: Path, corpus: Path, n: int) -> tuple[int, list[str]]:
    """The database's passage count and `n` questions about the articles it holds (the corpus's first ones,
    as its builders take them)."""
    passages = passage_count(db)
    articles, _, _ = perf.sized_corpus(perf.load_articles(corpus), passages, RetrievalConfig())
    return passages, perf.make_questions(articles, n, seed=4242)


def passage_count(db: Path) -> int:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return int(con.execute("SELECT COUNT(*) FROM passages").fetchone()[0])
    finally:
        con.close()


if __name__ == "__main__":
    sys.exit(main())
