"""Near-real-time index benchmark: adding articles to a large database, and questions while segments exist.

Builds a database of `--size` passages from the news corpus (repeated under new ids past its
~124k passages, as benchmarks/perf.py does) through the real ingest path, holding back articles
to add later, indexes it whole, then in one serving process (`SearchEngine`):

- adds one article at a time (`ingest_bytes` of one JSON article: SQLite write, passage log,
  segment, refresh) and checks it is found by its title: p50 wall (until `ingest_bytes` returns,
  the article searchable) and CPU (also of the merge of small segments the add starts after it,
  `SearchEngine.settle`) over `--adds` adds;
- the peak resident memory of an add above the steady state (VmHWM reset through
  /proc/self/clear_refs before each add);
- adds 100 articles in one ingest; the added articles are the corpus's last ones, which the database never
  holds (`corpus.held_out`): new stories, as a feed brings them, not copies of stored articles;
- `newsbot ingest` of one small file into the same database, as a subprocess, wall time
  including start-up;
- grows the segments to ~`--segment-share` of the passages, counting the new versions of the
  ~`--deleted-share` of them it re-ingests changed (their old passages deleted in the base),
  then asks `--queries` questions through `SearchEngine.search`
  (k=3, the bot's whole answer path) with those segments, then after a full merge of the same
  database: p50 of each, their ratio, and the oracle check (every question's top 10 and
  scores, segments against the merged index, within 1e-9 relative);
- start-up to first answer (`newsbot ask`) with the segments in the log;
- a background merge while a probe asks a question every 10 ms: the longest a question waited.

    .venv/bin/python -m benchmarks.nrt --size 100000
    .venv/bin/python -m benchmarks.nrt --size 1000000 --workdir /tmp/nrt1m --keep
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from benchmarks.corpus import held_out, unseen
from benchmarks.perf import DEFAULT_CORPUS, load_articles, log, make_questions, remove_db, sized_corpus, write_jsonl
from benchmarks.serve_probe import memory_kib
from retrieval import indexing, query
from retrieval.articles import Article
from retrieval.engine import RetrievalConfig, SearchEngine

REPO = Path(__file__).resolve().parent.parent
REL = 1e-9
# The merge probe's waits in its last seconds are reported apart: the swap, not the build.
SWAP_WINDOW_S = 3.0


def reset_peak() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def article_json(a: Article) -> bytes:
    return json.dumps({"id": a.id, "title": a.title, "text": a.body, "source": a.source, "category": a.section,
                       "url": a.url, "published": a.published}, ensure_ascii=False).encode()


def newsbot(*args: str, db: Path) -> float:
    exe = Path(sys.executable).with_name("newsbot")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "bot.cli"]
    t = time.perf_counter()
    proc = subprocess.run([*cmd, *args, "--db", str(db)], capture_output=True, text=True, cwd=REPO)
    seconds = time.perf_counter() - t
    if proc.returncode != 0:
        raise RuntimeError(f"newsbot {args[0]} failed: {proc.stderr.strip()[-2000:]}")
    return seconds


class GcPauses:
    """A `gc.callbacks` hook timing the collector's full (oldest-generation) collections."""

    def __init__(self, out: list[float]) -> None:
        self.out = out
        self._started = 0.0

    def __call__(self, phase: str, info: dict) -> None:
        if info.get("generation") != 2:
            return
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.out.append(time.perf_counter() - self._started)


async def steady(engine: SearchEngine, question: str) -> None:
    """A serving process in its steady state: the stories of its index's views read (retrieval/storymap.py, in a
    worker thread after start and after a swap, ~0.7 s of CPU at a million passages: not a per-question cost)."""
    await engine.search(question, k=3)
    if engine.story_map is not None:
        await engine.story_map.settled()


async def timed_search(engine: SearchEngine, questions: list[str], k: int = 3) -> list[float]:
    out = []
    for q in questions:
        t = time.perf_counter()
        await engine.search(q, k=k)
        out.append(time.perf_counter() - t)
    return out


def rankings(engine: SearchEngine, questions: list[str]) -> list[tuple[str | None, list[tuple[int, float]]]]:
    """Each question's top 10 articles (passage id, score) and no-answer, as `SearchEngine.rank` gives them."""
    out = []
    live = engine.index
    for q in questions:
        r = query.rank(live, q, 10, 0, engine.config)
        out.append((r.no_answer, [(live.passage_id(p), s) for p, s in r.picked]))
    return out


def close(a: float, b: float) -> bool:
    return abs(a - b) <= REL * max(abs(a), abs(b), 1e-300)


def same(got: list[tuple[int, float]], want: list[tuple[int, float]]) -> bool:
    """Same passages, same order, scores within 1e-9 relative (passages tied within it may swap, and a tie
    at the last place may be broken by another of the tied passages: float sums in another order)."""
    if len(got) != len(want) or not all(close(g[1], w[1]) for g, w in zip(got, want, strict=True)):
        return False
    i = 0
    while i < len(want):
        j = i
        while j + 1 < len(want) and close(want[j + 1][1], want[i][1]):
            j += 1
        # A tie group cut by the end of the list may keep different members of a longer tie.
        if j + 1 < len(want) and {p for p, _ in got[i:j + 1]} != {p for p, _ in want[i:j + 1]}:
            return False
        i = j + 1
    return True


async def run(args: argparse.Namespace) -> dict:
    config = RetrievalConfig()
    articles = load_articles(args.corpus)
    # The articles re-ingested changed (--deleted-share) land in the segments too: the held-back
    # ones make up the rest of --segment-share.
    extra = int(args.size * max(args.segment_share - args.deleted_share, 0.0))
    stored, fresh = held_out(articles)
    corpus, total, reps = sized_corpus(stored, args.size + extra, config)
    # The last articles are added later: one at a time, 100 at once, and the segments' share.
    n_base = len(corpus)
    grow_passages = 0
    while grow_passages < extra and n_base > 1:
        n_base -= 1
        grow_passages += len(corpus[n_base].body) // 400 + 1  # rough: only for the split point
    base, later = corpus[:n_base], corpus[n_base:]
    # A tag per run: a database kept from an earlier run gets new articles and real updates again.
    tag = f"~{int(time.time())}"
    later = [replace(a, id=f"{a.id}{tag}") for a in later]
    work: Path = args.workdir
    db = work / "news.db"
    out: dict = {"size": args.size, "corpus_passes": reps}
    questions = make_questions(base, args.queries)
    if not (args.keep and db.exists()):
        remove_db(db)
        jsonl = work / "base.jsonl"
        write_jsonl(base, jsonl)
        log(f"ingesting {len(base):,} articles into {db}")
        async with await SearchEngine.open(db, config, load_index=False) as engine:
            await engine.ingest_paths([jsonl], rebuild=False)
            log("full index build")
            await engine.rebuild_index()
        jsonl.unlink()
    else:
        log(f"reusing {db}")
    # The adds are new stories: held-out articles the database does not hold (a kept one took some before).
    fresh = unseen(db, fresh)
    if len(fresh) < args.adds + 101:
        raise SystemExit(f"nrt: only {len(fresh)} held-out articles are not in {db} yet: build it again")
    singles = [replace(a, id=f"{a.id}~add{i}{tag}") for i, a in enumerate(fresh[: args.adds])]
    hundred = [replace(a, id=f"{a.id}~h{i}{tag}") for i, a in enumerate(fresh[args.adds: args.adds + 100])]

    # No merge into the base until the merge is measured: an add's figures are the add's alone (a merge
    # swapped in holds two bases for a moment, the rebuild's cost as before segments existed).
    indexing_limits = (indexing.MERGE_SHARE, indexing.DELETED_SHARE, indexing.TAIL_SHARE, indexing.MAX_SMALL_SEGMENTS)
    indexing.MERGE_SHARE, indexing.DELETED_SHARE = 1e9, 1e9
    engine = await SearchEngine.open(db, config)
    try:
        await engine.load_stories()  # as the bot does when it starts serving (bot/app.py)
        out["passages"] = engine.index.n_passages
        await timed_search(engine, questions[:50])
        await steady(engine, questions[0])
        steady_rss = memory_kib()["VmRSS"]
        walls, cpus, peaks, found = [], [], [], 0
        for a in singles:
            peak_ok = reset_peak()
            t, c = time.perf_counter(), time.process_time()
            await engine.ingest_bytes(article_json(a), "one.json")  # searchable when it returns
            walls.append(time.perf_counter() - t)
            # The CPU counts the merge of small segments the add may have started after it (upkeep.settle).
            await engine.settle()
            cpus.append(time.process_time() - c)
            if peak_ok:
                peaks.append(memory_kib()["VmHWM"] - steady_rss)
            result = await engine.search(a.title or a.body[:200], k=10)
            # A copy of a stored article joins its story: shown under the story's first version (`also`).
            found += any(h.article_id == a.id or any(c.article_id == a.id for c in h.also) for h in result.hits)
        out["add_one"] = {"p50_ms": statistics.median(walls) * 1000, "cpu_p50_ms": statistics.median(cpus) * 1000,
                          "max_ms": max(walls) * 1000, "n": len(walls), "found_by_title": found,
                          "peak_above_steady_mib": max(peaks) / 1024 if peaks else None,
                          "steady_rss_mib": steady_rss / 1024}
        log(f"add 1 article: p50 {out['add_one']['p50_ms']:.1f} ms wall, {out['add_one']['cpu_p50_ms']:.1f} ms CPU, "
            f"peak +{out['add_one']['peak_above_steady_mib']} MiB, found {found}/{len(walls)}")
        t = time.perf_counter()
        await engine.ingest_bytes(b"\n".join(article_json(a) for a in hundred), "hundred.jsonl")
        out["add_100_s"] = time.perf_counter() - t
        await engine.settle()
        log(f"add 100 articles: {out['add_100_s']:.2f} s")
    finally:
        await engine.close()

    small = work / "one.jsonl"
    small.write_bytes(article_json(replace(fresh[args.adds + 100], id=f"cli-added-article{tag}")) + b"\n")
    out["cli_ingest_one_s"] = newsbot("ingest", "--quiet", str(small), db=db)
    log(f"newsbot ingest of one small file: {out['cli_ingest_one_s']:.2f} s")

    # Segments: the held-back articles in several ingests, and a share of the base re-ingested changed.
    # The segments grow in a few large ingests, applied as segments whatever their size (the small
    # segments merge by the default tiered policy).
    indexing.TAIL_SHARE = 1.0
    engine = await SearchEngine.open(db, config)
    try:
        batches = 8
        for i in range(batches):
            part = later[i::batches]
            await engine.ingest_bytes(b"\n".join(article_json(a) for a in part), "grow.jsonl")
        n_changed = 0
        changed = []
        target = args.deleted_share * engine.index.n_passages
        for a in base[args.adds + 100:]:
            if n_changed >= target:
                break
            changed.append(replace(a, body=f"{a.body}\n\nتحديث {tag}."))
            n_changed += len(a.body) // 400 + 1
        await engine.ingest_bytes(b"\n".join(article_json(a) for a in changed), "update.jsonl")
        live = engine.index
        total = sum(v.n_passages for v in live.views)
        out["segments"] = {"count": len(live.views) - 1, "passages_in_segments": int(total - live.views[0].n_passages),
                           "share_in_segments": float((total - live.views[0].n_passages) / total),
                           "deleted_share": live.deleted / total, "live_passages": live.n_passages}
        log(f"segments: {out['segments']}")
        await engine.save_segments()  # what closing would do: the next process loads them
        out["startup_with_segments_s"] = newsbot("ask", questions[0], db=db)
        log(f"start-up to first answer with segments: {out['startup_with_segments_s']:.2f} s")
        indexing.MERGE_SHARE, indexing.DELETED_SHARE, indexing.TAIL_SHARE, indexing.MAX_SMALL_SEGMENTS = \
            indexing_limits
        # A second process merges everything into a new base while questions keep coming to it;
        # this one keeps its segments (the merge changes no content), so both are timed side by side.
        merged_engine = await SearchEngine.open(db, config)
        pauses: list[float] = []
        collector = GcPauses(pauses)
        try:
            waits: list[float] = []
            gc.callbacks.append(collector)
            merge = asyncio.create_task(merged_engine.rebuild_index())
            before = merged_engine.index
            i = 0
            started, asked_at = time.perf_counter(), []
            due = started
            while not merge.done():
                # A question counts from when it was due (the end of the 10 ms pause), so a stall of the
                # event loop during the pause is waited for too, as by a question arriving then.
                t = time.perf_counter()
                await merged_engine.search(questions[i % len(questions)], k=3)
                waits.append(time.perf_counter() - min(due, t))
                asked_at.append(due - started)
                i += 1
                due = time.perf_counter() + 0.01
                await asyncio.sleep(0.01)
            await merge
            merge_s = time.perf_counter() - started
            gc.callbacks.remove(collector)
            # The last seconds: the child has exited, the new base is loaded and swapped in (~1 s at 1M);
            # before that, questions share the machine with the child's build.
            swap_window = [w for w, at in zip(waits, asked_at, strict=True) if at >= merge_s - SWAP_WINDOW_S]
            worst = sorted(zip(waits, asked_at, strict=True), reverse=True)[:3]
            out["merge_probe"] = {"questions": len(waits), "max_ms": max(waits) * 1000 if waits else None,
                                  "p50_ms": statistics.median(waits) * 1000 if waits else None,
                                  "swapped": merged_engine.index is not before, "merge_s": merge_s,
                                  "worst_ms_at_s": [(w * 1000, at) for w, at in worst],
                                  "max_ms_last_seconds": max(swap_window) * 1000 if swap_window else None,
                                  "last_seconds": SWAP_WINDOW_S,
                                  # Full collections meanwhile (any thread): a pause of the whole process.
                                  "gc_full_collections": len(pauses),
                                  "gc_full_max_ms": max(pauses) * 1000 if pauses else 0.0}
            log(f"questions during a merge: {out['merge_probe']}")
            with_segments, merged = rankings(engine, questions), rankings(merged_engine, questions)
            await steady(engine, questions[0])
            await steady(merged_engine, questions[0])
            seg_times, merged_times = [], []
            for _ in range(args.runs):  # alternating, so both see the same load
                seg_times.append(await timed_search(engine, questions))
                merged_times.append(await timed_search(merged_engine, questions))
        finally:
            await merged_engine.close()
    finally:
        await engine.close()
    identical = sum(a[0] == b[0] and same(a[1], b[1]) for a, b in zip(with_segments, merged, strict=True))
    seg_p50 = float(np.median([np.percentile(np.asarray(t) * 1000, 50) for t in seg_times]))
    merged_p50 = float(np.median([np.percentile(np.asarray(t) * 1000, 50) for t in merged_times]))
    out["search_k3"] = {"with_segments_p50_ms": seg_p50, "merged_p50_ms": merged_p50, "ratio": seg_p50 / merged_p50,
                        "questions": len(questions), "runs": args.runs}
    out["oracle"] = {"identical": identical, "questions": len(questions)}
    log(f"search k=3: with segments p50 {seg_p50:.3f} ms, merged {merged_p50:.3f} ms "
        f"(x{seg_p50 / merged_p50:.2f}); oracle {identical}/{len(questions)} identical")
    if not args.keep:
        remove_db(db)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS, help="JSONL(.gz) articles (default: %(default)s)")
    p.add_argument("--size", type=int, default=100_000, help="passages in the base (default: %(default)s)")
    p.add_argument("--adds", type=int, default=20, help="single-article adds timed (default: %(default)s)")
    p.add_argument("--queries", type=int, default=1000, help="questions (default: %(default)s)")
    p.add_argument("--runs", type=int, default=3, help="runs over the questions, median p50 (default: %(default)s)")
    p.add_argument("--segment-share", type=float, default=0.10, help="share of passages in segments (default: 0.10)")
    p.add_argument("--deleted-share", type=float, default=0.05, help="share of passages deleted (default: 0.05)")
    p.add_argument("--workdir", type=Path, help="where the database is built (default: a temporary folder)")
    p.add_argument("--keep", action="store_true", help="keep (and reuse) the database in --workdir")
    p.add_argument("--pin", action="store_true", help="pin this process to one core")
    args = p.parse_args()
    args.workdir = Path(args.workdir or tempfile.mkdtemp(prefix="nrt-"))
    args.workdir.mkdir(parents=True, exist_ok=True)
    if args.pin:
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    result = asyncio.run(run(args))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
