"""Performance benchmark: the project against rank-bm25 and bm25s, in one run, on the same tokens.

For each corpus size (in passages) this builds a fresh database from the news
corpus through the real ingest path, then measures:

- ingest throughput (articles and passages per second: JSONL parsing, passage
  splitting, Arabic analysis and SQLite writes, on one core);
- index build time (`SearchEngine.rebuild_index`: read terms, build, persist);
- start-up to first answer with the database already built (`newsbot ask` as a
  subprocess, timed from process start to exit);
- a serving process (subprocess): resident memory peak and steady, and the
  latency of the full `SearchEngine.search` path (analysis, spelling variants,
  BM25 Plus, one passage per article, excerpts read from SQLite);
- core ranking, side by side on the same passage tokens and query tokens:
  rank-bm25 `BM25Okapi.get_scores` + top 10, bm25s (`method="robertson"`,
  single-query `retrieve`), and `retrieval.bm25` with variant okapi; p50/p95/p99
  latency and queries per second on one core; and whether the project's top 10
  equals rank-bm25's for every query;
- with `--reindex-probe`, whether questions asked during a reindex are answered
  promptly (an asyncio probe task beside `rebuild_index`).

The corpus has ~124,000 passages; larger sizes repeat its articles under new
ids (the output says how many times). Figures are medians over `--runs` runs.

    .venv/bin/python -m benchmarks.perf                       # 10k and 100k passages
    .venv/bin/python -m benchmarks.perf --sizes 10000,100000,1000000 --write-docs
    .venv/bin/python -m benchmarks.perf --sizes 100000 --ingest-only      # the ingest figure alone
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

# The corpus helpers are `benchmarks.corpus`'s; other tools reach them as `perf.X` too.
from benchmarks.core_ranking import compare_core, median_of, stored_tokens
from benchmarks.corpus import DEFAULT_CORPUS as DEFAULT_CORPUS
from benchmarks.corpus import load_articles as load_articles
from benchmarks.corpus import log as log
from benchmarks.corpus import machine as machine
from benchmarks.corpus import make_questions as make_questions
from benchmarks.corpus import sized_corpus as sized_corpus
from benchmarks.corpus import write_jsonl as write_jsonl
from retrieval.analysis import analyze_query
from retrieval.articles import Article
from retrieval.engine import RetrievalConfig, SearchEngine

REPO = Path(__file__).resolve().parent.parent
RESULTS_DIR = REPO / "benchmarks" / "results"
DOCS = REPO / "docs" / "performance.md"
K = 10


# --- the project through its engine -------------------------------------------------------

def remove_db(db: Path) -> None:
    for suffix in ("", "-wal", "-shm", ".index.npz"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)


async def ingest(db: Path, jsonl: Path) -> dict:
    async with await SearchEngine.open(db, RetrievalConfig(), load_index=False) as engine:
        t, cpu = time.perf_counter(), time.process_time()
        report = await engine.ingest_paths([jsonl], rebuild=False)
        seconds, cpu_seconds = time.perf_counter() - t, time.process_time() - cpu
    # CPU time of every thread of the process: the per-core figure, whatever
    # the overlap between analysis and SQLite writes and whatever else runs.
    return {"seconds": seconds, "cpu_seconds": cpu_seconds, "articles": report.added, "passages": report.passages,
            "articles_per_s": report.added / seconds, "passages_per_s": report.passages / seconds,
            "passages_per_cpu_s": report.passages / cpu_seconds}


async def rebuild(db: Path) -> dict:
    async with await SearchEngine.open(db, RetrievalConfig(), load_index=False) as engine:
        t = time.perf_counter()
        info = await engine.rebuild_index()
        seconds = time.perf_counter() - t
    return {"seconds": seconds, "index_mib": info.size_bytes / 2**20, "terms": info.terms}


def startup(db: Path, question: str) -> float:
    newsbot = Path(sys.executable).with_name("newsbot")
    cmd = [str(newsbot)] if newsbot.exists() else [sys.executable, "-m", "bot.cli"]
    t = time.perf_counter()
    proc = subprocess.run([*cmd, "ask", "--db", str(db), question], capture_output=True, text=True, cwd=REPO)
    seconds = time.perf_counter() - t
    if proc.returncode != 0:
        raise RuntimeError(f"newsbot ask failed: {proc.stderr.strip()}")
    return seconds


def probe(db: Path, questions_file: Path, *extra: str, all_cores: bool = False) -> dict:
    cmd = [sys.executable, "-m", "benchmarks.serve_probe", "--db", str(db), "--questions", str(questions_file),
           *extra]
    # The reindex probe runs on both cores, as a server would: the rebuild
    # may use the other one; the question is whether the loop stays free.
    preexec = (lambda: os.sched_setaffinity(0, range(os.cpu_count() or 1))) if all_cores else None
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, preexec_fn=preexec)
    if proc.returncode != 0:
        raise RuntimeError(f"serve probe failed: {proc.stderr.strip()}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# --- one size ----------------------------------------------------------------------------

def ingest_only(size: int, articles: list[Article], args: argparse.Namespace, workdir: Path) -> dict:
    """`--ingest-only`: the ingest figure alone (a couple of minutes at 100k passages)."""
    chosen, n_passages, passes = sized_corpus(articles, size, RetrievalConfig())
    log(f"size {size:,}: {len(chosen):,} articles, {n_passages:,} passages"
        f" ({passes} pass{'es' if passes > 1 else ''} over the corpus)")
    jsonl = workdir / f"corpus-{size}.jsonl"
    write_jsonl(chosen, jsonl)
    db = workdir / f"news-{size}.db"
    runs = []
    for _ in range(args.runs):
        remove_db(db)
        runs.append(asyncio.run(ingest(db, jsonl)))
        log(f"  ingest: {runs[-1]['passages_per_s']:,.0f} passages/s,"
            f" {runs[-1]['passages_per_cpu_s']:,.0f} per CPU-second")
    remove_db(db)
    jsonl.unlink()
    return {"size": size, "articles": len(chosen), "passages": n_passages, "corpus_passes": passes,
            "ingest": median_of(runs), "ingest_runs": len(runs)}


def run_size(size: int, articles: list[Article], questions: list[str], args: argparse.Namespace,
             workdir: Path) -> dict:
    config = RetrievalConfig()
    chosen, n_passages, passes = sized_corpus(articles, size, config)
    log(f"size {size:,}: {len(chosen):,} articles, {n_passages:,} passages"
        f" ({passes} pass{'es' if passes > 1 else ''} over the corpus)")
    jsonl = workdir / f"corpus-{size}.jsonl"
    write_jsonl(chosen, jsonl)
    db = workdir / f"news-{size}.db"
    ingest_runs = 1 if size >= 1_000_000 else args.runs
    ingests = []
    for _ in range(ingest_runs):
        remove_db(db)
        ingests.append(asyncio.run(ingest(db, jsonl)))
        log(f"  ingest: {ingests[-1]['passages_per_s']:,.0f} passages/s,"
            f" {ingests[-1]['passages_per_cpu_s']:,.0f} per CPU-second")
    jsonl.unlink()
    builds = []
    for _ in range(args.runs):
        builds.append(asyncio.run(rebuild(db)))
        log(f"  rebuild_index: {builds[-1]['seconds']:.2f} s")
    starts = []
    for i in range(args.runs):
        starts.append(startup(db, questions[i]))
        log(f"  start-up to first answer: {starts[-1]:.2f} s")
    qfile = workdir / "questions.txt"
    qfile.write_text("\n".join(questions) + "\n", encoding="utf-8")
    serving = [probe(db, qfile) for _ in range(args.runs)]
    serve = {"open_s": statistics.median(s["open_s"] for s in serving),
             "answered": serving[0]["answered"],
             "rss_peak_mib": statistics.median(s["rss_peak_mib"] for s in serving),
             "rss_steady_mib": statistics.median(s["rss_steady_mib"] for s in serving),
             **median_of([s["search"] for s in serving])}
    log(f"  engine.search: p50 {serve['p50_ms']:.2f} ms, p99 {serve['p99_ms']:.2f} ms,"
        f" RSS peak {serve['rss_peak_mib']:.0f} MiB")
    result = {"size": size, "articles": len(chosen), "passages": n_passages, "corpus_passes": passes,
              "ingest": median_of(ingests), "ingest_runs": ingest_runs, "rebuild": median_of(builds),
              "startup_s": statistics.median(starts), "engine_search": serve}
    if args.reindex_probe:
        result["reindex_probe"] = probe(db, qfile, "--reindex-probe", all_cores=True)
        r = result["reindex_probe"]["during_rebuild"]
        log(f"  questions during rebuild_index: p50 {r['p50_ms']:.1f} ms, max {r['max_ms']:.1f} ms")
    docs = stored_tokens(db)
    queries = [q for q in (analyze_query(x) for x in questions) if q]
    rb_queries = args.rank_bm25_queries if size >= 100_000 else max(args.rank_bm25_queries, 200)
    core_runs = 1 if size >= 1_000_000 else args.runs
    baselines = size <= args.baselines_max_size
    if not baselines:
        log(f"  rank-bm25 and bm25s skipped above {args.baselines_max_size:,} passages (--baselines-max-size)")
    result["core"] = compare_core(docs, queries, core_runs, rb_queries,
                                  check_equal=baselines and size == args.equality_size, baselines=baselines)
    result["core"]["queries"] = len(queries)
    if not args.keep:
        remove_db(db)
    return result


# --- report --------------------------------------------------------------------------------

SYSTEMS = (("project", "project `top_passages`"), ("project_score_all", "project `score` + `rank` (engine)"),
           ("bm25s", "bm25s `retrieve`"), ("rank_bm25", "rank-bm25 `get_scores` + top 10"))


def headline(results: list[dict]) -> str:
    lines = []
    for r in results:
        core = r["core"]
        base = core["project"]["p50_ms"]
        parts = [f"{core[name]['p50_ms'] / base:,.0f}× faster than {label.split()[0]}"
                 for name, label in SYSTEMS[2:] if name in core]
        if parts:
            lines.append(f"- {r['passages']:,} passages: top 10 in {base:.2f} ms (p50), " + ", ".join(parts) + ".")
    return "\n".join(lines)


def table(results: list[dict]) -> str:
    head = headline(results)  # empty without the other libraries' runs
    rows = [*([head, ""] if head else []),
            "| passages | ingest passages/s (articles/s) | ingest passages per CPU-second | rebuild_index s"
            " | start-up to answer s"
            " | serving RSS peak / steady MiB | engine.search p50 / p95 / p99 ms |",
            "|---:|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        s = r["engine_search"]
        note = f" (corpus ×{r['corpus_passes']})" if r["corpus_passes"] > 1 else ""
        rows.append(f"| {r['passages']:,}{note} | {r['ingest']['passages_per_s']:,.0f}"
                    f" ({r['ingest']['articles_per_s']:,.0f}) | {r['ingest']['passages_per_cpu_s']:,.0f}"
                    f" | {r['rebuild']['seconds']:.2f} | {r['startup_s']:.2f}"
                    f" | {s['rss_peak_mib']:,.0f} / {s['rss_steady_mib']:,.0f}"
                    f" | {s['p50_ms']:.2f} / {s['p95_ms']:.2f} / {s['p99_ms']:.2f} |")
    rows += ["", "Core ranking on the same tokens, top 10, one core (BM25 Okapi; bm25s `robertson`):", "",
             "| passages | system | p50 ms | p95 ms | p99 ms | QPS | build s | p50 vs project"
             " | best-of-runs p50 / p99 ms |",
             "|---:|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        core = r["core"]
        base = core["project"]["p50_ms"]
        for name, label in SYSTEMS:
            if name not in core:
                continue
            c = core[name]
            note = f" ({c['queries_sampled']} questions)" if name == "rank_bm25" else ""
            ratio = "1×" if name == "project" else f"{c['p50_ms'] / base:,.1f}×"
            build = f"{c['build_s']:.2f}" if "build_s" in c else "—"
            best = f"{c['best_p50_ms']:.3f} / {c['best_p99_ms']:.3f}" if "best_p50_ms" in c else "—"
            rows.append(f"| {r['passages']:,} | {label}{note} | {c['p50_ms']:.3f} | {c['p95_ms']:.3f}"
                        f" | {c['p99_ms']:.3f} | {c['qps']:,.0f} | {build} | {ratio} | {best} |")
    for r in results:
        if "top10_equal" in r["core"]:
            e = r["core"]["top10_equal"]
            rows.append(f"\nTop 10 vs rank-bm25 at {r['passages']:,} passages: {e['identical']}/{e['queries']}"
                        f" questions identical, {e['identical_up_to_ties']} differ only in the order of equal"
                        " scores.")
    for r in results:
        if "reindex_probe" in r:
            p = r["reindex_probe"]
            d = p["during_rebuild"]
            rows.append(f"\nQuestions during `rebuild_index` at {r['passages']:,} passages ({p['rebuild_s']:.1f} s"
                        f" rebuild, {d['n']} questions, one every 50 ms): p50 {d['p50_ms']:.1f} ms,"
                        f" p99 {d['p99_ms']:.1f} ms, max {d['max_ms']:.1f} ms.")
    return "\n".join(rows)


def write_docs(report: dict, text: str) -> None:
    """Replace this run's block in docs/performance.md (one block per set of sizes)."""
    m = report["machine"]
    sizes = ",".join(str(r["size"]) for r in report["results"])
    begin, end = f"<!-- perf:{sizes}:begin -->", f"<!-- perf:{sizes}:end -->"
    block = (f"{begin}\nRun {report['started']} on {m['nproc']} × {m['cpu']}, {m['ram_gib']} GiB RAM"
             f" (Python {m['python']}, numpy {m['numpy']}, SQLite {m['sqlite']}, rank-bm25 {m['rank_bm25']},"
             f" bm25s {m['bm25s']}); load average {report['load_average']['start']:.1f} at the start,"
             f" {report['load_average']['end']:.1f} at the end (other jobs on the machine);"
             f" {report['queries']} questions; medians of {report['runs']} runs;"
             f" command: `{report['command']}`.\n\n{text}\n{end}")
    current = DOCS.read_text(encoding="utf-8") if DOCS.exists() else "# Performance\n"
    if begin in current:
        head, _, rest = current.partition(begin)
        _, _, tail = rest.partition(end)
        current = head + block + tail
    else:
        marker = "## Latest runs\n"
        head, found, tail = current.partition(marker)
        current = head + marker + "\n" + block + "\n" + tail if found else current + "\n" + marker + "\n" + block + "\n"
    DOCS.parent.mkdir(parents=True, exist_ok=True)
    DOCS.write_text(current, encoding="utf-8")


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Speed of the project vs rank-bm25 and bm25s.")
    p.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS, help="JSONL(.gz) articles (default: %(default)s)")
    p.add_argument("--sizes", default="10000,100000", help="passage counts, comma-separated (default: %(default)s)")
    p.add_argument("--queries", type=int, default=1000, help="number of questions (default: %(default)s)")
    p.add_argument("--runs", type=int, default=3, help="runs per figure, the median is reported (default: 3;"
                   " one run for ingest and core ranking at 1M passages)")
    p.add_argument("--rank-bm25-queries", type=int, default=50,
                   help="questions timed on rank-bm25's full scan from 100k passages up (below: at least 200);"
                        " the top-10 check still covers every question (default: %(default)s)")
    p.add_argument("--baselines-max-size", type=int, default=100_000,
                   help="largest size at which rank-bm25 and bm25s also run: at 1M passages they take many"
                        " minutes and gigabytes (default: %(default)s)")
    p.add_argument("--equality-size", type=int, default=100_000,
                   help="size at which every query's top 10 is compared with rank-bm25's (default: %(default)s)")
    p.add_argument("--reindex-probe", action="store_true", help="also measure questions answered during a reindex")
    p.add_argument("--workdir", type=Path, help="where databases are built (default: a temporary folder)")
    p.add_argument("--keep", action="store_true", help="keep the databases in --workdir")
    p.add_argument("--write-docs", action="store_true", help=f"rewrite the generated table in {DOCS.name}")
    p.add_argument("--ingest-only", action="store_true",
                   help="measure only ingest (passages per second and per CPU-second), nothing written")
    args = p.parse_args(argv)
    try:
        sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    except ValueError:
        p.error(f"--sizes must be comma-separated integers, not {args.sizes!r}")
    if not args.corpus.exists():
        p.error(f"corpus not found: {args.corpus} (point --corpus at a JSONL or JSONL.gz of articles)")

    # One core: the figures are per core, and the machine is shared.
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    started = datetime.now(UTC).isoformat(timespec="seconds")
    load_at_start = os.getloadavg()[0]
    log(f"reading {args.corpus}")
    articles = load_articles(args.corpus)
    questions = make_questions(articles, args.queries)
    log(f"{len(articles):,} articles, {len(questions):,} questions")
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="newsbot-perf-"))
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        if args.ingest_only:
            for size in sizes:
                r = ingest_only(size, articles, args, workdir)["ingest"]
                print(f"{size:,} passages: ingest {r['passages_per_s']:,.0f} passages/s"
                      f" ({r['articles_per_s']:,.0f} articles/s), {r['passages_per_cpu_s']:,.0f} passages per"
                      f" CPU-second (median of {args.runs}); load average {os.getloadavg()[0]:.1f}")
            return 0
        results = [run_size(size, articles, questions, args, workdir) for size in sizes]
    finally:
        if not args.workdir:
            shutil.rmtree(workdir, ignore_errors=True)
    load = {"start": load_at_start, "end": os.getloadavg()[0]}
    report = {"started": started, "machine": machine(), "load_average": load, "corpus": str(args.corpus),
              "articles": len(articles),
              "queries": len(questions), "runs": args.runs, "config": asdict(RetrievalConfig()),
              "command": "python -m benchmarks.perf " + " ".join(argv if argv is not None else sys.argv[1:]),
              "results": results, "sample_questions": questions[:5]}
    text = table(results)
    print(text)
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    out = RESULTS_DIR / f"perf-{started.replace(':', '').replace('+0000', 'Z')}.json"
    out.write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")
    log(f"results written to {out.relative_to(REPO)}")
    if args.write_docs:
        write_docs(report, text)
        log(f"table written to {DOCS.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
