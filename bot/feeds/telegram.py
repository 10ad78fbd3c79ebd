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
from telegram.ext import Application

from .. import formatting as fmt
from .. import schema, texts
from ..admin_handlers import admin_only
from ..context import BotContext, bot_data
from . import store as feeds_store
from .commands import FeedCommandError, add_feed, import_feeds, make_fetcher, poll_config
from .fetch import Fetcher
from .opml import MAX_OPML_BYTES
from .parse import FeedError
from .poller import Poller

log = logging.getLogger(__name__)

LIST_LIMIT = 3500  # characters of the list in one message (Telegram's limit is 4096)


@dataclass
class FeedsRuntime:
    db: aiosqlite.Connection
    fetcher: Fetcher
    poller: Poller
    task: asyncio.Task | None = None


async def start_polling(app: Application) -> None:
    """Open the feeds' connection and start polling due feeds in the background (a database
    without feeds fetches nothing: the loop only wakes to look for due ones)."""
    svc = bot_data(app).services
    assert svc is not None, "build_application sets the services"
    settings = svc.settings
    db = await schema.connect(settings.db)
    fetcher = make_fetcher(settings)
    poller = Poller(svc.engine, db, fetcher, poll_config(settings))
    rt = FeedsRuntime(db, fetcher, poller)
    rt.task = asyncio.create_task(poller.run_forever(), name="feed-poller")
    bot_data(app).feeds = rt


async def stop_polling(app: Application) -> None:
    data = bot_data(app)
    rt, data.feeds = data.feeds, None
    if rt is None:
        return
    if rt.task is not None:
        rt.task.cancel()
        await asyncio.gather(rt.task, return_exceptions=True)
    await rt.poller.close()
    await rt.fetcher.close()
    await rt.db.close()


def feeds_list_text(feeds: list[feeds_store.Feed], text: texts.Texts = texts.EN) -> str:
    if not feeds:
        return fmt.esc(text.feeds_none)
    lines = []
    for f in feeds:
        line = text.feeds_line.format(name=f.name or "-", status=f.status, articles=f.articles)
        if f.errors:
            line += text.feeds_errors.format(errors=f.errors, last_error=f.last_error)
        lines.append(fmt.esc(line) + "\n" + fmt.esc(f.url))
    listing, shown = "", 0
    for line in lines:
        if len(listing) + len(line) > LIST_LIMIT:
            break
        listing += line + "\n"
        shown += 1
    if shown < len(lines):
        listing += fmt.esc(text.feeds_more.format(count=len(lines) - shown))
    return listing.rstrip()


@admin_only
async def feeds_command(update: Update, context: BotContext) -> None:
    rt = context.feeds
    text = texts.for_update(update)
    message = update.effective_message
    args = context.args or []
    if not args or args == ["list"]:
        await message.reply_text(feeds_list_text(await feeds_store.list_feeds(rt.db), text))
        return
    if args[0] == "add" and len(args) >= 2:
        name = " ".join(args[2:]) or None
        try:
            feed = await add_feed(rt.db, rt.fetcher, args[1], name, context.services.settings.feed_max_bytes)
        except FeedCommandError as exc:
            await message.reply_text(fmt.esc(text.feeds_refused.format(reason=exc)))
            return
        rt.poller.wakeup.set()
        await message.reply_text(fmt.esc(text.feeds_added.format(url=feed.url, name=feed.name)))
        return
    if args[0] == "remove" and len(args) == 2:
        if await feeds_store.remove_feed(rt.db, args[1].strip()):
            await message.reply_text(fmt.esc(text.feeds_removed.format(url=args[1].strip())))
        else:
            await message.reply_text(fmt.esc(text.feeds_not_followed.format(url=args[1])))
        return
    if args[0] in ("pause", "resume") and len(args) == 2:
        if await feeds_store.set_paused(rt.db, args[1].strip(), args[0] == "pause"):
            rt.poller.wakeup.set()
            done = text.feeds_paused if args[0] == "pause" else text.feeds_resumed
            await message.reply_text(fmt.esc(done.format(url=args[1].strip())))
        else:
            await message.reply_text(fmt.esc(text.feeds_not_followed.format(url=args[1])))
        return
    await message.reply_text(fmt.esc(text.feeds_usage))


@admin_only
async def opml_upload(update: Update, context: BotContext) -> None:
    """An .opml file sent by an admin in private: every feed in it is followed."""
    rt = context.feeds
    text = texts.for_update(update)
    message = update.effective_message
    document = message.document
    name = document.file_name or "feeds.opml"
    if document.file_size is not None and document.file_size > MAX_OPML_BYTES:
        await message.reply_text(fmt.esc(text.opml_too_big.format(name=name, limit=MAX_OPML_BYTES)))
        return
    data = bytes(await (await document.get_file()).download_as_bytearray())
    try:
        report = await import_feeds(rt.db, data)
    except FeedError as exc:
        await message.reply_text(fmt.esc(text.opml_refused.format(name=name, reason=exc)))
        return
    rt.poller.wakeup.set()
    await message.reply_text(fmt.esc("\n".join(report.lines())))
