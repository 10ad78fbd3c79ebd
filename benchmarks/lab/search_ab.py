"""A/B of `SearchEngine.search` between this checkout and another one, on the same machine load.

Each version answers the same questions in its own fresh process (the
`PROBE` program below, run with the version's code first on `PYTHONPATH`:
open the database, ask `--warmup` other questions untimed, then time every
question once through `engine.search`), pinned to the same core; the
versions take turns `--rounds` times, alternating which goes first, and the
medians over the rounds are compared. With `--warmup 0` every cache starts
empty, as when the bot has just started; a few hundred warm-up questions
show a bot that has been answering for a while.

With `--compare` each version also answers every question three ways
(top 3, top 10, the second page of 3) in a process of its own, untimed,
and writes everything a reader sees (ranked articles and passages, scores,
title, outlet, section, date and link, excerpts, highlight spans, the
story's other copies, refusals, confidence, whether a next page exists); the two
outputs must be identical, and the first differences are printed if not.
With `--paired` the two versions instead answer side by side: both
processes stay up, pinned to the same core, and take every question in
turn (alternating which goes first), so that both see the same moment of a
shared machine's load; the median of the per-question ratios is the figure.
`--stage rank` (with `--paired`) times `query.rank` alone, right after an
untimed search of the same question (as `benchmarks.answer_path` times it).
`--db` and `--questions-file` use an existing database (say, the 1M one
`benchmarks.perf --keep` leaves) and questions instead of building them.

    .venv/bin/python -m benchmarks.lab.checkouts main /tmp/main-code
    .venv/bin/python -m benchmarks.lab.search_ab --baseline-code /tmp/main-code --compare
    .venv/bin/python -m benchmarks.lab.search_ab --baseline-code /tmp/main-code --compare \
        --db /tmp/perf1m/news-1000000.db --questions-file /tmp/perf1m/questions.txt
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import statistics
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from benchmarks import bot_path, perf
from benchmarks import eval as quality_eval
from benchmarks.lab import checkouts
from retrieval.engine import RetrievalConfig

REPO = checkouts.REPO


# Runs under either version's code: only what both have (`SearchEngine.open` / `search`).
PROBE = """
import asyncio, json, sys, time
import numpy as np
from retrieval.engine import SearchEngine

async def main(db, qfile, k, warmup):
    questions = [q for q in open(qfile, encoding="utf-8").read().splitlines() if q.strip()]
    engine = await SearchEngine.open(db)
    try:
        for q in questions[:warmup]:
            await engine.search(q, k=k)
        seconds, cpu = [], []
        for q in questions[warmup:]:
            t, c = time.perf_counter(), time.process_time()
            await engine.search(q, k=k)
            seconds.append(time.perf_counter() - t)
            cpu.append(time.process_time() - c)
    finally:
        await engine.close()
    ms = np.asarray(seconds) * 1000
    out = {f"p{p}_ms": float(np.percentile(ms, p)) for p in (50, 95, 99)}
    # CPU time of the process (SQLite's thread included): on a shared machine,
    # the time slices other processes take out of a search are not in it.
    out["cpu_p50_ms"] = float(np.percentile(np.asarray(cpu) * 1000, 50))
    print(json.dumps(out))

asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])))
"""


# Runs under either version's code: every field of a SearchResult a front end shows.
DUMP = """
import asyncio, json, sys
from retrieval.engine import SearchEngine

async def main(db, qfile, out):
    questions = [q for q in open(qfile, encoding="utf-8").read().splitlines() if q.strip()]
    engine = await SearchEngine.open(db)
    try:
        with open(out, "w", encoding="utf-8") as fh:
            for q in questions:
                for k, offset in ((3, 0), (10, 0), (3, 3)):
                    r = await engine.search(q, k=k, offset=offset)
                    hits = [[h.article_id, h.passage_id, h.score, h.title, h.source, h.section, h.published, h.url,
                             h.passage_ord, h.excerpt, [list(span) for span in h.highlights], h.outside_filters,
                             [[c.article_id, c.source, c.url, c.published] for c in h.also]] for h in r.hits]
                    fh.write(json.dumps([q, k, offset, list(r.terms), r.no_answer, r.has_more, r.confidence, hits],
                                        ensure_ascii=False) + "\\n")
    finally:
        await engine.close()

asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3]))
"""


# Runs under either version's code: answers question number i for each line i read, untimed ones first.
# With stage "rank" it times `query.rank` (at the depth one-per-story asks for, as benchmarks.answer_path
# does) right after an untimed search of the same question, instead of the search.
SERVE = """
import asyncio, json, sys, time
from retrieval.engine import SearchEngine

async def main(db, qfile, k, stage):
    questions = [q for q in open(qfile, encoding="utf-8").read().splitlines() if q.strip()]
    engine = await SearchEngine.open(db)
    try:
        print("ready", flush=True)
        for line in sys.stdin:
            q = questions[int(line)]
            if stage == "rank":
                from retrieval import query
                await engine.search(q, k=k)
                live = query.live(engine.index)
                fetch = 2 * k + 1 if engine.config.one_per_story else k
                t, c = time.perf_counter(), time.process_time()
                query.rank(live, q, fetch, 0, engine.config)
            else:
                t, c = time.perf_counter(), time.process_time()
                await engine.search(q, k=k)
            print(json.dumps([time.perf_counter() - t, time.process_time() - c]), flush=True)
    finally:
        await engine.close()

asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]))
"""


def paired(versions: list[tuple[str, Path]], dbs: dict[str, Path], questions: Path, count: int, k: int,
           warmup: int, core: int, stage: str = "search") -> dict[str, np.ndarray]:
    """Per version, (wall, CPU) seconds of each question after the warm-up ones, both versions taking turns."""
    procs = {}
    for name, code in versions:
        procs[name] = checkouts.start(code, ["-c", SERVE, str(dbs[name]), str(questions), str(k), stage], core=core)
    try:
        for name, proc in procs.items():
            if proc.stdout.readline().strip() != "ready":
                raise RuntimeError(f"the {name} version did not start (exit {proc.wait()})")
        times: dict[str, list] = {name: [] for name in procs}
        for i in range(warmup + count):
            for name in (list(procs) if i % 2 == 0 else list(procs)[::-1]):
                procs[name].stdin.write(f"{i}\n")
                procs[name].stdin.flush()
                answer = procs[name].stdout.readline()
                if not answer:
                    raise RuntimeError(f"the {name} version stopped (exit {procs[name].wait()})")
                if i >= warmup:
                    times[name].append(json.loads(answer))
    finally:
        for proc in procs.values():
            proc.stdin.close()
            proc.wait()
    return {name: np.asarray(t) for name, t in times.items()}


def report_paired(times: dict[str, np.ndarray], k: int, passages: int, count: int, warmup: int,
                  stage: str = "search") -> None:
    what = "query.rank (after the same search, untimed)" if stage == "rank" else "engine.search"
    print(f"{what}, top {k}, {passages:,} passages, {count} questions after {warmup} warm-up ones,"
          f" both versions answering each question in turn on one core (load average {os.getloadavg()[0]:.1f}):\n")
    print("| code | p50 ms | p95 ms | p99 ms | CPU p50 ms | CPU p95 ms |\n|---|---:|---:|---:|---:|---:|")
    for name, t in times.items():
        wall, cpu = t[:, 0] * 1000, t[:, 1] * 1000
        print(f"| {name} | {np.percentile(wall, 50):.3f} | {np.percentile(wall, 95):.3f} |"
              f" {np.percentile(wall, 99):.3f} | {np.percentile(cpu, 50):.3f} | {np.percentile(cpu, 95):.3f} |")
    cur, base = times["current"], times["baseline"]
    per_question = np.median(base / np.maximum(cur, 1e-9), axis=0)
    of_p50s = np.median(base, axis=0) / np.median(cur, axis=0)
    print(f"\nbaseline / current, median of the per-question ratios: wall {per_question[0]:.2f}×,"
          f" CPU {per_question[1]:.2f}×; ratio of the p50s: wall {of_p50s[0]:.2f}×, CPU {of_p50s[1]:.2f}×")


def dump(code: Path, db: Path, questions: Path, out: Path) -> None:
    checkouts.run(code, ["-c", DUMP, str(db), str(questions), str(out)])


def compare_outputs(current: Path, baseline: Path) -> tuple[int, int, int, list[str]]:
    """(searches, hits, identical searches, a few differences) between two dumps."""
    # Split on "\n" only: `splitlines` also splits inside excerpts holding U+2028 or U+0085.
    ours = current.read_text(encoding="utf-8").split("\n")[:-1]
    theirs = baseline.read_text(encoding="utf-8").split("\n")[:-1]
    if len(ours) != len(theirs):
        return len(ours), 0, 0, [f"{len(ours)} searches against {len(theirs)}"]
    same, hits, shown = 0, 0, []
    for a, b in zip(ours, theirs, strict=True):
        hits += len(json.loads(a)[-1])
        if a == b:
            same += 1
        elif len(shown) < 5:
            shown.append(f"current:  {a[:400]}\nbaseline: {b[:400]}")
    return len(ours), hits, same, shown


def probe(code: Path, db: Path, questions: Path, k: int, warmup: int, core: int) -> dict:
    return checkouts.run_json(code, ["-c", PROBE, str(db), str(questions), str(k), str(warmup)], core=core)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="engine.search: this checkout against another, taking turns.")
    p.add_argument("--baseline-code", type=Path, required=True, help="the other checkout (e.g. main)")
    p.add_argument("--corpus", type=Path, default=perf.DEFAULT_CORPUS)
    p.add_argument("--passages", type=int, default=100_000)
    p.add_argument("--questions", type=int, default=1000)
    p.add_argument("-k", type=int, default=3, help="results per question (the bot's page: 3; inline: 10)")
    p.add_argument("--warmup", type=int, default=0,
                   help="other questions asked first in each process, untimed (default: %(default)s)")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--cache-dir", type=Path, default=quality_eval.DEFAULT_CACHE)
    p.add_argument("--db", type=Path, help="an existing database (with its .index.npz), copied for each version;"
                   " build it with the older version: a newer one migrates it beyond what the older reads")
    p.add_argument("--questions-file", type=Path, help="questions to ask, one a line (default: built from --corpus)")
    p.add_argument("--paired", action="store_true",
                   help="both versions up at once, answering each question in turn (instead of --rounds runs)")
    p.add_argument("--compare", action="store_true",
                   help="also check that both versions show identical results (3 searches per question)")
    p.add_argument("--stage", choices=("search", "rank"), default="search",
                   help="with --paired: time the whole search, or `query.rank` alone (default: %(default)s)")
    args = p.parse_args(argv)
    if args.stage != "search" and not args.paired:
        p.error("--stage rank needs --paired")
    baseline = checkouts.require(p, args.baseline_code)
    if args.db and not args.db.exists():
        p.error(f"--db {args.db} does not exist")

    if args.questions_file:
        lines = args.questions_file.read_text(encoding="utf-8").splitlines()
        questions = [q for q in lines if q.strip()][:args.warmup + args.questions]
    else:
        articles, _, _ = perf.sized_corpus(perf.load_articles(args.corpus), args.passages, RetrievalConfig())
        questions = perf.make_questions(articles, args.warmup + args.questions, seed=4242)
        del articles
    core = min(os.sched_getaffinity(0))
    versions = [("current", REPO), ("baseline", baseline)]
    runs: dict[str, list[dict]] = {name: [] for name, _ in versions}
    with tempfile.TemporaryDirectory(prefix="newsbot-searchab-") as tmp:
        workdir = Path(tmp)
        if args.db:
            db = args.db
            passages = _passage_count(db)
        else:
            cached, passages = bot_path.cached_database(args.corpus, args.passages, args.cache_dir)
            db = bot_path.copy_database(cached, workdir)
        qfile = workdir / "questions.txt"
        qfile.write_text("\n".join(questions) + "\n", encoding="utf-8")
        # Each version reads its own copy: opening a file may migrate it to that version's schema,
        # which the other version would then refuse as newer than itself.
        dbs = {}
        for name, _ in versions:
            (workdir / name).mkdir()
            dbs[name] = bot_path.copy_database(db, workdir / name)
        if args.compare:
            outputs = {name: workdir / f"{name}.jsonl" for name, _ in versions}
            for name, code in versions:
                dump(code, dbs[name], qfile, outputs[name])
            searches, hits, same, shown = compare_outputs(outputs["current"], outputs["baseline"])
            perf.log(f"outputs: {same} of {searches} searches identical ({hits:,} hits shown by this checkout)")
            for diff in shown:
                print(diff)
        if args.paired:
            report_paired(paired(versions, dbs, qfile, args.questions, args.k, args.warmup, core, args.stage),
                          args.k, passages, args.questions, args.warmup, args.stage)
            if args.compare:
                print(f"\nSame output: {same} of {searches} searches identical ({len(questions)} questions × top 3,"
                      f" top 10, second page of 3; {hits:,} hits with their excerpts and highlights)")
                return 0 if same == searches else 1
            return 0
        for r in range(args.rounds):
            for name, code in (versions if r % 2 == 0 else versions[::-1]):
                runs[name].append(probe(code, dbs[name], qfile, args.k, args.warmup, core))
                s = runs[name][-1]
                perf.log(f"round {r + 1}: {name}: p50 {s['p50_ms']:.3f} ms, p95 {s['p95_ms']:.3f} ms,"
                         f" p99 {s['p99_ms']:.3f} ms, CPU p50 {s['cpu_p50_ms']:.3f} ms")
    if args.rounds <= 0:  # `--compare --rounds 0`: the comparison alone
        if args.compare:
            print(f"Same output: {same} of {searches} searches identical")
            return 0 if same == searches else 1
        return 0
    med = {name: {q: statistics.median(run[q] for run in rs) for q in ("p50_ms", "p95_ms", "p99_ms", "cpu_p50_ms")}
           for name, rs in runs.items()}
    print(f"engine.search, top {args.k}, {passages:,} passages, {args.questions} questions after"
          f" {args.warmup} warm-up ones, one core,"
          f" medians of {args.rounds} runs per version (load average {os.getloadavg()[0]:.1f}):\n")
    print("| code | p50 ms | p95 ms | p99 ms | CPU p50 ms |\n|---|---:|---:|---:|---:|")
    for name, m in med.items():
        print(f"| {name} | {m['p50_ms']:.3f} | {m['p95_ms']:.3f} | {m['p99_ms']:.3f} | {m['cpu_p50_ms']:.3f} |")
    ratio = med["baseline"]["p50_ms"] / med["current"]["p50_ms"]
    cpu_ratio = med["baseline"]["cpu_p50_ms"] / med["current"]["cpu_p50_ms"]
    print(f"\np50 baseline / current: {ratio:.2f}× (CPU p50: {cpu_ratio:.2f}×)")
    if args.compare:
        print(f"\nSame output: {same} of {searches} searches identical ({len(questions)} questions × top 3, top 10,"
              f" second page of 3; {hits:,} hits with their excerpts and highlights)")
        return 0 if same == searches else 1
    return 0


def _passage_count(db: Path) -> int:
    # Read-only: --db is only ever copied (another engineer's benchmark may be reading it).
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return con.execute("SELECT COUNT(*) FROM passages").fetchone()[0]
    finally:
        con.close()


if __name__ == "__main__":
    sys.exit(main())
