"""`newsbot`: the command line (ingest, reindex, ask, search, stats, start, run, feeds, watch)."""

from __future__ import annotations

import argparse
import asyncio
import faulthandler
import json
import logging
import signal
import sqlite3
import sys
from collections.abc import Sequence
from pathlib import Path

from retrieval import analysis
from retrieval.engine import SearchEngine
from retrieval.news import NewsDesk
from retrieval.store import SchemaError

from . import newscli
from .feeds import cliargs as feed_args
from .settings import Settings, SettingsError, load_settings
from .terminal import format_result, format_stats

log = logging.getLogger("newsbot")


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--db", type=Path, help="database path (default: NEWSBOT_DB or data/news.db)")
    p = argparse.ArgumentParser(prog="newsbot", description="Answer Arabic questions from news articles.")
    sub = p.add_subparsers(dest="command", required=True)

    ing = sub.add_parser("ingest", parents=[common], help="load articles from files or folders")
    ing.add_argument("paths", nargs="+", type=Path, help=".txt, .jsonl, .json (or .gz of one) files, or folders")
    ing.add_argument("--quiet", action="store_true", help="print only the summary and problems")

    sub.add_parser("reindex", parents=[common], help="rebuild the search index from the database")

    ask = sub.add_parser("ask", parents=[common], help="answer one question")
    ask.add_argument("question")
    ask.add_argument("-k", type=int, default=None, help="number of results (default: NEWSBOT_RESULTS_PER_PAGE)")
    newscli.add_now_argument(ask)

    search = sub.add_parser("search", parents=[common], help="questions on stdin, JSON results on stdout")
    search.add_argument("--jsonl", action="store_true", required=True,
                        help="one question per input line, one JSON object per output line")
    search.add_argument("-k", type=int, default=3)
    newscli.add_now_argument(search)
    newscli.add_sources_parser(sub, common)

    analyze = sub.add_parser("analyze", parents=[common],
                             help="the terms of each stdin line through the indexing chain (or --query's)")
    analyze.add_argument("--query", action="store_true", help="the question chain (question words dropped too)")
    analyze.add_argument("--jsonl", action="store_true", help='one {"text", "terms"} JSON object per input line')

    sub.add_parser("stats", parents=[common], help="articles, passages, sources and index figures")
    sub.add_parser("prompt", parents=[common], help="interactive question prompt in the terminal")
    sub.add_parser("start", parents=[common], help="run the Telegram bot if a token is set, else the prompt")
    sub.add_parser("run", parents=[common], help="run the Telegram bot (needs TELEGRAM_BOT_TOKEN)")
    feed_args.add_cli(sub, common)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    # Ctrl-C anywhere once newsbot runs (even while settings are still being read) gets the
    # one-line message: every write is a whole transaction, so there is nothing to clean up.
    try:
        return _run_command(argv)
    except KeyboardInterrupt:
        print("\nnewsbot: interrupted; every article written so far is complete", file=sys.stderr)
        return 130


def _run_command(argv: Sequence[str] | None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = load_settings(**({"db": args.db} if args.db else {}))
    except SettingsError as exc:
        print(f"newsbot: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(level=settings.log_level if args.command in ("run", "start") else "WARNING",
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.command == "run" or (args.command == "start" and settings.telegram_bot_token):
        from .app import run_bot  # imported here: the terminal commands never need telegram

        return run_bot(settings)
    try:
        return asyncio.run(_COMMANDS[args.command](settings, args))
    except SchemaError as exc:
        print(f"newsbot: {settings.db}: {exc}", file=sys.stderr)
        return 2
    except sqlite3.DatabaseError as exc:  # a damaged file, or locked by another program
        print(f"newsbot: {settings.db}: database error: {exc}", file=sys.stderr)
        return 2


async def _open(settings: Settings, *, load_index: bool = True, many_questions: bool = False) -> SearchEngine:
    """The engine for a command; the story map only where many questions are answered (`SearchEngine.open`)."""
    return await SearchEngine.open(settings.db, settings.retrieval_config(), load_index=load_index,
                                   story_map=many_questions)


class _Progress:
    """Ingest progress on stderr (tqdm), only when stderr is a terminal: a log file gets the summary alone."""

    def __init__(self, enabled: bool) -> None:
        from tqdm import tqdm  # here: ~60 ms of imports every other command (`newsbot ask`) does without

        self.bar = tqdm(unit=" articles", file=sys.stderr, disable=not (enabled and sys.stderr.isatty()),
                        leave=True)

    def __call__(self, files: int, records: int) -> None:
        self.bar.update(records - self.bar.n)
        self.bar.set_postfix_str(f"{files} files", refresh=False)

    def done(self) -> None:
        self.bar.close()


async def cmd_ingest(settings: Settings, args: argparse.Namespace) -> int:
    async with await _open(settings, load_index=False) as engine:
        progress = _Progress(not args.quiet)
        report = await engine.ingest_paths(args.paths, progress, rebuild=False)
        progress.done()
        for skipped in report.skipped:
            print(f"skipped {skipped}", file=sys.stderr)
        # Nothing to load: a process serving questions picks the new passages up from the
        # database's passage log. The index is rebuilt only if the log cannot bridge to it
        # (missing or foreign index file, or a tail too long to apply as segments).
        await engine.ensure_index(serve=False)
    if not args.quiet or report.added or report.updated or report.skipped:
        print(f"ingest: {report.summary()}")
    return 0 if report.ingested else 1


async def cmd_reindex(settings: Settings, args: argparse.Namespace) -> int:
    async with await _open(settings, load_index=False) as engine:
        info = await engine.rebuild_index()
    print(f"reindex: {info.passages} passages, {info.terms} terms in {info.build_seconds:.2f} s")
    return 0


async def cmd_ask(settings: Settings, args: argparse.Namespace) -> int:
    async with await _open(settings) as engine:
        desk = NewsDesk(engine, settings.timezone)
        result = await desk.ask(args.question, k=args.k or settings.results_per_page,
                                now=newscli.now_of(args, settings))
    print(format_result(result))
    return 0


def hit_json(hit) -> dict:
    return {"article_id": hit.article_id, "passage_id": hit.passage_id, "score": hit.score, "title": hit.title,
            "source": hit.source, "published": hit.published, "url": hit.url, "excerpt": hit.excerpt,
            **newscli.hit_news_json(hit)}


async def cmd_search(settings: Settings, args: argparse.Namespace) -> int:
    async with await _open(settings) as engine:
        desk = NewsDesk(engine, settings.timezone)
        now = newscli.now_of(args, settings)
        for line in sys.stdin:
            question = line.rstrip("\n")
            if not question.strip():
                continue
            result = await desk.ask(question, k=args.k, now=now)
            print(json.dumps({"query": question, "filters": newscli.filters_json(result),
                              "hits": [hit_json(h) for h in result.hits],
                              "confidence": result.confidence if result.hits else None},
                             ensure_ascii=False), flush=True)
    return 0


async def cmd_analyze(settings: Settings, args: argparse.Namespace) -> int:
    """Elasticsearch's `_analyze` for this bot: what the index (or a question) makes of a text."""
    chain = analysis.analyze_query if args.query else analysis.analyze
    for line in sys.stdin:
        text = line.rstrip("\r\n")
        terms = chain(text)
        print(json.dumps({"text": text, "terms": terms}, ensure_ascii=False) if args.jsonl else " ".join(terms),
              flush=True)
    return 0


async def cmd_stats(settings: Settings, args: argparse.Namespace) -> int:
    async with await _open(settings, load_index=False) as engine:
        await engine.ensure_index()
        print(format_stats(await engine.stats(), settings.db))
    return 0


async def cmd_prompt(settings: Settings, args: argparse.Namespace) -> int:
    async with await _open(settings, many_questions=True) as engine:
        interactive = sys.stdin.isatty()
        if interactive:
            print("اكتب سؤالك ثم Enter (Ctrl-D للخروج) — type a question, Ctrl-D to quit")
        while True:
            if interactive:
                print("؟ ", end="", flush=True)
            line = await asyncio.to_thread(sys.stdin.readline)
            if not line:
                break
            if line.strip():
                print(format_result(await NewsDesk(engine, settings.timezone).ask(
                    line.strip(), k=settings.results_per_page)))
                print()
    return 0


async def cmd_start(settings: Settings, args: argparse.Namespace) -> int:
    print("TELEGRAM_BOT_TOKEN is not set: answering questions in the terminal instead.", file=sys.stderr)
    return await cmd_prompt(settings, args)


async def _cmd_feeds(settings: Settings, args: argparse.Namespace) -> int:
    from .feeds import commands  # the fetching stack, imported by the feed commands alone

    return await commands.cmd_feeds(settings, args)


async def _cmd_watch(settings: Settings, args: argparse.Namespace) -> int:
    from .feeds import commands

    return await commands.cmd_watch(settings, args)


_COMMANDS = {"ingest": cmd_ingest, "reindex": cmd_reindex, "ask": cmd_ask, "search": cmd_search,
             "analyze": cmd_analyze, "stats": cmd_stats, "prompt": cmd_prompt, "start": cmd_start,
             "feeds": _cmd_feeds, "watch": _cmd_watch, "sources": newscli.cmd_sources}


def entry() -> None:
    """The `newsbot` command: `main`, then exit with its status.

    A Ctrl-C that comes once the command is done (its last write committed) is ignored while
    Python exits: landing in the interpreter's own teardown it could crash the process instead of
    stopping it (CPython's finalization is not safe against signals). A crash of the process
    dumps every thread's stack to stderr, so that one never passes silently.
    """
    faulthandler.enable()
    code = main()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    sys.exit(code)


if __name__ == "__main__":
    entry()
