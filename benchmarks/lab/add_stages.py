"""Where an add's time goes: one article and ~100 passages added to a copy of a database, each stage timed.

The stages are the functions an add calls (parsing, analysis, the SQLite writes, story grouping, reading
the passage log back, building the segment, the snapshot), each wrapped in a timer for this process
only; a stage run in a worker thread counts its own wall time. Wall time per add ends when
`ingest_bytes` returns (the article searchable); the merge of small segments an add starts after that
is waited for between adds, and its time is listed apart. Pinned to one core.

    .venv/bin/python -m benchmarks.lab.add_stages --db /tmp/nrt100k/news.db
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import functools
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from benchmarks.nrt import article_json
from benchmarks.perf import DEFAULT_CORPUS, load_articles
from retrieval import engine as engine_module
from retrieval import indexing, ingest, newsstore, segment, segments, store, stories, storygroups, storyindex
from retrieval.engine import RetrievalConfig, SearchEngine

Totals = collections.defaultdict[str, float]


def timed(totals: Totals, label: str, f: Callable[..., Any]) -> Callable[..., Any]:
    if asyncio.iscoroutinefunction(f):
        @functools.wraps(f)
        async def run_async(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return await f(*args, **kwargs)
            finally:
                totals[label] += time.perf_counter() - started
        return run_async

    @functools.wraps(f)
    def run(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return f(*args, **kwargs)
        finally:
            totals[label] += time.perf_counter() - started
    return run


def instrument(totals: Totals) -> None:
    """Wrap the stages (this process's copies of the functions: the benchmark's own run only)."""
    for owner, name, label in [
        (ingest, "prepare", "analysis (ingest.prepare)"),
        (store, "write_articles", "SQLite: articles, passages, log"),
        (storygroups.StoryKeeper, "update", "story grouping (rows included)"),
        (storyindex.StoryIndex, "assign", "  of which StoryIndex.assign"),
        (stories, "batch_signatures", "  of which signatures"),
        (newsstore, "write_story_rows", "  of which the story rows' INSERT"),
        (ingest, "_write_batch", "write batch (transaction)"),
        (SearchEngine, "refresh_index", "index refresh"),
        (indexing, "read_changes", "  read the log and the passages' terms"),
        (indexing, "handed_changes", "  the handed passages checked against the log"),
        (segments.SegmentedIndex, "add_texts", "  new segment (term ids, postings)"),
        (segments.SegmentedIndex, "add", "  new segment (term ids, postings)"),  # before add_texts
        (segments.SegmentedIndex, "merge_tiered", "  merge of small segments (in the add, or after it)"),
        (segments.SegmentedIndex, "snapshot", "  snapshot"),
        # The snapshot's O(vocabulary) parts (each called by the snapshot alone).
        (segments, "live_idf", "    of which live_idf"),
        (segment.Segment, "bounds", "    of which Segment.bounds"),
    ]:
        if hasattr(owner, name):  # another checkout may lack a stage
            setattr(owner, name, timed(totals, label, getattr(owner, name)))
    parse = engine_module.read_bytes

    def read_bytes(*args: Any, **kwargs: Any) -> Iterator[Any]:
        records = parse(*args, **kwargs)
        while True:
            started = time.perf_counter()
            try:
                record = next(records)
            except StopIteration:
                totals["JSON records"] += time.perf_counter() - started
                return
            totals["JSON records"] += time.perf_counter() - started
            yield record

    engine_module.read_bytes = read_bytes


async def run(args: argparse.Namespace, work: Path) -> None:
    totals: Totals = collections.defaultdict(float)
    instrument(totals)
    articles = load_articles(args.corpus)
    pool = iter(articles[len(articles) // 2:])
    tag = f"~stages{int(time.time())}"
    engine = await SearchEngine.open(work / "news.db", RetrievalConfig())
    settle = getattr(engine, "settle", None)
    try:
        await engine.load_stories()  # as a serving process holds them
        print(f"{engine.index.n_passages:,} passages, {len(engine.index.vocabulary):,} terms")
        for i in range(5):  # warm-up
            await engine.ingest_bytes(article_json(replace(next(pool), id=f"warm-{i}{tag}")), "one.json")
        for label, adds, size in (("one article", args.adds, 0), ("~100 passages", args.hundreds, 100)):
            if settle is not None:
                await settle()
            totals.clear()
            walls = []
            for i in range(adds):
                batch, held = [], 0
                while not batch or held < size:
                    a = replace(next(pool), id=f"{label[:3]}-{i}-{len(batch)}{tag}")
                    batch.append(a)
                    held += max(1, len(a.body) // 400)
                started = time.perf_counter()
                await engine.ingest_bytes(b"\n".join(article_json(a) for a in batch), "add.jsonl")
                walls.append(time.perf_counter() - started)
                if settle is not None:
                    await settle()
            print(f"== {label}: wall p50 {statistics.median(walls) * 1000:.2f} ms over {adds} adds "
                  f"(stages: mean ms per add)")
            for name, seconds in sorted(totals.items(), key=lambda kv: -kv[1]):
                print(f"   {name:45s} {seconds / adds * 1000:8.3f}")
    finally:
        await engine.close()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--db", type=Path, required=True, help="a database with its index files (copied, never changed)")
    p.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS, help="JSONL(.gz) articles (default: %(default)s)")
    p.add_argument("--adds", type=int, default=40, help="single-article adds (default: %(default)s)")
    p.add_argument("--hundreds", type=int, default=20, help="adds of ~100 passages (default: %(default)s)")
    args = p.parse_args()
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    with tempfile.TemporaryDirectory(prefix="add-stages-") as tmp:
        work = Path(tmp)
        for f in args.db.parent.iterdir():
            if f.is_file() and f.name.startswith(args.db.name):
                shutil.copy(f, work / f.name.replace(args.db.name, "news.db", 1))
        asyncio.run(run(args, work))


if __name__ == "__main__":
    main()
