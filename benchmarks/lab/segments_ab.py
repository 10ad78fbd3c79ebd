"""Questions with segments against the merged index, in one process, each question asked of both in turn.

`build` copies a database (`--source`, with its index beside it) into `--workdir` as `seg.db`, adds
~11% of its passages again as new articles in four ingests and re-ingests ~5% changed (segments and
deletion marks, merges held off), then copies that to `merged.db` and rebuilds its index whole.
`measure` opens both and times `SearchEngine.search(q, k=3)` and `query.rank` on each question for
the one and then the other, pinned to one core: p50s and their ratio, two rounds.

    .venv/bin/python -m benchmarks.lab.segments_ab build --source /tmp/nrt100k --workdir /tmp/seglab
    .venv/bin/python -m benchmarks.lab.segments_ab measure --workdir /tmp/seglab
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from benchmarks import perf
from benchmarks.nrt import article_json
from retrieval import indexing, query
from retrieval.engine import RetrievalConfig, SearchEngine


def hold_merges() -> None:
    indexing.MERGE_SHARE, indexing.DELETED_SHARE, indexing.TAIL_SHARE = 1e9, 1e9, 1.0


def copy_db(src: Path, work: Path, prefix: str, to: str) -> None:
    """`prefix`* files of `src` copied into `work` under `to` in place of the prefix."""
    work.mkdir(parents=True, exist_ok=True)
    for f in list(src.glob(f"{prefix}*")):
        shutil.copy(f, work / f.name.replace(prefix, to))


async def build(source: Path, work: Path, articles: list, config: RetrievalConfig) -> None:
    shutil.rmtree(work, ignore_errors=True)
    copy_db(source, work, "news.db", "seg.db")
    hold_merges()
    engine = await SearchEngine.open(work / "seg.db", config)
    n = engine.index.n_passages
    new = [replace(a, id=f"{a.id}~segcopy") for a in articles[: len(articles) // 9]]
    for i in range(4):
        await engine.ingest_bytes(b"\n".join(article_json(a) for a in new[i::4]), "grow.jsonl")
    changed, count = [], 0
    for a in articles[len(articles) // 2:]:
        if count >= 0.05 * n:
            break
        changed.append(replace(a, body=a.body + "\n\nتحديث."))
        count += len(a.body) // 400 + 1
    await engine.ingest_bytes(b"\n".join(article_json(a) for a in changed), "update.jsonl")
    print("views", [v.n_passages for v in engine.index.views], "deleted", engine.index.deleted)
    await engine.save_segments()
    await engine.close()
    copy_db(work, work, "seg.db", "merged.db")
    merged = await SearchEngine.open(work / "merged.db", config)
    await merged.rebuild_index()
    await merged.close()


async def measure(work: Path, questions: list[str], warmup: int, config: RetrievalConfig) -> None:
    hold_merges()
    seg = await SearchEngine.open(work / "seg.db", config)
    merged = await SearchEngine.open(work / "merged.db", config)
    try:
        live_seg, live_merged = query.live(seg.index), query.live(merged.index)
        print("views", [v.n_passages for v in live_seg.views], "deleted", live_seg.deleted,
              "| merged", [v.n_passages for v in live_merged.views])
        for q in questions:  # every cache warm for both (variants, analysis, excerpts)
            await seg.search(q, k=3)
            await merged.search(q, k=3)
        for _ in range(2):
            times: dict[str, list[float]] = {"search seg": [], "search merged": [], "rank seg": [], "rank merged": []}
            for q in questions[warmup:]:
                for name, engine in (("seg", seg), ("merged", merged)):
                    t = time.perf_counter()
                    await engine.search(q, k=3)
                    times[f"search {name}"].append(time.perf_counter() - t)
                for name, live in (("seg", live_seg), ("merged", live_merged)):
                    t = time.perf_counter()
                    query.rank(live, q, 2 * 3 + 1, 0, config)
                    times[f"rank {name}"].append(time.perf_counter() - t)
            p50 = {k: float(np.median(v)) * 1000 for k, v in times.items()}
            print(f"search p50 segments {p50['search seg']:.3f} ms, merged {p50['search merged']:.3f} ms"
                  f" (x{p50['search seg'] / p50['search merged']:.2f}); query.rank {p50['rank seg']:.3f} /"
                  f" {p50['rank merged']:.3f} ms (x{p50['rank seg'] / p50['rank merged']:.2f})")
    finally:
        await seg.close()
        await merged.close()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("step", choices=("build", "measure"))
    p.add_argument("--source", type=Path, help="build: the database folder to copy (news.db and its index)")
    p.add_argument("--workdir", type=Path, required=True)
    p.add_argument("--corpus", type=Path, default=perf.DEFAULT_CORPUS)
    p.add_argument("--passages", type=int, default=110_000, help="the corpus share the source database holds")
    p.add_argument("--questions", type=int, default=1000)
    p.add_argument("--warmup", type=int, default=200)
    args = p.parse_args()
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    config = RetrievalConfig()
    articles, _, _ = perf.sized_corpus(perf.load_articles(args.corpus), args.passages, config)
    if args.step == "build":
        if args.source is None:
            p.error("build needs --source")
        asyncio.run(build(args.source, args.workdir, articles, config))
    else:
        questions = perf.make_questions(articles, args.warmup + args.questions, seed=4242)
        asyncio.run(measure(args.workdir, questions, args.warmup, config))


if __name__ == "__main__":
    main()
