"""CLI news parts: `--now`, the JSON fields `filters`, `outside_filters` and `also`, `newsbot sources`."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from zoneinfo import ZoneInfo

from retrieval import outlets
from retrieval.engine import Hit, SearchEngine, SearchResult
from retrieval.news import NewsDesk

from .settings import Settings


def _iso_moment(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 date or time: {text!r} (e.g. 2021-11-24T15:00)") from None


def add_now_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--now", type=_iso_moment, default=None, metavar="ISO",
                        help="answer as if it were this moment (ISO 8601; without an offset, in NEWSBOT_TIMEZONE): "
                             "what اليوم and أمس mean")


def now_of(args: argparse.Namespace, settings: Settings) -> datetime | None:
    now: datetime | None = args.now
    if now is not None and now.tzinfo is None:
        now = now.replace(tzinfo=ZoneInfo(settings.timezone))
    return now


def filters_json(result: SearchResult) -> dict:
    if result.filters is None:
        return {"from": None, "to": None, "sources": []}
    return {k: v for k, v in result.filters.as_json().items() if k in ("from", "to", "sources")}


def hit_news_json(hit: Hit) -> dict:
    return {"outside_filters": hit.outside_filters,
            "also": [{"article_id": a.article_id, "source": a.source, "url": a.url, "published": a.published}
                     for a in getattr(hit, "also", ())]}


def add_sources_parser(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    sources = sub.add_parser("sources", parents=[common], help="outlets with article counts and aliases; "
                                                               "`sources alias NAME ALIAS...` adds aliases")
    action = sources.add_subparsers(dest="sources_action")
    for name, text in (("alias", "give the outlet NAME (as stored) other names questions may use"),
                       ("unalias", "remove aliases of the outlet NAME")):
        p = action.add_parser(name, parents=[common], help=text)
        p.add_argument("name", help="the source name as stored (see `newsbot sources`)")
        p.add_argument("aliases", nargs="+", help="names such as بي بي سي or \"سكاي نيوز\"")


async def cmd_sources(settings: Settings, args: argparse.Namespace) -> int:
    async with await SearchEngine.open(settings.db, settings.retrieval_config(), load_index=False) as engine:
        desk = NewsDesk(engine, settings.timezone)
        if args.sources_action == "alias":
            try:
                added = await desk.add_aliases(args.name, args.aliases)
            except outlets.AliasError as exc:
                print(f"newsbot sources alias: {exc}", file=sys.stderr)
                return 2
            print(f"{args.name}: {len(added)} alias(es) added" + (f": {', '.join(added)}" if added else ""))
            return 0
        if args.sources_action == "unalias":
            removed = await desk.remove_aliases(args.name, args.aliases)
            print(f"{args.name}: {removed} alias(es) removed")
            return 0 if removed else 1
        stored = await desk.aliases()
        for source, count in await engine.sources():
            names = [*outlets.builtin_aliases(source), *stored.get(source, [])]
            print(f"{source or '(no source)'}\t{count}" + (f"\t{' | '.join(names)}" if names else ""))
    return 0
