"""Feed management shared by the CLI (`newsbot feeds ...`, `newsbot watch`) and the bot's /feeds."""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
from dataclasses import dataclass, field

import aiosqlite

from retrieval.engine import SearchEngine

from .. import schema
from . import store as feeds_store
from .fetch import Fetcher, FetchError
from .opml import export_opml, parse_opml
from .parse import FeedError
from .poller import Outcome, PollConfig, Poller, check_feed, feed_name
from .urls import BadUrl, check_url


class FeedCommandError(ValueError):
    """A feed command refused, with the reason (nothing was stored)."""


def make_fetcher(settings) -> Fetcher:
    return Fetcher(user_agent=settings.user_agent, host_delay=settings.host_delay_seconds,
                   allow_hosts=settings.fetch_allow_hosts, connect_timeout=settings.fetch_connect_timeout_seconds,
                   total_timeout=settings.fetch_timeout_seconds, concurrency=settings.fetch_concurrency)


def poll_config(settings) -> PollConfig:
    return PollConfig(interval=settings.feed_interval_seconds, feed_max_bytes=settings.feed_max_bytes,
                      page_max_bytes=settings.page_max_bytes)


async def add_feed(db: aiosqlite.Connection, fetcher: Fetcher, url: str, name: str | None,
                   max_bytes: int) -> feeds_store.Feed:
    """Validate, fetch once, check it is a feed, store it (status `new`); FeedCommandError otherwise."""
    try:
        url = check_url(url)
    except BadUrl as exc:
        raise FeedCommandError(f"refused {url!r}: {exc}") from None
    if await feeds_store.get_feed(db, url) is not None:
        raise FeedCommandError(f"already followed: {url}")
    try:
        url, parsed = await check_feed(fetcher, url, max_bytes)
    except (BadUrl, FetchError, FeedError) as exc:
        raise FeedCommandError(f"refused {url}: {exc}") from None
    try:
        return await feeds_store.add_feed(db, url, (name or "").strip() or feed_name(parsed, url))
    except feeds_store.FeedExists as exc:
        raise FeedCommandError(str(exc)) from None


@dataclass
class ImportReport:
    added: list[str] = field(default_factory=list)
    present: list[str] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = [f"import: {len(self.added)} added, {len(self.present)} already followed, "
               f"{len(self.refused)} refused"]
        out += [f"refused {url}: {why}" for url, why in self.refused]
        return out


async def import_feeds(db: aiosqlite.Connection, data: bytes) -> ImportReport:
    """Every feed of an OPML document, stored as `new` (fetched on the first poll, not now: an
    OPML file of a hundred outlets would otherwise mean a hundred fetches before any answer)."""
    report = ImportReport()
    for entry in parse_opml(data):
        try:
            url = check_url(entry.url)
        except BadUrl as exc:
            report.refused.append((entry.url, str(exc)))
            continue
        try:
            await feeds_store.add_feed(db, url, entry.name)
            report.added.append(url)
        except feeds_store.FeedExists:
            report.present.append(url)
    return report


def feed_line(feed: feeds_store.Feed) -> str:
    return "\t".join([feed.url, feed.name, feed.status, feed.last_fetch or "-", str(feed.articles),
                      str(feed.errors), feed.last_error or "-"])


# --- CLI ---------------------------------------------------------------------------------------

def _err(message: str) -> int:
    print(f"newsbot: {message}", file=sys.stderr)
    return 1


async def cmd_feeds(settings, args: argparse.Namespace) -> int:
    db = await schema.connect(settings.db)
    try:
        match args.feeds_command:
            case "add":
                async with make_fetcher(settings) as fetcher:
                    try:
                        feed = await add_feed(db, fetcher, args.url, args.name, settings.feed_max_bytes)
                    except FeedCommandError as exc:
                        return _err(f"feeds add: {exc}")
                print(f"added {feed.url} ({feed.name}); its items are taken on the first poll")
            case "list":
                for feed in await feeds_store.list_feeds(db):
                    print(json.dumps(feed.as_json(), ensure_ascii=False) if args.jsonl else feed_line(feed))
            case "remove":
                if not await feeds_store.remove_feed(db, args.url.strip()):
                    return _err(f"feeds remove: not followed: {args.url}")
                print(f"removed {args.url.strip()} (its articles stay)")
            case "pause" | "resume":
                if not await feeds_store.set_paused(db, args.url.strip(), args.feeds_command == "pause"):
                    return _err(f"feeds {args.feeds_command}: not followed: {args.url}")
                print(f"{args.feeds_command}d {args.url.strip()}")
            case "import":
                try:
                    data = args.file.read_bytes()
                    report = await import_feeds(db, data)
                except OSError as exc:
                    return _err(f"feeds import: {args.file}: {exc.strerror or exc}")
                except FeedError as exc:
                    return _err(f"feeds import: {args.file}: {exc}")
                print("\n".join(report.lines()))
            case "export":
                sys.stdout.write(export_opml(await feeds_store.list_feeds(db)))
    finally:
        await db.close()
    return 0


async def cmd_watch(settings, args: argparse.Namespace) -> int:
    engine = await SearchEngine.open(settings.db, settings.retrieval_config(), load_index=False)
    db = await schema.connect(settings.db)
    fetcher = make_fetcher(settings)
    poller = Poller(engine, db, fetcher, poll_config(settings))
    try:
        if args.once:
            for outcome in await poller.poll_once():
                print(outcome.line(), flush=True)
            await engine.ensure_index()
            return 0
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await engine.ensure_index()

        def report(outcome: Outcome) -> None:
            print(outcome.line(), flush=True)

        task = asyncio.ensure_future(poller.run_forever(report))
        await stop.wait()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        return 0
    finally:
        await poller.close()
        await fetcher.close()
        await db.close()
        await engine.close()
