"""Where `SearchEngine.search(q, k=3)` spends its time, step by step inside the real (cold) path.

`benchmarks.answer_path` times each stage again after the search, when its data is warm; here a timer
wraps each function the search calls while it answers, questions one after another as the bot asks them,
so every step runs with the caches ranking leaves behind. The steps: `rank` (`query.rank`), `stories`
(the one-per-story collapse: `StoryMap.collapse`, or `SearchEngine._one_per_story` in a checkout without
it, where it also reads the shown stories' copies), `keys` (the shown passages' ids), `rows` (the shown
passages' SQL, with the shown stories' copies where the checkout reads them together), `excerpts`, and
`glue`: the whole search less those (objects built per result, the coroutine, the timers' own ~0.3 us
each). Prints each step's p50 and mean.

Runs under either checkout's code (under another one: this file's path, that checkout first on `PYTHONPATH`):

    taskset -c 1 .venv/bin/python -m benchmarks.lab.answer_steps --db /tmp/p5/news.db
    cd /tmp/p5-base && PYTHONPATH=/tmp/p5-base taskset -c 1 /work/wt-path5/.venv/bin/python \\
        /work/wt-path5/benchmarks/lab/answer_steps.py --db /tmp/p5/news.db \\
        --corpus /work/shared/corpora/ant-multisource.jsonl.gz
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from benchmarks import answer_path
from retrieval import engine as engine_module
from retrieval import query, rowreads, shown, storymap
from retrieval.engine import RetrievalConfig, SearchEngine


def _sibling(name: str) -> ModuleType:
    """This file's neighbour module, whichever checkout is first on the path (`benchmarks.lab.<name>`
    would be that checkout's, which may lack it)."""
    spec = importlib.util.spec_from_file_location(f"_answer_steps_{name}", Path(__file__).with_name(f"{name}.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


timers = _sibling("timers")

STEPS = ("rank", "stories", "keys", "rows", "excerpts", "glue", "search")


def wrap(owner: Any, name: str, step: str, spent: dict[str, int]) -> None:
    """Replace `owner.name` by the same function adding its time to `spent[step]` (nanoseconds)."""
    timers.wrap(owner, name, spent, step, time.perf_counter_ns)


def instrument(spent: dict[str, int]) -> None:
    """Timers around what this checkout's search calls (either version's names)."""
    wrap(query, "rank", "rank", spent)
    if hasattr(storymap.StoryMap, "collapse"):
        wrap(storymap.StoryMap, "collapse", "stories", spent)
        wrap(shown, "shown_keys", "keys", spent)
    else:
        wrap(SearchEngine, "_one_per_story", "stories", spent)
        wrap(query, "passage_ids", "keys", spent)
    wrap(rowreads.RowReader, "shown_passages", "rows", spent)
    wrap(engine_module, "excerpt_parts" if hasattr(engine_module, "excerpt_parts") else "make_excerpt",
         "excerpts", spent)


async def measure(db: Path, questions: Sequence[str], warmup: int, k: int) -> dict[str, list[float]]:
    spent = dict.fromkeys(STEPS, 0)
    instrument(spent)
    engine = await SearchEngine.open(db, RetrievalConfig())
    out: dict[str, list[float]] = {s: [] for s in STEPS}
    try:
        for q in questions[:warmup]:
            await engine.search(q, k=k)
        if engine.story_map is not None:  # the steady state: the stories read once, in a worker thread
            await engine.story_map.settled()
        clock: Callable[[], int] = time.perf_counter_ns
        for q in questions[warmup:]:
            for s in STEPS:
                spent[s] = 0
            t = clock()
            await engine.search(q, k=k)
            whole = clock() - t
            spent["search"] = whole
            spent["glue"] = whole - sum(spent[s] for s in STEPS if s not in ("glue", "search"))
            for s in STEPS:
                out[s].append(spent[s] / 1e6)
    finally:
        await engine.close()
    return out


def main(argv: Sequence[str] | None = None) -> int:
    args, core, passages, questions = answer_path.lab_inputs(
        "SearchEngine.search step by step, cold, pinned to one core.", argv)
    times = asyncio.run(measure(args.db, questions, args.warmup, args.k))
    print(f"SearchEngine.search(q, k={args.k}) at {passages:,} passages, each step timed inside the search,"
          f" core {core} (load average {os.getloadavg()[0]:.1f}):\n")
    print("| step | p50 ms | mean ms |\n|---|---:|---:|")
    for s in STEPS:
        ms = np.asarray(times[s])
        print(f"| {s} | {np.median(ms):.4f} | {ms.mean():.4f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
