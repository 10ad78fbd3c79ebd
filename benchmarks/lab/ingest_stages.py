"""Ingest's CPU stages one at a time: this checkout against another, taking turns, in fresh processes.

The whole-ingest A/B (`benchmarks/lab/ingest_ab.py`) varies by ±20% from run to
run on this shared machine, more than a change of a few percent; each stage
alone, timed in a process with nothing else to do, is steadier. Each run is a
fresh process on one core that reads the same JSONL of ~100,000 passages and
reports µs per passage (CPU time) of:

- read: `readers.parse_jsonl_utf8` of the file's bytes (best of 3);
- fingerprint: `Article.fingerprint` of every article (best of 3);
- analysis, first pass: splitting and analysing every passage once with
  every cache cold (once per process: a second pass would be warm).

    .venv/bin/python -m benchmarks.lab.ingest_stages --baseline-code /tmp/main-code --rounds 3
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from benchmarks.lab import checkouts
from benchmarks.lab.ingest_ab import DEFAULT_CORPUS, REPO, corpus_jsonl, log, versions_to_compare

STAGES = ("read", "fingerprint", "analysis_first_pass")


def _best(repeat: int, work: Callable[[], object]) -> float:
    best = float("inf")
    for _ in range(repeat):
        gc.collect()
        started = time.process_time()
        work()
        best = min(best, time.process_time() - started)
    return best


def worker(jsonl: Path) -> None:
    from retrieval.analysis import analyze_joined
    from retrieval.engine import RetrievalConfig
    from retrieval.passages import passage_spans
    from retrieval.readers import parse_jsonl_utf8

    config = RetrievalConfig()
    raw = jsonl.read_bytes()
    records = parse_jsonl_utf8(raw, str(jsonl))
    articles = [r for r in records if hasattr(r, "fingerprint")]
    texts = [a.body[s:e] for a in articles for s, e in
             passage_spans(a.body, target_chars=config.passage_target_chars, max_chars=config.passage_max_chars)]
    seconds = {
        "read": _best(3, lambda: parse_jsonl_utf8(raw, str(jsonl))),
        "fingerprint": _best(3, lambda: [a.fingerprint() for a in articles]),
        "analysis_first_pass": _best(1, lambda: [analyze_joined(t) for t in texts]),
    }
    print(json.dumps({"passages": len(texts), **{k: v / len(texts) * 1e6 for k, v in seconds.items()}}))


def run_one(code: Path, jsonl: Path) -> dict:
    return checkouts.run_json(code, ["-m", "benchmarks.lab.ingest_stages", "--worker", str(jsonl)], cwd=REPO)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Ingest's CPU stages, µs per passage: this checkout vs another.")
    p.add_argument("--worker", type=Path, metavar="JSONL", help=argparse.SUPPRESS)
    p.add_argument("--baseline-code", type=Path, required=False, help="a checkout of the version to compare with")
    p.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS, help="JSONL(.gz) articles (default: %(default)s)")
    p.add_argument("--passages", type=int, default=100_000, help="passages (default: %(default)s)")
    p.add_argument("--rounds", type=int, default=3, help="runs of each version, alternating (default: %(default)s)")
    p.add_argument("--workdir", type=Path, default=Path("/tmp/newsbot-ingest-ab"),
                   help="where the JSONL is written (default: %(default)s)")
    args = p.parse_args(argv)
    if args.worker:
        # The worker's checkout comes first on the path, ahead of the script's own directory.
        sys.path.insert(0, os.environ.get("PYTHONPATH", str(REPO)))
        worker(args.worker)
        return 0
    versions = versions_to_compare(p, args.baseline_code)
    args.workdir.mkdir(parents=True, exist_ok=True)
    jsonl = corpus_jsonl(args.corpus, args.passages, args.workdir)
    results: dict[str, list[dict]] = {name: [] for name in versions}
    for r, name in checkouts.alternating(versions, args.rounds):
        results[name].append(run_one(versions[name], jsonl))
        log(f"round {r + 1} {name}: " + ", ".join(f"{s} {results[name][-1][s]:.2f}" for s in STAGES))
    print(f"µs per passage, median of {args.rounds} runs ({results['this'][0]['passages']:,} passages)")
    print(f"{'stage':22s}" + "".join(f"{name:>10s}" for name in versions))
    for stage in STAGES:
        print(f"{stage:22s}" + "".join(f"{statistics.median(x[stage] for x in results[n]):10.2f}" for n in versions))
    return 0


if __name__ == "__main__":
    sys.exit(main())
