"""In-process A/B of the views top-k kernel (`_topk.Views.leading`): this checkout's against another's.

The engine answers `--questions` questions once (this checkout's code) while every call it makes to
`ViewsKernel.leading` is recorded (the term ids, weights and depth); both versions' `Views` are then built
over the same arrays of the same live index, the other's `_topk` extension loaded from `--baseline-code`
under another name, and each recorded call is made by both in turn (alternating which goes first),
`--repeat` times, the fastest time of each kept (on a shared machine the slowest are other processes' time
slices). Every answer must be identical; the first difference stops the run.

    .venv/bin/python -m benchmarks.lab.checkouts main /tmp/main-code
    taskset -c 0 .venv/bin/python -m benchmarks.lab.views_ab --baseline-code /tmp/main-code --db /tmp/k4/news.db
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.machinery
import importlib.util
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from benchmarks import answer_path, perf
from retrieval import query, topk
from retrieval.engine import RetrievalConfig, SearchEngine


def load_extension(code: Path, name: str) -> ModuleType:
    """The other checkout's built `retrieval/_topk` extension, as a module of another name."""
    found = sorted((code / "retrieval").glob(f"{name}.*.so")) + sorted((code / "retrieval").glob(f"{name}.*.pyd"))
    if not found:
        raise SystemExit(f"{code}/retrieval has no built {name} extension (benchmarks.lab.checkouts builds it)")
    # The init function is found by the last part of the name, so a package prefix keeps it apart.
    loader = importlib.machinery.ExtensionFileLoader(f"views_ab_baseline.{name}", str(found[0]))
    spec = importlib.util.spec_from_file_location(f"views_ab_baseline.{name}", found[0], loader=loader)
    if spec is None:
        raise SystemExit(f"cannot load {found[0]}")
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


async def record(db: Path, questions: list[str]) -> tuple[Any, list[tuple[list[int], list[float], int]]]:
    """The engine's live index and the (term ids, weights, depth) of every leading() call its answers made."""
    engine = await SearchEngine.open(db, RetrievalConfig())
    calls: list[tuple[list[int], list[float], int]] = []
    original = topk.ViewsKernel.leading

    def recording(self: topk.ViewsKernel, weights: dict[int, float], depth: int, **options: Any) -> Any:
        calls.append((list(weights), list(weights.values()), depth))
        return original(self, weights, depth, **options)

    topk.ViewsKernel.leading = recording  # type: ignore[method-assign]
    try:
        for q in questions:
            await engine.search(q, k=3)
    finally:
        topk.ViewsKernel.leading = original  # type: ignore[method-assign]
        live = query.live(engine.index)
        await engine.close()
    return live, calls


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Views.leading, this checkout's kernel against another's, in one process.")
    p.add_argument("--baseline-code", type=Path, required=True, help="a checkout with its C extensions built")
    p.add_argument("--db", type=Path, required=True, help="a database with its index")
    p.add_argument("--corpus", type=Path, default=perf.DEFAULT_CORPUS)
    p.add_argument("--questions", type=int, default=600)
    p.add_argument("--repeat", type=int, default=5)
    args = p.parse_args(argv)
    if not args.db.exists():
        p.error(f"--db {args.db} does not exist")
    if topk._native_topk is None:
        raise SystemExit("this checkout's retrieval._topk is not built: run `make .venv/.installed-dev`")
    base = load_extension(args.baseline_code, "_topk")
    # Questions about the articles the database holds, as benchmarks.answer_path asks them.
    articles, _, _ = perf.sized_corpus(perf.load_articles(args.corpus), answer_path.passage_count(args.db),
                                       RetrievalConfig())
    questions = perf.make_questions(articles, args.questions, seed=4242)
    del articles
    live, calls = asyncio.run(record(args.db, questions))
    views = [(v.offsets, v.doc_ids, v.codes if v.codes is not None else v.impacts,
              v.table if v.codes is not None else None, v.idf, v.max_impact, v.article_numbers,
              None if seg is None else seg.live, v.passage_ids)
             for v, seg in zip(live.views, live.segments, strict=True)]
    ours, theirs = topk._native_topk.Views(views), base.Views(views)
    scratch = np.zeros(max(ours.max_passages, 1), dtype=np.float64)
    best: dict[str, list[float]] = {"ours": [float("inf")] * len(calls), "theirs": [float("inf")] * len(calls)}
    clock = time.perf_counter
    for r in range(args.repeat):
        for i, (tids, ws, depth) in enumerate(calls):
            order = (("ours", ours), ("theirs", theirs)) if (r + i) % 2 == 0 else (("theirs", theirs), ("ours", ours))
            got = {}
            for name, kernel in order:
                t = clock()
                got[name] = kernel.leading(tids, ws, depth, scratch)
                best[name][i] = min(best[name][i], clock() - t)
            if got["ours"] != got["theirs"]:
                print(f"call {i} differs: ours {got['ours'][:5]} theirs {got['theirs'][:5]}")
                return 1
    ratios = [t / o for o, t in zip(best["ours"], best["theirs"], strict=True) if o > 0]
    print(f"{len(calls)} calls over {len(live.views)} views ({live.n_passages:,} passages), all identical")
    for name in ("theirs", "ours"):
        ts = np.asarray(best[name]) * 1e6
        print(f"{name}: median {np.median(ts):.1f} µs, mean {ts.mean():.1f} µs, p90 {np.percentile(ts, 90):.1f} µs")
    print(f"theirs / ours: per-call median ×{statistics.median(ratios):.3f}, means ×"
          f"{np.mean(best['theirs']) / np.mean(best['ours']):.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
