"""Where `newsbot ask`'s start-up goes: each stage of opening the engine and answering, timed in a new process.

Runs `newsbot ask QUESTION --db D` (bot.cli.main, the command itself) in `--runs` fresh child
processes, each with timing wrappers around the start-up's stages (connecting, the pipeline and
story checks, loading the base and tail files, their checksums, replaying the passage log, the
snapshot, the first answer, closing). Prints per stage the median over the runs of its total
seconds (a stage called from inside another is counted in both: the list is indented by nesting),
and the wall time of each child from spawn to exit, as `benchmarks.nrt` measures it.

    .venv/bin/python -m benchmarks.lab.startup_stages --db /tmp/nrt1m/news.db --runs 3
    .venv/bin/python -m benchmarks.lab.checkouts main /tmp/main-code
    .venv/bin/python -m benchmarks.lab.startup_stages --db D --compare /tmp/main-code --compare-db D2 --runs 4

"interpreter start" runs from the spawn to this script's first line (with its standard-library
imports); "imports" is `bot.cli` and what it pulls in.

`--plain` alternates each instrumented run with an uninstrumented `newsbot ask` (the wrappers'
own cost shows as the difference); `--compare DIR` alternates with another checkout's starts
(`benchmarks.lab.checkouts REF DIR` exports one). Reads the database only, except that closing writes the tail
file when the passage log has moved past it (what `newsbot ask` does).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import gc
import io
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
QUESTION = "ما آخر أخبار قمة هلسنكي بين بوتين وترامب؟"

# (module, attribute path, stage name, nesting): what the child wraps, in the order a start meets them.
STAGES = (
    ("retrieval.store", "connect", "sqlite connect + migrate", 0),
    ("retrieval.rowreads", "RowReader.open", "row reader open", 0),
    ("retrieval.ingest", "refresh_pipeline", "pipeline check", 0),
    ("retrieval.storygroups", "StoryKeeper.catch_up", "story catch-up", 0),
    ("retrieval.upkeep", "IndexUpkeep.ensure_index", "ensure_index", 0),
    ("retrieval.indexing", "load_state_with_tail", "load base + tail", 1),
    ("retrieval.indexing", "load_state", "load base", 2),
    ("retrieval.indexing", "load_segment", "load_segment", 3),
    ("retrieval.indexing", "load_tail", "load tail", 2),
    ("retrieval.segmentfile", "read_members", "read file", 4),
    ("retrieval.indexfile", "content_checksum", "checksum", 4),
    ("retrieval.segmentfile", "split_terms", "split vocabulary", 4),
    ("retrieval.segment", "Segment.check", "segment check", 4),
    ("retrieval.segments", "SegmentedIndex._account", "df accounting", 3),
    ("retrieval.segments", "SegmentedIndex.__init__", "state init", 3),
    ("retrieval.upkeep", "IndexUpkeep._apply_log", "apply log", 1),
    ("retrieval.indexing", "read_changes", "read log", 2),
    ("retrieval.indexing", "apply_changes", "apply changes", 2),
    ("retrieval.segments", "SegmentedIndex.snapshot", "snapshot", 2),
    ("retrieval.rerank", "article_layout", "article layout", 2),
    ("retrieval.upkeep", "IndexUpkeep._stored_index_info", "index info", 1),
    ("retrieval.news", "NewsDesk.ask", "first answer", 0),
    ("retrieval.news", "NewsDesk.outlets", "outlets catalogue", 1),
    ("retrieval.engine", "SearchEngine.search", "engine.search", 1),
    ("retrieval.newsrank", "live_meta", "news metadata", 2),
    ("retrieval.query", "rank", "ranking", 2),
    ("retrieval.engine", "SearchEngine._one_per_story", "one per story", 2),
    ("retrieval.engine", "SearchEngine.close", "close", 0),
    ("retrieval.segmentfile", "save_tail", "save tail", 1),
)


class Recorder:
    """Wraps functions to record (stage, start, end, thread name) of each call, from any thread.

    Here, in a script whose child imports nothing of `benchmarks` (it runs against another checkout's
    code); `benchmarks.lab.merge_stalls` uses it too.
    """

    def __init__(self) -> None:
        self.spans: list[tuple[str, float, float, str]] = []

    def wrap(self, fn: Any, name: str) -> Any:
        if asyncio.iscoroutinefunction(fn):
            @functools.wraps(fn)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                t = time.perf_counter()
                try:
                    return await fn(*args, **kwargs)
                finally:
                    self.spans.append((name, t, time.perf_counter(), threading.current_thread().name))
            return async_wrapper

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            t = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.spans.append((name, t, time.perf_counter(), threading.current_thread().name))
        return wrapper


def install(recorder: Recorder) -> None:
    import importlib

    for module_name, path, name, _ in STAGES:
        owner: Any = importlib.import_module(module_name)
        *parents, attr = path.split(".")
        for p in parents:
            owner = getattr(owner, p, None)
        if owner is None or not hasattr(owner, attr):
            continue  # another checkout's code without that stage
        raw = owner.__dict__[attr] if isinstance(owner, type) else getattr(owner, attr)
        if isinstance(raw, classmethod):
            setattr(owner, attr, classmethod(recorder.wrap(raw.__func__, name)))
        else:
            setattr(owner, attr, recorder.wrap(raw, name))


def _gc_timer(out: list[float], started: list[float], phase: str, info: dict) -> None:
    if phase == "start":
        started[0] = time.perf_counter()
    else:
        out.append(time.perf_counter() - started[0])


def child(args: argparse.Namespace) -> None:
    spawned = args.spawned
    imports_started = time.time()
    import bot.cli  # what the newsbot entry point imports

    imported = time.time()
    recorder = Recorder()
    install(recorder)
    collections: list[float] = []
    gc.callbacks.append(functools.partial(_gc_timer, collections, [0.0]))
    t = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        code = bot.cli.main(["ask", args.question, "--db", str(args.db)])
    command_s = time.perf_counter() - t
    if code != 0:
        raise SystemExit(f"newsbot ask exited {code}")
    totals: dict[str, float] = {}
    for name, start, end, _ in recorder.spans:
        totals[name] = totals.get(name, 0.0) + (end - start)
    out = {"interpreter_s": imports_started - spawned, "imports_s": imported - imports_started,
           "command_s": command_s, "stages": totals,
           "gc_s": sum(collections), "gc_count": len(collections)}
    print(json.dumps(out))


def run_child(db: Path, question: str, *, plain: bool, code: Path = REPO) -> tuple[float, dict | None]:
    """One start in a new process under `code`'s retrieval and bot (this script runs as a file, so
    another checkout needs only its own code)."""
    if plain:
        cmd = [sys.executable, "-m", "bot.cli", "ask", question, "--db", str(db)]
    else:
        cmd = [sys.executable, str(Path(__file__).resolve()), "--child", "--db", str(db),
               "--question", question, "--spawned", repr(time.time())]
    env = dict(os.environ, PYTHONPATH=str(code))
    t = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=code, env=env)
    wall = time.perf_counter() - t
    if proc.returncode != 0:
        raise SystemExit(proc.stderr[-2000:])
    return wall, None if plain else json.loads(proc.stdout.strip().splitlines()[-1])


def report(title: str, runs: list[dict], plain_walls: list[float]) -> None:
    def med(key: str) -> float:
        return statistics.median(r[key] for r in runs)

    print(f"{title}: {len(runs)} instrumented runs of `newsbot ask`, medians:")
    each = ", ".join(f"{r['wall_s']:.2f}" for r in runs)
    print(f"  wall, spawn to exit        {med('wall_s'):7.3f} s   (each: {each})")
    if plain_walls:
        each = ", ".join(f"{w:.2f}" for w in plain_walls)
        print(f"  wall, plain newsbot ask    {statistics.median(plain_walls):7.3f} s   (each: {each})")
    print(f"  interpreter start          {med('interpreter_s'):7.3f} s")
    print(f"  imports (bot.cli)          {med('imports_s'):7.3f} s")
    print(f"  the command                {med('command_s'):7.3f} s")
    print(f"    garbage collections        {med('gc_s'):7.3f} s   ({med('gc_count'):.0f} of them)")
    for _, _, name, depth in STAGES:
        values = [r["stages"].get(name, 0.0) for r in runs]
        if any(values):
            label = "  " * depth + name
            print(f"    {label:<28} {statistics.median(values):7.3f} s")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--db", type=Path, required=True)
    p.add_argument("--question", default=QUESTION)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--plain", action="store_true", help="alternate with uninstrumented `newsbot ask` runs")
    p.add_argument("--compare", type=Path, metavar="DIR",
                   help="another checkout (benchmarks.lab.checkouts): its starts alternate with this one's")
    p.add_argument("--compare-db", type=Path, metavar="PATH",
                   help="the other checkout's copy of the database (default: --db), for when the two "
                        "write index files the other does not read")
    p.add_argument("--json", type=Path, help="write every run's figures here")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--spawned", type=float, default=0.0, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        child(args)
        return
    codes = [REPO] + ([args.compare.resolve()] if args.compare else [])
    dbs = {REPO: args.db, codes[-1]: args.compare_db or args.db} if args.compare else {REPO: args.db}
    runs: dict[Path, list[dict]] = {c: [] for c in codes}
    plain_walls: dict[Path, list[float]] = {c: [] for c in codes}
    for _ in range(args.runs):
        for code in codes:  # taking turns: both see the same load
            wall, figures = run_child(dbs[code], args.question, plain=False, code=code)
            assert figures is not None
            figures["wall_s"] = wall
            runs[code].append(figures)
            if args.plain:
                plain_walls[code].append(run_child(dbs[code], args.question, plain=True, code=code)[0])
    print(f"question {args.question!r}")
    for code in codes:
        report(f"{code} on {dbs[code]}", runs[code], plain_walls[code])
    if args.json:
        args.json.write_text(json.dumps({str(c): {"runs": runs[c], "plain_walls": plain_walls[c]} for c in codes},
                                        indent=1))


if __name__ == "__main__":
    main()
