"""The bot's side of feeds: /feeds for admins, OPML uploads, and the background poller.

The poller is an asyncio task owned by the running application: started with it, cancelled when
it stops. Fetching is asynchronous and parsing and extraction run in a worker process, so answers
keep flowing during a poll (measured in docs/feeds.md).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

import aiosqlite
from telegram import Update
from telegram.ext import Application, ContextTypes

from retrieval import store

from .. import formatting as fmt
from ..handlers import services
from ..handlers_admin import admin_only
from . import store as feeds_store
from .commands import FeedCommandError, add_feed, import_feeds, make_fetcher, poll_config
from .fetch import Fetcher
from .opml import MAX_OPML_BYTES
from .parse import FeedError
from .poller import Poller

log = logging.getLogger(__name__)

USAGE = ("Usage: /feeds — list; /feeds add URL [name]; /feeds remove URL; /feeds pause URL; /feeds resume URL;"
         " or send an .opml file to import")
LIST_LIMIT = 3500  # characters of the list in one message (Telegram's limit is 4096)


@dataclass
class FeedsRuntime:
    db: aiosqlite.Connection
    fetcher: Fetcher
    poller: Poller
    task: asyncio.Task | None = None


def runtime(context: ContextTypes.DEFAULT_TYPE) -> FeedsRuntime:
    return context.application.bot_data["feeds"]


async def start_polling(app: Application) -> None:
    """Open the feeds' connection and start polling due feeds in the background (a database
    without feeds fetches nothing: the loop only wakes to look for due ones)."""
    svc = app.bot_data["services"]
    settings = svc.settings
    db = await store.connect(settings.db)
    fetcher = make_fetcher(settings)
    poller = Poller(svc.engine, db, fetcher, poll_config(settings))
    rt = FeedsRuntime(db, fetcher, poller)
    rt.task = asyncio.create_task(poller.run_forever(), name="feed-poller")
    app.bot_data["feeds"] = rt


async def stop_polling(app: Application) -> None:
    rt: FeedsRuntime | None = app.bot_data.pop("feeds", None)
    if rt is None:
        return
    if rt.task is not None:
        rt.task.cancel()
        await asyncio.gather(rt.task, return_exceptions=True)
    await rt.poller.close()
    await rt.fetcher.close()
    await rt.db.close()


def feeds_list_text(feeds: list[feeds_store.Feed]) -> str:
    if not feeds:
        return fmt.esc("No feeds followed. Add one with /feeds add URL [name], or send an .opml file.")
    lines = []
    for f in feeds:
        line = f"• {f.name or '-'} — {f.status}, {f.articles} articles"
        if f.errors:
            line += f", {f.errors} errors (last: {f.last_error})"
        lines.append(fmt.esc(line) + "\n" + fmt.esc(f.url))
    text, shown = "", 0
    for line in lines:
        if len(text) + len(line) > LIST_LIMIT:
            break
        text += line + "\n"
        shown += 1
    if shown < len(lines):
        text += fmt.esc(f"… and {len(lines) - shown} more (newsbot feeds list shows all)")
    return text.rstrip()


@admin_only
async def feeds_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    rt = runtime(context)
    message = update.effective_message
    args = context.args or []
    if not args or args == ["list"]:
        await message.reply_text(feeds_list_text(await feeds_store.list_feeds(rt.db)))
        return
    if args[0] == "add" and len(args) >= 2:
        name = " ".join(args[2:]) or None
        try:
            feed = await add_feed(rt.db, rt.fetcher, args[1], name, services(context).settings.feed_max_bytes)
        except FeedCommandError as exc:
            await message.reply_text(fmt.esc(f"Refused: {exc}"))
            return
        rt.poller.wakeup.set()
        await message.reply_text(fmt.esc(f"Added {feed.url} ({feed.name}); its items are taken on the next poll."))
        return
    if args[0] == "remove" and len(args) == 2:
        if await feeds_store.remove_feed(rt.db, args[1].strip()):
            await message.reply_text(fmt.esc(f"Removed {args[1].strip()} (its articles stay)."))
        else:
            await message.reply_text(fmt.esc(f"Not followed: {args[1]}"))
        return
    if args[0] in ("pause", "resume") and len(args) == 2:
        if await feeds_store.set_paused(rt.db, args[1].strip(), args[0] == "pause"):
            rt.poller.wakeup.set()
            await message.reply_text(fmt.esc(f"{args[0].capitalize()}d {args[1].strip()}."))
        else:
            await message.reply_text(fmt.esc(f"Not followed: {args[1]}"))
        return
    await message.reply_text(fmt.esc(USAGE))


@admin_only
async def opml_upload(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """An .opml file sent by an admin in private: every feed in it is followed."""
    rt = runtime(context)
    message = update.effective_message
    document = message.document
    name = document.file_name or "feeds.opml"
    if document.file_size is not None and document.file_size > MAX_OPML_BYTES:
        await message.reply_text(fmt.esc(f"Refused {name}: over the {MAX_OPML_BYTES:,} byte OPML limit."))
        return
    data = bytes(await (await document.get_file()).download_as_bytearray())
    try:
        report = await import_feeds(rt.db, data)
    except FeedError as exc:
        await message.reply_text(fmt.esc(f"Refused {name}: {exc}"))
        return
    rt.poller.wakeup.set()
    await message.reply_text(fmt.esc("\n".join(report.lines())))
