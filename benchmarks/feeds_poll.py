"""Feed polling, measured: 50 local feeds × 50 items whose pages must be fetched and extracted.

A child process serves the feeds and article pages from files (aiohttp static files, with ETag and
Last-Modified as a web server sends them) on `--outlets` ports of 127.0.0.1, each port an outlet.
The pages are real news articles of the corpus (not in the database) laid out as outlets lay them out
(tests/news_site.py, imported from the tests on purpose: the extraction tests and this benchmark
serve the same page layouts: menus, share buttons, related blocks, comment forms, copyright lines). This
process opens the database (`--passages` passages of the corpus already indexed) as the bot does,
and polls every feed once with the real poller while a reader's question is asked every
`--question-ms` on the same event loop. Reports:

- articles per second (poll wall time, first request to last article stored), and the time until
  the index holds them all;
- CPU per article: the bot process's CPU during the poll less the questions' share (measured alone
  just before), plus what the parse/extraction worker process reported, divided by the articles; and
  per article (median) parse + extraction + ingest: parse and extraction as the worker timed them
  (`time.thread_time`), ingest measured after the poll by ingesting the same articles again, 50 at a
  time, into a fresh database;
- question latency during the poll (from when the question was due to its answer, so a stalled event
  loop counts) against the same questions with no poll;
- time from the poll that sees a new item to that item being searchable (`--trials` times);
- the three parsers on the same feeds: ours (lxml), fastfeedparser, feedparser.

    .venv/bin/python -m benchmarks.feeds_poll                  # 100k passages, 50 × 50, ~4 min
    .venv/bin/python -m benchmarks.feeds_poll --feeds 10 --items 10 --passages 20000   # quick look
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import numpy as np

from benchmarks import perf
from bot import schema
from bot.feeds import store as feeds_store
from bot.feeds.fetch import Fetcher
from bot.feeds.parse import parse_feed
from bot.feeds.poller import PollConfig, Poller
from retrieval.articles import Article
from retrieval.engine import RetrievalConfig, SearchEngine
from tests.news_site import Item, article_page, rss2

REPO = Path(__file__).resolve().parent.parent
CACHE = REPO / "benchmarks" / ".cache"


# --- the news site (child process) ------------------------------------------------------------------

def serve(folder: Path, outlets: int) -> None:
    from aiohttp import web

    async def run() -> None:
        runners = []
        ports = []
        for o in range(outlets):
            app = web.Application()
            app.router.add_static("/", folder / f"o{o}")
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            runners.append(runner)
            ports.append(site._server.sockets[0].getsockname()[1])
        print(json.dumps(ports), flush=True)
        await asyncio.Event().wait()

    asyncio.run(run())


def write_site(folder: Path, articles: list[Article], n_feeds: int, n_items: int,
               outlets: int) -> list[tuple[int, str, list[Item]]]:
    """Article pages; returns (outlet, feed path, items) per feed (feeds are written once ports are known)."""
    feeds = []
    base = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
    k = 0
    for f in range(n_feeds):
        o = f % outlets
        (folder / f"o{o}" / "a").mkdir(parents=True, exist_ok=True)
        items = []
        for i in range(n_items):
            a = articles[k]
            k += 1
            path = f"/a/{f}-{i}.html"
            (folder / f"o{o}" / path[1:]).write_bytes(article_page(a.title, a.body.split("\n")))
            items.append(Item(a.title, f"PORT{o}{path}", summary=a.body[:200],
                              date=format_datetime(base - timedelta(minutes=k))))
        feeds.append((o, f"/feed{f}.xml", items))
    return feeds


def write_feed(folder: Path, ports: list[int], o: int, path: str, title: str, items: list[Item]) -> None:
    fixed = [Item(it.title, it.link.replace(f"PORT{o}", f"http://127.0.0.1:{ports[o]}", 1), summary=it.summary,
                  date=it.date) for it in items]
    (folder / f"o{o}" / path[1:]).write_bytes(rss2(title, fixed))


# --- measuring ----------------------------------------------------------------------------------------

class Asker:
    """A reader's question every `interval` s on the event loop, timed from when it was due."""

    def __init__(self, engine: SearchEngine, questions: list[str], interval: float) -> None:
        self.engine, self.questions, self.interval = engine, questions, interval
        self.latencies: list[float] = []
        self.cpu = 0.0
        self._task: asyncio.Task | None = None

    async def _run(self) -> None:
        due = time.perf_counter()
        i = 0
        while True:
            due += self.interval
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            cpu = time.thread_time()
            await self.engine.search(self.questions[i % len(self.questions)])
            self.cpu += time.thread_time() - cpu
            self.latencies.append(time.perf_counter() - due)
            self.due.append(due)
            i += 1

    def start(self) -> None:
        self.latencies, self.cpu, self.due = [], 0.0, []
        self._task = asyncio.ensure_future(self._run())

    async def stop(self) -> None:
        assert self._task is not None
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values) * 1000, q)) if values else float("nan")


def base_db(corpus: list[Article], passages: int) -> Path:
    CACHE.mkdir(parents=True, exist_ok=True)
    db = CACHE / f"feeds-base-{passages}.db"
    if db.exists() and Path(str(db) + ".index.npz").exists():
        return db
    for p in CACHE.glob(f"feeds-base-{passages}.db*"):
        p.unlink()
    chosen, n, _ = perf.sized_corpus(corpus, passages, RetrievalConfig())
    perf.log(f"building the {n:,}-passage database (cached in {CACHE})")

    async def build() -> None:
        async with await SearchEngine.open(db, RetrievalConfig(), load_index=False) as engine:
            await engine.ingest_articles(chosen, "bench", rebuild=False)
            await engine.rebuild_index()

    asyncio.run(build())
    return db


def compare_parsers(docs: list[bytes]) -> dict:
    out = {}
    ours = [parse_feed(d) for d in docs]
    runs = {"ours (lxml)": lambda d: parse_feed(d).items}
    try:
        import fastfeedparser
        runs["fastfeedparser"] = lambda d: fastfeedparser.parse(d).entries
    except ImportError:
        pass
    try:
        import feedparser
        runs["feedparser"] = lambda d: feedparser.parse(d).entries
    except ImportError:
        pass
    for name, fn in runs.items():
        times, same = [], 0
        for d, mine in zip(docs, ours, strict=True):
            t = time.perf_counter()
            entries = fn(d)
            times.append(time.perf_counter() - t)
            same += [e["link"] if isinstance(e, dict) else e.link for e in entries] == [i.link for i in mine.items]
        out[name] = {"median_ms_per_feed": statistics.median(times) * 1000, "total_s": sum(times),
                     "feeds_with_same_links": same, "feeds": len(docs)}
    return out


def measure(args: argparse.Namespace) -> dict:
    corpus = perf.load_articles(args.corpus)
    base = base_db(corpus, args.passages)
    chosen, _, _ = perf.sized_corpus(corpus, args.passages, RetrievalConfig())
    used = {a.id for a in chosen}
    fresh = [a for a in corpus if a.id not in used and a.title and len(a.body) > 600]
    need = args.feeds * args.items + args.trials
    if len(fresh) < need:
        raise SystemExit(f"feeds_poll: the corpus has only {len(fresh)} articles beyond the database; need {need}")
    work = Path(tempfile.mkdtemp(prefix="feeds-poll-"))
    try:
        db = work / "news.db"
        shutil.copy(base, db)
        shutil.copy(str(base) + ".index.npz", str(db) + ".index.npz")
        site = work / "site"
        full = write_site(site, fresh, args.feeds, args.items, args.outlets)
        server = subprocess.Popen([sys.executable, "-m", "benchmarks.feeds_poll", "--serve", str(site),
                                   "--outlets", str(args.outlets)], stdout=subprocess.PIPE, cwd=REPO)
        try:
            ports = json.loads(server.stdout.readline())
            for o, path, items in full:
                write_feed(site, ports, o, path, f"مصدر {path}", items)
            feed_docs = [(site / f"o{o}" / path[1:]).read_bytes() for o, path, _ in full]
            report = asyncio.run(_poll(args, db, ports, full, site, fresh[args.feeds * args.items:], chosen))
        finally:
            server.terminate()
            server.wait()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report["parsers"] = compare_parsers(feed_docs)
    return report


async def watch_rebuilds(engine: SearchEngine, windows: list[tuple[float, float]], every: float = 0.01) -> None:
    """Note when the engine rebuilds its index (`SearchEngine.rebuilding`, sampled every `every` s),
    until cancelled: the windows the poll's questions may have waited in."""
    started: float | None = None
    try:
        while True:
            if engine.rebuilding and started is None:
                started = time.perf_counter()
            elif not engine.rebuilding and started is not None:
                windows.append((started, time.perf_counter()))
                started = None
            await asyncio.sleep(every)
    finally:
        if started is not None:
            windows.append((started, time.perf_counter()))


async def _poll(args, db, ports, full, site, spare, background) -> dict:
    engine = await SearchEngine.open(db, RetrievalConfig())
    fdb = await schema.connect(db)
    fetcher = Fetcher(user_agent="newsbot-bench", host_delay=0, allow_hosts={"127.0.0.1"}, concurrency=8)
    poller = Poller(engine, fdb, fetcher, PollConfig(interval=3600))
    try:
        for o, path, _ in full:
            await feeds_store.add_feed(fdb, f"http://127.0.0.1:{ports[o]}{path}", "")
        questions = perf.make_questions(background, 400)
        asker = Asker(engine, questions, args.question_ms / 1000)
        for q in questions[:50]:  # warm caches
            await engine.search(q)
        asker.start()
        await asyncio.sleep(args.baseline_seconds)
        await asker.stop()
        idle = list(asker.latencies)
        q_cpu = asker.cpu / max(len(idle), 1)
        perf.log(f"baseline: {len(idle)} questions, p50 {pct(idle, 50):.1f} ms, p99 {pct(idle, 99):.1f} ms")

        rebuilds: list[tuple[float, float]] = []
        watching = asyncio.create_task(watch_rebuilds(engine, rebuilds))
        stored_at: list[float] = []
        poller.on_ingested = lambda _outcome: stored_at.append(time.perf_counter())
        children = os.times()
        cpu0, t0 = time.process_time(), time.perf_counter()
        asker.start()
        outcomes = await poller.poll_once()  # returns once the index holds every article
        searchable_wall = time.perf_counter() - t0
        await asker.stop()
        watching.cancel()
        cpu = time.process_time() - cpu0
        poll_wall = max(stored_at) - t0 if stored_at else searchable_wall
        poller.on_ingested = None
        poll_cpu = {k: list(v) for k, v in poller.cpu.items()}
        worker_cpu = sum(poll_cpu["extract"]) + sum(c for c, _ in poll_cpu["parse"])
        during = list(asker.latencies)
        slow = sorted(zip(asker.latencies, asker.due, strict=True), reverse=True)[:8]
        slowest = [{"latency_ms": round(lat * 1000, 1), "due_s": round(d - t0, 2)} for lat, d in slow]
        rebuild_windows = [(round(a - t0, 2), round(b - t0, 2)) for a, b in rebuilds]
        children_cpu = sum(os.times()[2:4]) - sum(children[2:4])
        added = sum(o.added for o in outcomes)
        failed = [o.line() for o in outcomes if o.result == "failed"]
        perf.log(f"poll: {added} articles in {poll_wall:.1f} s; {len(during)} questions p50 {pct(during, 50):.1f}"
                 f" ms p99 {pct(during, 99):.1f} ms; failed: {failed[:3]}")

        # Poll to searchable: a new item in one feed, that feed polled, its unique words asked.
        trials = []
        for t in range(args.trials):
            o, path, items = full[t % len(full)]
            a = spare[t]
            page_path = f"/a/new-{t}.html"
            (site / f"o{o}" / page_path[1:]).write_bytes(article_page(a.title, a.body.split("\n")))
            items.insert(0, Item(a.title, f"PORT{o}{page_path}", summary=a.body[:200],
                                 date=format_datetime(datetime.now(UTC))))
            write_feed(site, ports, o, path, f"مصدر {path}", items)
            feed = await feeds_store.get_feed(fdb, f"http://127.0.0.1:{ports[o]}{path}")
            started = time.perf_counter()
            outcome = await poller.poll_feed(feed)
            polled = time.perf_counter() - started
            while True:
                result = await engine.search(a.title, k=10)
                if any(h.url.endswith(page_path) for h in result.hits):
                    break
                if time.perf_counter() - started > 120:
                    raise SystemExit("feeds_poll: the new item was not searchable after 120 s")
                await asyncio.sleep(0.02)
            trials.append({"poll_s": polled, "searchable_s": time.perf_counter() - started,
                           "outcome": outcome.line()})
        index_passages = engine.index.n_passages if engine.index else 0

        # Ingest CPU alone: the same articles again into a fresh database, 50 at a time.
        rows = await fdb.execute_fetchall(
            "SELECT id, body, title, source, section, published, url, author FROM articles"
            " WHERE origin LIKE 'feed:%' ORDER BY rowid")
        feed_articles = [Article(*r) for r in rows]
        ingest_cpu = []
        async with await SearchEngine.open(db.with_name("ingest.db"), RetrievalConfig(),
                                           load_index=False) as other:
            for start in range(0, len(feed_articles), 50):
                batch = feed_articles[start:start + 50]
                c = time.process_time()
                await other.ingest_articles(batch, "bench", rebuild=False)
                ingest_cpu.append((time.process_time() - c) / len(batch))
    finally:
        await poller.close()
        await fetcher.close()
        await fdb.close()
        await engine.close()

    extract = poll_cpu["extract"] or [0.0]
    parse_per_item = statistics.median(c / max(n, 1) for c, n in poll_cpu["parse"]) if poll_cpu["parse"] else 0.0
    ingest_med = statistics.median(ingest_cpu) if ingest_cpu else 0.0
    per_article = sorted(e + parse_per_item + ingest_med for e in extract)
    return {
        "feeds": args.feeds, "items_per_feed": args.items, "outlets": args.outlets,
        "passages_indexed": index_passages, "articles": added, "failed_feeds": len(failed),
        # Items not stored as articles of their own, by reason (the corpus repeats some texts).
        "items_not_stored": {what: sum(int(m.group(1)) for o in outcomes
                                       if (m := re.search(rf"(\d+) {what}", o.detail)))
                             for what in ("duplicates", "dropped", "pages deferred")},
        "summary_only": sum(int(m.group(1)) for o in outcomes if (m := re.search(r"(\d+) summary only", o.detail))),
        "poll_seconds": poll_wall, "articles_per_s": added / poll_wall,
        "poll_until_all_searchable_seconds": searchable_wall,
        "slowest_questions_during_poll": slowest, "index_rebuilds_during_poll_s": rebuild_windows,
        "articles_stored_at_s": [round(x - t0, 2) for x in stored_at][:: max(1, len(stored_at) // 10)],
        "cpu_per_article_all_in_ms": (cpu - q_cpu * len(during) + worker_cpu) / max(added, 1) * 1000,
        "worker_process_cpu_s": worker_cpu,
        "index_rebuild_cpu_s_children": children_cpu,
        "cpu_per_article_parse_extract_ingest_median_ms": statistics.median(per_article) * 1000,
        "extract_cpu_median_ms": statistics.median(extract) * 1000,
        "extract_cpu_p90_ms": float(np.percentile(extract, 90)) * 1000,
        "parse_cpu_per_item_ms": parse_per_item * 1000, "ingest_cpu_per_article_median_ms": ingest_med * 1000,
        "questions_idle": {"n": len(idle), "p50_ms": pct(idle, 50), "p99_ms": pct(idle, 99),
                           "max_ms": pct(idle, 100)},
        "questions_during_poll": {"n": len(during), "p50_ms": pct(during, 50), "p99_ms": pct(during, 99),
                                  "max_ms": pct(during, 100)},
        "poll_to_searchable_s": {"median": statistics.median(t["searchable_s"] for t in trials),
                                 "max": max(t["searchable_s"] for t in trials),
                                 "poll_median": statistics.median(t["poll_s"] for t in trials)} if trials else {},
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--corpus", type=Path, default=perf.DEFAULT_CORPUS)
    p.add_argument("--passages", type=int, default=100_000, help="passages already indexed")
    p.add_argument("--feeds", type=int, default=50)
    p.add_argument("--items", type=int, default=50)
    p.add_argument("--outlets", type=int, default=10, help="ports (hosts) the feeds are spread over")
    p.add_argument("--question-ms", type=float, default=50.0, help="a question every this many ms")
    p.add_argument("--baseline-seconds", type=float, default=5.0)
    p.add_argument("--trials", type=int, default=5, help="poll-to-searchable trials")
    p.add_argument("--serve", type=Path, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.serve:
        serve(args.serve, args.outlets)
        return 0
    args.outlets = max(1, min(args.outlets, args.feeds))
    report = measure(args)
    report["machine"] = perf.machine() | {"load_avg": os.getloadavg()}
    report["measured_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    print(json.dumps(report, ensure_ascii=False, indent=1))
    out = REPO / "benchmarks" / "results" / f"feeds-poll-{report['measured_at'].replace(':', '')}.json"
    out.write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
