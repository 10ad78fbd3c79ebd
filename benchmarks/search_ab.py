"""A/B of `SearchEngine.search` between this checkout and another one, on the same machine load.

Each version answers the same questions in its own fresh process
(`benchmarks/serve_probe.py`: open the database, answer every question once
through `engine.search`, report latency percentiles), pinned to the same
core; the versions take turns `--rounds` times, alternating which goes
first, and the medians over the rounds are compared. Caches start empty in
every process, as they do when the bot starts.

    git archive main | tar -x -C /tmp/main-code
    .venv/bin/python -m benchmarks.search_ab --baseline-code /tmp/main-code
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from benchmarks import bot_path, perf
from benchmarks import eval as quality_eval
from retrieval.engine import RetrievalConfig

REPO = Path(__file__).resolve().parent.parent


def probe(code: Path, db: Path, questions: Path, k: int, core: int) -> dict:
    env = dict(os.environ, PYTHONPATH=str(code))
    proc = subprocess.run([sys.executable, "-m", "benchmarks.serve_probe", "--db", str(db), "--questions",
                           str(questions), "-k", str(k)], capture_output=True, text=True, cwd=code, env=env,
                          preexec_fn=lambda: os.sched_setaffinity(0, {core}))
    if proc.returncode != 0:
        raise RuntimeError(f"serve_probe in {code} failed: {proc.stderr.strip()[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])["search"]


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="engine.search: this checkout against another, taking turns.")
    p.add_argument("--baseline-code", type=Path, required=True, help="the other checkout (e.g. main)")
    p.add_argument("--corpus", type=Path, default=perf.DEFAULT_CORPUS)
    p.add_argument("--passages", type=int, default=100_000)
    p.add_argument("--questions", type=int, default=1000)
    p.add_argument("-k", type=int, default=3, help="results per question (the bot's page: 3; inline: 10)")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--cache-dir", type=Path, default=quality_eval.DEFAULT_CACHE)
    args = p.parse_args(argv)
    if not (args.baseline_code / "benchmarks" / "serve_probe.py").exists():
        p.error(f"--baseline-code {args.baseline_code} holds no benchmarks/serve_probe.py")

    cached, passages = bot_path.cached_database(args.corpus, args.passages, args.cache_dir)
    articles, _, _ = perf.sized_corpus(perf.load_articles(args.corpus), args.passages, RetrievalConfig())
    questions = perf.make_questions(articles, args.questions, seed=4242)
    del articles
    core = min(os.sched_getaffinity(0))
    versions = [("current", REPO), ("baseline", args.baseline_code.resolve())]
    runs: dict[str, list[dict]] = {name: [] for name, _ in versions}
    with tempfile.TemporaryDirectory(prefix="newsbot-searchab-") as tmp:
        workdir = Path(tmp)
        db = bot_path.copy_database(cached, workdir)
        qfile = workdir / "questions.txt"
        qfile.write_text("\n".join(questions) + "\n", encoding="utf-8")
        for r in range(args.rounds):
            for name, code in (versions if r % 2 == 0 else versions[::-1]):
                runs[name].append(probe(code, db, qfile, args.k, core))
                s = runs[name][-1]
                perf.log(f"round {r + 1}: {name}: p50 {s['p50_ms']:.3f} ms, p95 {s['p95_ms']:.3f} ms,"
                         f" p99 {s['p99_ms']:.3f} ms")
    med = {name: {q: statistics.median(run[q] for run in rs) for q in ("p50_ms", "p95_ms", "p99_ms")}
           for name, rs in runs.items()}
    print(f"engine.search, top {args.k}, {passages:,} passages, {len(questions)} questions, one core,"
          f" medians of {args.rounds} runs per version (load average {os.getloadavg()[0]:.1f}):\n")
    print("| code | p50 ms | p95 ms | p99 ms |\n|---|---:|---:|---:|")
    for name, m in med.items():
        print(f"| {name} | {m['p50_ms']:.3f} | {m['p95_ms']:.3f} | {m['p99_ms']:.3f} |")
    ratio = med["baseline"]["p50_ms"] / med["current"]["p50_ms"]
    print(f"\np50 baseline / current: {ratio:.2f}×")
    return 0


if __name__ == "__main__":
    sys.exit(main())
