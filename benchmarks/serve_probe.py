"""A serving process, measured from the inside: run by `benchmarks/perf.py` as a subprocess.

Opens an existing database the way a front end does (`SearchEngine.open`,
which loads the persisted index), answers every question of a file through
`SearchEngine.search` (the full product path: analysis, spelling variants,
BM25, one passage per article, excerpts from SQLite), and prints one JSON
object: open time, latency percentiles, peak and steady resident memory.

With `--reindex-probe` it instead measures whether a reindex stalls the event
loop: `rebuild_index` runs as a task while a probe task asks a question every
few milliseconds and records how long each answer took, waiting included.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from pathlib import Path

import numpy as np

from retrieval.engine import RetrievalConfig, SearchEngine


def memory_kib() -> dict[str, int]:
    """Peak (VmHWM) and current (VmRSS) resident memory of this process, in KiB."""
    out = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmHWM", "VmRSS"):
            out[key] = int(value.split()[0])
    return out


def percentiles(seconds: list[float]) -> dict[str, float]:
    ms = np.asarray(seconds) * 1000
    return {"p50_ms": float(np.percentile(ms, 50)), "p95_ms": float(np.percentile(ms, 95)),
            "p99_ms": float(np.percentile(ms, 99)), "max_ms": float(ms.max()), "n": int(ms.size),
            "qps": float(ms.size / (ms.sum() / 1000)) if ms.sum() else 0.0}


async def serve(db: Path, questions: list[str], k: int) -> dict:
    started = time.perf_counter()
    engine = await SearchEngine.open(db, RetrievalConfig())
    opened = time.perf_counter() - started
    try:
        await engine.search(questions[0], k=k)
        after_open = memory_kib()
        latencies = []
        answered = 0
        for q in questions:
            t = time.perf_counter()
            result = await engine.search(q, k=k)
            latencies.append(time.perf_counter() - t)
            answered += bool(result.hits)
        steady = memory_kib()
    finally:
        await engine.close()
    return {"open_s": opened, "search": percentiles(latencies), "answered": answered,
            "rss_after_open_mib": after_open["VmRSS"] / 1024, "rss_steady_mib": steady["VmRSS"] / 1024,
            "rss_peak_mib": steady["VmHWM"] / 1024}


async def reindex_probe(db: Path, questions: list[str], interval: float) -> dict:
    engine = await SearchEngine.open(db, RetrievalConfig())
    try:
        latencies: list[float] = []
        build = asyncio.create_task(engine.rebuild_index())
        started = time.perf_counter()
        i = 0
        while not build.done():
            # Question i arrives at `due`; the time it waits for the event
            # loop counts as much as the time spent answering it.
            due = started + i * interval
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            await engine.search(questions[i % len(questions)], k=3)
            latencies.append(time.perf_counter() - due)
            i += 1
        info = await build
        rebuild_s = time.perf_counter() - started
    finally:
        await engine.close()
    return {"rebuild_s": rebuild_s, "passages": info.passages, "during_rebuild": percentiles(latencies)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--db", type=Path, required=True)
    p.add_argument("--questions", type=Path, required=True, help="one question per line")
    p.add_argument("-k", type=int, default=3)
    p.add_argument("--reindex-probe", action="store_true")
    p.add_argument("--interval", type=float, default=0.05, help="seconds between probe questions")
    args = p.parse_args()
    questions = [q for q in args.questions.read_text(encoding="utf-8").splitlines() if q.strip()]
    if args.reindex_probe:
        result = asyncio.run(reindex_probe(args.db, questions, args.interval))
    else:
        result = asyncio.run(serve(args.db, questions, args.k))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
