"""In-process A/B of the ranking core: this checkout's `topk` against another checkout's, question by question.

The engine's leading articles (`top_articles`, the 30 articles re-ranking
looks at) are compared with what the other checkout computes for them (its
own `top_articles` if it has one, else the walk over `top_k(120)` that
came before it), and the plain top 10 (`top_k`) with its `top_k`: the same
index object and the same weights, both versions in one process, each
question timed `--repeat` times per version in alternating order and the
fastest time kept (on a shared machine the slowest are other processes'
time slices). Results must be identical; the first differences are printed.

    .venv/bin/python -m benchmarks.lab.checkouts main /tmp/main-code
    .venv/bin/python -m benchmarks.lab.rank_ab --baseline-code /tmp/main-code \\
        --db /tmp/perf1m/news-1000000.db --questions-file /tmp/perf1m/questions.txt

With `--numpy-baseline` instead of `--baseline-code`, the baseline is this
checkout's own numpy `topk._top_numpy` (the specification) and "current" its C kernel
(`retrieval/_topk.c`), both called directly:

    taskset -c 0 .venv/bin/python -m benchmarks.lab.rank_ab --numpy-baseline \\
        --db /tmp/perf100k/news-100000.db --questions-file /tmp/perf100k/questions.txt
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType

import numpy as np

from benchmarks import bm25_reference
from retrieval import bm25, topk
from retrieval.analysis import analyze_query
from retrieval.engine import RetrievalConfig, SearchEngine

Ranker = Callable[[bm25.BM25Index, dict[int, float], int], list[int] | tuple[np.ndarray, np.ndarray]]


def load_module(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


def baseline_ranking(code: Path) -> ModuleType:
    """The other checkout's ranking functions: its `retrieval.topk` package module, else its standalone `bm25.py`."""
    if not (code / "retrieval" / "topk.py").exists():
        return load_module(code / "retrieval" / "bm25.py", "baseline_bm25")
    spec = importlib.util.spec_from_file_location("baseline_retrieval", code / "retrieval" / "__init__.py",
                                                  submodule_search_locations=[str(code / "retrieval")])
    if spec is None or spec.loader is None:
        raise SystemExit(f"cannot load {code / 'retrieval'}")
    package = importlib.util.module_from_spec(spec)
    sys.modules["baseline_retrieval"] = package
    spec.loader.exec_module(package)
    module = importlib.import_module("baseline_retrieval.topk")
    module.top_k = lambda index, weights, k: module.top(index, weights, k, None)  # type: ignore[attr-defined]
    return module


def walked_leaders(other: ModuleType) -> Ranker:
    """The other version's leading articles: its top_articles, or the top_k(4 × wanted) walk it used before."""
    if hasattr(other, "top_articles"):
        return lambda index, weights, wanted: other.top_articles(index, weights, wanted)[0].tolist()

    def walk(index: bm25.BM25Index, weights: dict[int, float], wanted: int) -> list[int]:
        m = max(wanted * 4, 32)
        while True:
            passages, _ = other.top_k(index, weights, m)
            seen: set[int] = set()
            picked: list[int] = []
            for passage in passages.tolist():
                article = int(index.article_ids[passage])
                if article not in seen:
                    seen.add(article)
                    picked.append(passage)
                    if len(picked) == wanted:
                        return picked
            if passages.size < m:
                return picked
            m *= 4
    return walk


async def question_weights(db: Path, questions: list[str]) -> tuple[bm25.BM25Index, list[dict[int, float]]]:
    """The index and each question's term weights, exactly as the engine searches them (variants included)."""
    engine = await SearchEngine.open(db, RetrievalConfig())
    try:
        index = engine.index
        assert index is not None
        weights = []
        for q in questions:
            terms = analyze_query(q)
            expanded = engine.expand(index, terms) if terms else {}
            if expanded:
                weights.append({index.vocabulary[t]: w for t, w in expanded.items()})
        return index, weights
    finally:
        await engine.close()


def same(a: object, b: object) -> bool:
    """Equal results; arrays of scores bit for bit (0.0 and -0.0 differ)."""
    if isinstance(a, tuple):
        return all(np.array_equal(*(z.view(np.int64) if z.dtype == np.float64 else z for z in (x, y)))
                   for x, y in zip(a, b, strict=True))  # type: ignore[arg-type]
    return a == b


def compare(name: str, ours: Ranker, theirs: Ranker, index: bm25.BM25Index, all_weights: list[dict[int, float]],
            k: int, repeat: int) -> None:
    differ = 0
    for w in all_weights:
        if not same(ours(index, w, k), theirs(index, w, k)):
            differ += 1
            if differ <= 3:
                print(f"  differs for weights {w}")
    mine, other = [], []
    for i, w in enumerate(all_weights):
        a, b = [], []
        for r in range(repeat):
            for fn, acc in ((ours, a), (theirs, b)) if (i + r) % 2 == 0 else ((theirs, b), (ours, a)):
                t = time.perf_counter()
                fn(index, w, k)
                acc.append(time.perf_counter() - t)
        mine.append(min(a))
        other.append(min(b))
    cur, base = np.asarray(mine) * 1000, np.asarray(other) * 1000
    columns = [f"{len(all_weights) - differ} of {len(all_weights)}",
               f"{np.median(base):.3f} / {np.percentile(base, 95):.3f}",
               f"{np.median(cur):.3f} / {np.percentile(cur, 95):.3f}",
               f"{np.median(base) / np.median(cur):.2f}×", f"{np.median(base / cur):.2f}×"]
    print(f"| {name} | " + " | ".join(columns) + " |")


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    baseline = p.add_mutually_exclusive_group(required=True)
    baseline.add_argument("--baseline-code", type=Path, help="the other checkout (e.g. main)")
    baseline.add_argument("--numpy-baseline", action="store_true",
                          help="compare this checkout's C kernel with its numpy `_top_numpy` instead")
    p.add_argument("--db", type=Path, required=True, help="a database with its .index.npz")
    p.add_argument("--questions-file", type=Path, required=True, help="one question a line")
    p.add_argument("--questions", type=int, default=1000)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--depth", type=int, default=RetrievalConfig().rerank_depth, help="leading articles wanted")
    args = p.parse_args(argv)
    if args.numpy_baseline and not topk.NATIVE_TOPK:
        raise SystemExit("retrieval._topk is not built: run `pip install -e .` with a C compiler")
    lines = args.questions_file.read_text(encoding="utf-8").splitlines()
    questions = [q for q in lines if q.strip()][:args.questions]
    index, all_weights = asyncio.run(question_weights(args.db, questions))
    print(f"{index.n_passages:,} passages, {len(all_weights)} questions, fastest of {args.repeat} per version"
          f" and question:\n")
    print("| what | identical | baseline p50 / p95 ms | current p50 / p95 ms | p50 ratio | per-question ratio |")
    print("|---|---:|---:|---:|---:|---:|")
    if args.numpy_baseline:
        for name, k, groups in ((f"leading {args.depth} articles (`top_articles`)", args.depth, index.article_numbers),
                                ("top 10 passages (`top_k`)", 10, None)):
            compare(name, lambda i, w, k, g=groups: topk._top_native(i, w, k, g),
                    lambda i, w, k, g=groups: topk._top_numpy(i, w, k, g), index, all_weights, k, args.repeat)
        return 0
    other = baseline_ranking(args.baseline_code)
    compare(f"leading {args.depth} articles", lambda i, w, k: topk.top_articles(i, w, k)[0].tolist(),
            walked_leaders(other), index, all_weights, args.depth, args.repeat)
    compare("top 10 passages (`top_k`)", bm25_reference.top_k, other.top_k, index, all_weights, 10, args.repeat)
    return 0


if __name__ == "__main__":
    sys.exit(main())
