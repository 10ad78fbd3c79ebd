"""Ingest A/B: this checkout against another, side by side, taking turns, in fresh processes.

Each run is a fresh process on one core that ingests the same JSONL of
~100,000 passages (the first ones of the news corpus: a first pass, every
cache cold) into a new database through `SearchEngine.ingest_paths`, the path
`benchmarks.perf` measures, and reports passages per CPU-second of the whole
process (`time.process_time`: every thread, SQLite's included). The two
versions alternate, so both see the same load on this shared machine; the
ratio of their medians is the figure to read.

After timing, each run fingerprints what it stored (articles, passages with
spans, text and terms): the versions must store the same thing, and the
script says whether they did.

    .venv/bin/python -m benchmarks.lab.checkouts 99d138b /tmp/main-code
    .venv/bin/python -m benchmarks.lab.ingest_ab --baseline-code /tmp/main-code          # 3 rounds, ~3 min
    .venv/bin/python -m benchmarks.lab.ingest_ab --baseline-code /tmp/main-code --rounds 5 --passages 20000
    .venv/bin/python -m benchmarks.lab.ingest_ab --baseline-code /tmp/main-code --search-check 1000   # + same answers?
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from benchmarks.lab import checkouts

REPO = checkouts.REPO
DEFAULT_CORPUS = REPO.parent / "shared" / "corpora" / "ant-multisource.jsonl.gz"


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# --- the worker: one ingest in a fresh process -------------------------------------------

def fingerprint(db: Path) -> str:
    """SHA-1 over everything an ingest stores but its timestamps and content hashes.

    The content hash's scheme changed (`Article.fingerprint` replaced a
    SHA-1 of the fields' JSON), so the versions compared here may store
    different hashes for the same articles.
    """
    con = sqlite3.connect(db)
    try:
        h = hashlib.sha1()
        for row in con.execute("SELECT id, title, body, source, section, published, url, author,"
                               " origin FROM articles ORDER BY id"):
            h.update(json.dumps(row, ensure_ascii=False).encode())
        # A passage's text is its span of the article body (versions before schema 3 also stored
        # it). Spelled out rather than store.PASSAGE_TEXT_SQL: the other version's code may lack it.
        for row in con.execute('SELECT p.article_id, p.ord, p.start, p."end",'
                               ' substr(a.body, p.start + 1, p."end" - p.start), p.terms FROM passages p'
                               " JOIN articles a ON a.id = p.article_id ORDER BY p.article_id, p.ord"):
            h.update(json.dumps(row, ensure_ascii=False).encode())
        return h.hexdigest()
    finally:
        con.close()


async def _ingest(db: Path, jsonl: Path) -> dict:
    # perf.ingest's measurement, kept here: this runs with the other version's checkout first on
    # sys.path, where `benchmarks.perf` would be that version's own (of another vintage, or absent).
    from retrieval.engine import RetrievalConfig, SearchEngine

    async with await SearchEngine.open(db, RetrievalConfig(), load_index=False) as engine:
        t, cpu = time.perf_counter(), time.process_time()
        report = await engine.ingest_paths([jsonl], rebuild=False)
        seconds, cpu_seconds = time.perf_counter() - t, time.process_time() - cpu
    return {"seconds": seconds, "cpu_seconds": cpu_seconds, "passages": report.passages, "articles": report.added,
            "passages_per_cpu_s": report.passages / cpu_seconds, "passages_per_s": report.passages / seconds}


def worker(code: Path, db: Path, jsonl: Path) -> None:
    sys.path.insert(0, str(code))
    import retrieval

    out = asyncio.run(_ingest(db, jsonl))
    out["code"] = str(Path(retrieval.__file__).resolve().parent.parent)
    out["fingerprint"] = fingerprint(db)
    print(json.dumps(out))


# --- the driver ------------------------------------------------------------------------

def corpus_jsonl(corpus: Path, passages: int, workdir: Path) -> Path:
    """The first articles of the corpus adding up to `passages` passages, written once as JSONL."""
    path = workdir / f"ingest-ab-{passages}.jsonl"
    if path.exists():
        return path
    from benchmarks.perf import load_articles, sized_corpus, write_jsonl
    from retrieval.engine import RetrievalConfig

    chosen, total, passes = sized_corpus(load_articles(corpus), passages, RetrievalConfig())
    log(f"corpus: {len(chosen):,} articles, {total:,} passages ({passes} pass(es) over {corpus.name})")
    write_jsonl(chosen, path.with_suffix(".tmp"))
    path.with_suffix(".tmp").rename(path)
    return path


# Runs under either version's code: only what both have (`SearchEngine.open` / `search`).
SEARCH_PROBE = """
import asyncio, json, sys
from retrieval.engine import SearchEngine

async def main(db, qfile, out):
    questions = [q for q in open(qfile, encoding="utf-8").read().splitlines() if q.strip()]
    async with await SearchEngine.open(db) as engine:
        with open(out, "w", encoding="utf-8") as fh:
            for q in questions:
                r = await engine.search(q, k=10)
                hits = [[h.article_id, h.passage_id, h.score, h.excerpt, h.highlights] for h in r.hits]
                fh.write(json.dumps([q, r.no_answer, hits], ensure_ascii=False) + "\\n")

asyncio.run(main(*sys.argv[1:4]))
"""


def search_check(versions: dict[str, Path], jsonl: Path, workdir: Path, n: int) -> None:
    """Each version's own database answers the same questions: are the top 10s the same?"""
    from benchmarks.perf import load_articles, make_questions

    qfile = workdir / "ingest-ab-questions.txt"
    qfile.write_text("\n".join(make_questions(load_articles(jsonl), n)) + "\n", encoding="utf-8")
    answers = {}
    for name, code in versions.items():
        out = workdir / f"ingest-ab-answers-{name}.jsonl"
        checkouts.run(code, ["-c", SEARCH_PROBE, str(workdir / f"ab-{name}.db"), str(qfile), str(out)])
        answers[name] = out.read_text(encoding="utf-8").split("\n")[:-1]  # not splitlines: excerpts may hold U+2028
    base, this = answers["baseline"], answers["this"]
    same = sum(a == b for a, b in zip(base, this, strict=True))
    hits = sum(len(json.loads(line)[2]) for line in this)
    print(f"search check: {same}/{len(this)} questions with the same top 10 (article, passage, score, excerpt,"
          f" highlights) from each version's own database; {hits:,} hits")


def run_one(code: Path, jsonl: Path, workdir: Path, name: str) -> dict:
    db = workdir / f"ab-{name}.db"
    for suffix in ("", "-wal", "-shm", ".index.npz"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    return checkouts.run_json(code, ["-m", "benchmarks.lab.ingest_ab", "--worker", str(code), str(db), str(jsonl)],
                              cwd=REPO)


def versions_to_compare(p: argparse.ArgumentParser, baseline_code: Path | None) -> dict[str, Path]:
    """This checkout, and the baseline's if given; the process pinned to one core for every run."""
    versions = {"this": REPO}
    if baseline_code:
        versions = {"baseline": checkouts.require(p, baseline_code), "this": REPO}
    # One core for every run: the figures are per core, and both versions get the same one.
    # Imported here, not at the top: the worker must import `retrieval` from the checkout it measures.
    from benchmarks.answer_path import pin_to_one_core

    pin_to_one_core()
    return versions


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Ingest passages per CPU-second: this checkout vs another.")
    p.add_argument("--worker", nargs=3, metavar=("CODE", "DB", "JSONL"), help=argparse.SUPPRESS)
    p.add_argument("--baseline-code", type=Path, help="a checkout of the version to compare with")
    p.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS, help="JSONL(.gz) articles (default: %(default)s)")
    p.add_argument("--passages", type=int, default=100_000, help="passages per ingest (default: %(default)s)")
    p.add_argument("--rounds", type=int, default=3, help="runs of each version, alternating (default: %(default)s)")
    p.add_argument("--search-check", type=int, default=0, metavar="N",
                   help="then ask N questions of each version's database and compare the top 10s")
    p.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "newsbot-ingest-ab",
                   help="where the JSONL and databases go (default: %(default)s)")
    args = p.parse_args(argv)
    if args.worker:
        worker(*(Path(x) for x in args.worker))
        return 0
    versions = versions_to_compare(p, args.baseline_code)
    args.workdir.mkdir(parents=True, exist_ok=True)
    jsonl = corpus_jsonl(args.corpus, args.passages, args.workdir)
    results: dict[str, list[dict]] = {name: [] for name in versions}
    for r, name in checkouts.alternating(versions, args.rounds):
        out = run_one(versions[name], jsonl, args.workdir, name)
        results[name].append(out)
        log(f"round {r + 1} {name:8s}: {out['passages_per_cpu_s']:7,.0f} passages per CPU-second"
            f" ({out['cpu_seconds']:.2f} CPU s, {out['seconds']:.2f} s wall, load {os.getloadavg()[0]:.1f})")
    print(f"{'version':10s} {'passages':>9s} {'per CPU-s (median)':>19s} {'runs':>30s}")
    medians = {}
    for name, runs in results.items():
        medians[name] = statistics.median(x["passages_per_cpu_s"] for x in runs)
        print(f"{name:10s} {runs[0]['passages']:9,d} {medians[name]:19,.0f} "
              f"{' '.join(format(x['passages_per_cpu_s'], ',.0f') for x in runs):>30s}  ({runs[0]['code']})")
    if "baseline" in medians:
        print(f"ratio this / baseline: {medians['this'] / medians['baseline']:.2f}x")
        same = {x["fingerprint"] for runs in results.values() for x in runs}
        print("stored data identical across versions: " + ("yes" if len(same) == 1 else f"NO ({len(same)} digests)"))
        if args.search_check:
            search_check(versions, jsonl, args.workdir, args.search_check)
    return 0


if __name__ == "__main__":
    sys.exit(main())
