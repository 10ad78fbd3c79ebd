"""Our near-real-time index against tantivy on the same analysed passages (issue 14).

"Do at least as well on the add, and keep the lead on the search." Both engines index the very
terms our analysis chain stored for each passage (`passages.terms`): tantivy gets them as
whitespace-separated text with its `whitespace` tokenizer (no lowercasing, no stemming), so the
two hold the same terms and postings. In one process, side by side:

- one article added and found: ours `SearchEngine.ingest_bytes` of the article (analysis, SQLite
  write, passage log, story grouping against the story index the serving process holds, segment,
  refresh; searchable when it returns), timed alone and with the whole answer path for its title
  (k=10) that must show it; tantivy the same
  article's analysed passages added, committed, the index reloaded and a new searcher finding its
  first passage (median of `--adds`, 10);
- ~100 passages (whole articles) added the same ways (median of `--hundreds`, 3);
- the added articles are ones the database does not hold (`--added unseen`, the default: a database
  built here keeps the corpus's last articles out, `corpus.held_out`, as benchmarks.nrt does), as a feed
  brings new stories; `--added copies` adds copies of stored articles, which the story lookup settles at
  its first key;
- our CPU of each add, including the work it starts after it is searchable (the merge of small
  segments, `SearchEngine.settle`; the story map's read of the new view), waited for before
  tantivy's turn;
- top 10 for the same questions: our C kernel alone (`topk.top` on the merged index, the
  question's known terms weighted by their count), our whole ranking (`query.rank`: expansion,
  kernel, re-ranking of the leading articles, the no-answer rule; no SQL, no excerpts) and tantivy
  (a boolean SHOULD query of the same distinct terms, `searcher.search(query, 10)`), p50 and p95,
  medians over `--runs` alternating runs.

The database is one `benchmarks.nrt --keep` built (or built here, as nrt builds it, if missing);
its index is merged first so both engines search one segment. tantivy is not a dependency of the
bot: `pip install -e '.[bench]'` (or `pip install tantivy`).

    .venv/bin/python -m benchmarks.tantivy_compare --size 100000 --workdir /tmp/nrt100k
    .venv/bin/python -m benchmarks.tantivy_compare --size 1000000 --workdir /tmp/nrt1m
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sqlite3
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.corpus import HELD_OUT, held_out, passage_count, unseen
from benchmarks.nrt import article_json
from benchmarks.perf import DEFAULT_CORPUS, load_articles, log, make_questions, sized_corpus, write_jsonl
from retrieval import query, topk
from retrieval.analysis import analyze_query
from retrieval.articles import Article
from retrieval.engine import RetrievalConfig, SearchEngine

try:
    import tantivy
except ImportError:  # reported by main() with how to install it
    tantivy = None


async def build_database(db: Path, size: int, articles: list[Article], config: RetrievalConfig) -> None:
    """A database of `size` passages through the real ingest path, as benchmarks.nrt builds it."""
    # The held-out articles are never stored: the adds take them (`added_pool`).
    corpus, _, _ = sized_corpus(held_out(articles)[0], size, config)
    jsonl = db.with_name("base.jsonl")
    write_jsonl(corpus, jsonl)
    log(f"ingesting {len(corpus):,} articles into {db}")
    async with await SearchEngine.open(db, config, load_index=False) as engine:
        await engine.ingest_paths([jsonl], rebuild=False)
        await engine.rebuild_index()
    jsonl.unlink()


def added_pool(db: Path, articles: list[Article], kind: str, needed: int) -> list[Article]:
    """The articles the adds take: with `unseen`, the corpus's articles the database does not hold (by URL:
    a repeated article's URL carries its pass), as a feed brings new stories; with `copies`, the second
    half of the corpus whatever the database holds (at 1M every article is stored nine times over, so an
    add is a copy of stored ones, which the story lookup settles with one key)."""
    if kind == "copies":
        return articles[len(articles) // 2:]
    new = unseen(db, articles)
    if len(new) < needed:
        sys.exit(f"tantivy_compare: the database holds all but {len(new)} of the corpus's articles and the adds "
                 f"need ~{needed}: build the database here (--size, holding out the last {HELD_OUT:,}) or pass "
                 "--added copies")
    return new


def stored_passages(con: sqlite3.Connection, article_id: str | None = None) -> list[tuple[int, str]]:
    """(passage id, analysed terms) of every passage, or of one article's."""
    if article_id is None:
        return con.execute("SELECT id, terms FROM passages ORDER BY id").fetchall()
    return con.execute("SELECT id, terms FROM passages WHERE article_id = ? ORDER BY id", (article_id,)).fetchall()


class Tantivy:
    """A tantivy index on disk over (passage id, analysed terms), searched as issue 14 measured it."""

    def __init__(self, path: Path) -> None:
        shutil.rmtree(path, ignore_errors=True)
        path.mkdir(parents=True)
        builder = tantivy.SchemaBuilder()
        # Term frequencies (BM25 needs them), no positions: the same information as our postings.
        builder.add_text_field("body", stored=False, tokenizer_name="whitespace", index_option="freq")
        builder.add_integer_field("pid", stored=True, indexed=True, fast=True)
        self.schema = builder.build()
        self.index = tantivy.Index(self.schema, path=str(path))
        self.writer = self.index.writer(heap_size=128_000_000, num_threads=1)

    def add(self, passages: list[tuple[int, str]]) -> None:
        for pid, terms in passages:
            self.writer.add_document(tantivy.Document(body=terms, pid=pid))

    def commit_and_find(self, pid: int) -> bool:
        """Commit, reload, and look the passage up with a new searcher: the add as a reader sees it."""
        self.writer.commit()
        self.index.reload()
        searcher = self.index.searcher()
        return searcher.search(tantivy.Query.term_query(self.schema, "pid", pid), 1).count == 1

    def query(self, terms: list[str]) -> Any:
        return tantivy.Query.boolean_query([(tantivy.Occur.Should, tantivy.Query.term_query(self.schema, "body", t))
                                            for t in terms])


async def settled(engine: SearchEngine) -> None:
    """Wait for the background work an add starts: the merge of small segments, the story map's read."""
    await engine.settle()
    if engine.story_map is not None:
        await engine.story_map.settled()


def p50_p95(seconds: list[float]) -> tuple[float, float]:
    ms = np.asarray(seconds) * 1000
    return float(np.percentile(ms, 50)), float(np.percentile(ms, 95))


async def run(args: argparse.Namespace) -> dict:
    config = RetrievalConfig()
    articles = load_articles(args.corpus)
    work: Path = args.workdir
    db = work / "news.db"
    if not db.exists():
        await build_database(db, args.size, articles, config)
    else:
        log(f"reusing {db}")
    questions = make_questions(articles, args.queries)
    out: dict = {"db": str(db)}
    engine = await SearchEngine.open(db, config)
    try:
        await engine.load_stories()  # as the bot does when it starts serving (bot/app.py), and benchmarks.nrt
        if len(engine.index.views) > 1 or engine.index.deleted:
            log("merging the segments first (both engines search one segment)")
            await engine.rebuild_index()
        live = engine.index
        view = live.views[0]
        out["passages"] = live.n_passages
        con = sqlite3.connect(db)
        try:
            rows = stored_passages(con)
            log(f"tantivy: indexing {len(rows):,} passages")
            t = time.perf_counter()
            tv = Tantivy(work / "tantivy")
            tv.add(rows)
            tv.commit_and_find(rows[-1][0])
            out["tantivy_build_s"] = time.perf_counter() - t
            del rows

            # --- search: the same questions, the same terms ---
            asked = []
            for q in questions:
                terms = [t for t in analyze_query(q) if t in live.vocabulary]
                if terms:
                    asked.append((q, terms))
            searcher = tv.index.searcher()
            runs: dict[str, list[list[float]]] = {"kernel": [], "rank": [], "tantivy": []}
            for _ in range(args.runs):  # alternating, so all three see the same load
                kernel, ranked, tant = [], [], []
                for q, terms in asked:
                    s = time.perf_counter()
                    weights: dict[int, float] = {}
                    for term in terms:
                        tid = live.vocabulary[term]
                        weights[tid] = weights.get(tid, 0.0) + 1.0
                    topk.top(view, weights, 10, None)
                    kernel.append(time.perf_counter() - s)
                    s = time.perf_counter()
                    query.rank(live, q, 10, 0, config)
                    ranked.append(time.perf_counter() - s)
                    s = time.perf_counter()
                    searcher.search(tv.query(list(dict.fromkeys(terms))), 10)
                    tant.append(time.perf_counter() - s)
                runs["kernel"].append(kernel)
                runs["rank"].append(ranked)
                runs["tantivy"].append(tant)
            out["search_top10"] = {"questions": len(asked), "runs": args.runs}
            for name, per_run in runs.items():
                stats = [p50_p95(r) for r in per_run]
                out["search_top10"][name] = {"p50_ms": statistics.median(s[0] for s in stats),
                                             "p95_ms": statistics.median(s[1] for s in stats)}
            s10 = out["search_top10"]
            log(f"top 10 p50: our kernel {s10['kernel']['p50_ms']:.3f} ms, our whole rank {s10['rank']['p50_ms']:.3f} "
                f"ms, tantivy {s10['tantivy']['p50_ms']:.3f} ms ({len(asked)} questions)")

            # --- adds: one article at a time, then ~100 passages ---
            tag = f"~tv{int(time.time())}"
            # ~25 articles (~4 passages each) make 100 passages; room for shorter ones
            needed = args.adds + 30 * args.hundreds
            pool = iter(added_pool(db, articles, args.added, needed))
            out["added"] = args.added
            ours, answered, theirs, found_ours, found_theirs, sizes = [], [], [], 0, 0, []
            ours_cpu: list[float] = []
            for i in range(args.adds):
                a = replace(next(pool), id=f"tv-one-{i}{tag}")
                s, cpu = time.perf_counter(), time.process_time()
                await engine.ingest_bytes(article_json(a), "one.json")  # searchable when it returns
                ours.append(time.perf_counter() - s)
                result = await engine.search(a.title or a.body[:200], k=10)
                answered.append(time.perf_counter() - s)
                found_ours += any(h.article_id == a.id or any(c.article_id == a.id for c in h.also)
                                  for h in result.hits)
                # What the add started after it (a merge of small segments, the story map's read of the
                # new view) finishes before tantivy's turn, whose core it would take; its CPU is in ours.
                await settled(engine)
                ours_cpu.append(time.process_time() - cpu)
                passages = stored_passages(con, a.id)
                sizes.append(len(passages))
                s = time.perf_counter()
                tv.add(passages)
                found_theirs += tv.commit_and_find(passages[-1][0])
                theirs.append(time.perf_counter() - s)
            out["add_one_article"] = {
                "n": args.adds, "passages_median": statistics.median(sizes),
                "ours_p50_ms": statistics.median(ours) * 1000,
                "ours_with_answer_p50_ms": statistics.median(answered) * 1000, "ours_found": found_ours,
                "ours_cpu_p50_ms": statistics.median(ours_cpu) * 1000,
                "tantivy_p50_ms": statistics.median(theirs) * 1000, "tantivy_found": found_theirs}
            log(f"add one article ({statistics.median(sizes)} passages), found: ours p50 "
                f"{out['add_one_article']['ours_p50_ms']:.1f} ms searchable "
                f"(CPU {out['add_one_article']['ours_cpu_p50_ms']:.1f} ms), "
                f"{out['add_one_article']['ours_with_answer_p50_ms']:.1f} ms with the whole answer to its title "
                f"({found_ours}/{args.adds} found), tantivy "
                f"{out['add_one_article']['tantivy_p50_ms']:.1f} ms ({found_theirs}/{args.adds})")
            ours, theirs, counts, hundred_cpu = [], [], [], []
            for i in range(args.hundreds):
                batch: list[Article] = []
                held = 0
                while held < 100:
                    a = replace(next(pool), id=f"tv-hundred-{i}-{len(batch)}{tag}")
                    batch.append(a)
                    held += passage_count(a, config)
                s, cpu = time.perf_counter(), time.process_time()
                await engine.ingest_bytes(b"\n".join(article_json(a) for a in batch), "hundred.jsonl")
                ours.append(time.perf_counter() - s)
                await settled(engine)
                hundred_cpu.append(time.process_time() - cpu)
                passages = [p for a in batch for p in stored_passages(con, a.id)]
                counts.append(len(passages))
                s = time.perf_counter()
                tv.add(passages)
                if not tv.commit_and_find(passages[-1][0]):
                    raise RuntimeError("tantivy did not find a passage it just committed")
                theirs.append(time.perf_counter() - s)
            out["add_100_passages"] = {"passages": counts, "ours_median_ms": statistics.median(ours) * 1000,
                                       # the tail: a commit that runs SQLite's WAL checkpoint shows here
                                       "ours_mean_ms": statistics.mean(ours) * 1000, "ours_max_ms": max(ours) * 1000,
                                       "tantivy_mean_ms": statistics.mean(theirs) * 1000,
                                       "ours_cpu_median_ms": statistics.median(hundred_cpu) * 1000,
                                       "tantivy_median_ms": statistics.median(theirs) * 1000}
            log(f"add ~100 passages ({counts}): ours {out['add_100_passages']['ours_median_ms']:.1f} ms "
                f"(CPU {out['add_100_passages']['ours_cpu_median_ms']:.1f} ms; mean "
                f"{out['add_100_passages']['ours_mean_ms']:.1f}, max {out['add_100_passages']['ours_max_ms']:.1f} ms), "
                f"tantivy {out['add_100_passages']['tantivy_median_ms']:.1f} ms (medians of {args.hundreds})")
        finally:
            con.close()
    finally:
        await engine.close()
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS, help="JSONL(.gz) articles (default: %(default)s)")
    p.add_argument("--size", type=int, default=100_000, help="passages, if the database is built here")
    p.add_argument("--workdir", type=Path, required=True,
                   help="holds news.db (a benchmarks.nrt --keep workdir is reused) and the tantivy index")
    p.add_argument("--queries", type=int, default=1000, help="questions (default: %(default)s)")
    p.add_argument("--runs", type=int, default=3, help="alternating runs over the questions (default: %(default)s)")
    p.add_argument("--adds", type=int, default=10, help="single-article adds (default: %(default)s)")
    p.add_argument("--hundreds", type=int, default=3, help="adds of ~100 passages (default: %(default)s)")
    p.add_argument("--added", choices=("unseen", "copies"), default="unseen",
                   help="what the adds take: articles the database does not hold (default), or copies of stored ones")
    p.add_argument("--no-pin", action="store_true", help="do not pin this process (and tantivy) to one core")
    args = p.parse_args()
    if tantivy is None:
        sys.exit("tantivy is not installed: `.venv/bin/pip install -e '.[bench]'` (or `pip install tantivy`)")
    args.workdir.mkdir(parents=True, exist_ok=True)
    if not args.no_pin:
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    result = asyncio.run(run(args))
    result["command"] = " ".join(sys.argv)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
