"""What holds the event loop during a background merge: each long wait, and what ran meanwhile.

Opens the engine on `--db`, starts `rebuild_index()` (the merge: a child process builds the base,
this process loads it in a worker thread and swaps it in) and asks a question every 10 ms, as
`benchmarks.nrt` does. Meanwhile it records when each step of the swap ran (which thread) and, from a
watchdog thread, the stacks of every thread whenever the loop has not run for `--threshold` ms. Prints
each wait above the threshold with the steps that overlapped it and the stacks seen during it.

    .venv/bin/python -m benchmarks.lab.merge_stalls --db /tmp/nrt1m/news.db --runs 2

Reads the database and rewrites its index file (a merge changes no content).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any

from benchmarks.lab.startup_stages import Recorder
from retrieval import indexing, rerank, segmentfile, segments, store, upkeep
from retrieval.engine import RetrievalConfig, SearchEngine

QUESTIONS = ["ما قرار مجلس الأمن بشأن سوريا", "ارتفاع أسعار النفط", "نتائج الانتخابات الرئاسية",
             "مباراة كرة القدم", "الاقتصاد المصري", "زلزال", "قمة هلسنكي بوتين ترامب"]

# (owner, attribute, name): the swap's steps, timed with the thread they ran on.
STEPS: tuple[tuple[Any, str, str], ...] = (
    (upkeep.IndexUpkeep, "_build_in_process", "child build"),
    (upkeep.IndexUpkeep, "_load_new_base", "load new base"),
    (segmentfile, "read_members", "read file"),
    (segmentfile.indexfile, "content_checksum", "checksum"),
    (segmentfile, "split_terms", "split vocabulary"),
    (segmentfile.Segment, "check", "segment check"),
    (upkeep.IndexUpkeep, "_apply_log", "apply log"),
    (indexing, "read_changes", "read log"),
    (indexing, "apply_changes", "apply changes"),
    (segments.SegmentedIndex, "snapshot", "snapshot"),
    (rerank, "article_layout", "article layout"),
    (upkeep.IndexUpkeep, "_trim_log", "trim log"),
    (store, "set_meta", "set meta"),
)


def install(spans: Recorder) -> None:
    for owner, attr, name in STEPS:
        setattr(owner, attr, spans.wrap(getattr(owner, attr), name))


class Watchdog(threading.Thread):
    """Samples every thread's stack while the loop's heartbeat is older than `threshold` seconds."""

    def __init__(self, threshold: float) -> None:
        super().__init__(name="watchdog", daemon=True)
        self.threshold = threshold
        self.beat = time.perf_counter()
        self.samples: list[tuple[float, float, dict[str, str]]] = []  # (when, late by, stacks)
        self.stop = threading.Event()

    def run(self) -> None:
        names = {}
        while not self.stop.wait(0.005):
            late = time.perf_counter() - self.beat
            if late < self.threshold:
                continue
            names = {t.ident: t.name for t in threading.enumerate()}
            stacks = {}
            for ident, frame in sys._current_frames().items():
                if ident == self.ident:
                    continue
                lines = traceback.format_stack(frame, limit=4)
                stacks[names.get(ident, str(ident))] = " | ".join(
                    ln.strip().splitlines()[0].replace("File ", "") for ln in lines)
            self.samples.append((time.perf_counter(), late, stacks))


async def one_merge(engine: SearchEngine, threshold: float) -> None:
    spans = Recorder()
    watchdog = Watchdog(threshold)
    collections: list[tuple[float, float, int]] = []
    gc_started = [0.0]

    def on_gc(phase: str, info: dict) -> None:
        if phase == "start":
            gc_started[0] = time.perf_counter()
        else:
            collections.append((gc_started[0], time.perf_counter(), info.get("generation", -1)))

    install(spans)
    gc.callbacks.append(on_gc)
    watchdog.start()

    late: list[tuple[float, float]] = []  # (when the loop came back, how late)

    async def heartbeat() -> None:
        while True:
            watchdog.beat = t = time.perf_counter()
            await asyncio.sleep(0.002)
            late.append((t + 0.002, time.perf_counter() - t - 0.002))

    beating = asyncio.ensure_future(heartbeat())
    waits: list[tuple[float, float]] = []
    started = time.perf_counter()
    merge = asyncio.ensure_future(engine.rebuild_index())
    i = 0
    try:
        while not merge.done():
            t = time.perf_counter()
            await engine.search(QUESTIONS[i % len(QUESTIONS)], k=3)
            waits.append((t, time.perf_counter() - t))
            i += 1
            await asyncio.sleep(0.01)
        await merge
    finally:
        beating.cancel()
        watchdog.stop.set()
        watchdog.join()
        gc.callbacks.remove(on_gc)
    total = time.perf_counter() - started
    worst = sorted(waits, key=lambda w: -w[1])[:5]
    print(f"merge {total:.1f} s, {len(waits)} questions; longest waits (ms at s): "
          + ", ".join(f"{w * 1000:.0f} at {t - started:.1f}" for t, w in worst))
    for name, a, b, thread in sorted(spans.spans, key=lambda s: s[1]):
        if b - a < 0.001:  # a question's cached look-up, not a step of the swap
            continue
        print(f"  step {name:<18} {a - started:7.2f} .. {b - started:7.2f} s  ({(b - a) * 1000:7.1f} ms, {thread})")
    latest = sorted(late, key=lambda x: -x[1])[:5]
    print("  the loop's longest absences (a question arriving then waits that long; ms at s): "
          + ", ".join(f"{w * 1000:.0f} at {t - started:.2f}" for t, w in latest))
    for t, w in sorted(set(worst + latest), key=lambda x: -x[1]):
        if w < threshold:
            continue
        print(f"wait of {w * 1000:.0f} ms at {t - started:.2f} s:")
        for name, a, b, thread in spans.spans:
            if a < t + w and b > t and b - a >= 0.001:
                print(f"    overlapping step {name} ({thread})")
        for a, b, gen in collections:
            if a < t + w and b > t:
                print(f"    garbage collection of generation {gen}: {(b - a) * 1000:.1f} ms")
        for when, late, stacks in watchdog.samples:
            if t <= when <= t + w + 0.01:
                print(f"    loop late {late * 1000:.0f} ms; stacks:")
                for thread, stack in stacks.items():
                    print(f"      {thread}: {stack[-400:]}")
    # Undo the wrappers for the next run.
    for owner, attr, _ in STEPS:
        setattr(owner, attr, getattr(owner, attr).__wrapped__)


async def run(args: argparse.Namespace) -> None:
    engine = await SearchEngine.open(args.db, RetrievalConfig())
    try:
        for q in QUESTIONS:
            await engine.search(q, k=3)
        for _ in range(args.runs):
            await one_merge(engine, args.threshold / 1000)
    finally:
        await engine.close()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--db", type=Path, required=True)
    p.add_argument("--runs", type=int, default=1)
    p.add_argument("--threshold", type=float, default=30.0, help="ms of waiting that count as a stall")
    p.add_argument("--pin", action="store_true", help="pin this process (and the build child) to one core")
    args = p.parse_args()
    if args.pin:
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
