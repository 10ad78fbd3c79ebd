"""Handlers for operators: /reindex, /stats, /delete and article uploads.

Only user ids in `NEWSBOT_ADMIN_IDS` may use them; anyone else gets a
refusal before anything is read or changed. Replies are in the admin's
language (`bot.texts`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from functools import wraps

from telegram import Update
from telegram.constants import ChatType

from retrieval.readers import is_supported

from . import formatting as fmt
from . import texts
from .context import BotContext, Services, is_admin

log = logging.getLogger(__name__)

Handler = Callable[[Update, BotContext], Awaitable[None]]


def refusal(update: Update, context: BotContext) -> str | None:
    """Why an admin command or upload is refused here, or None if it may run.

    Only an admin, typing it in a private chat with the bot: not in a group
    (where a command would be shared, and menus never offer it), and not by
    forwarding a message (a forwarded `/delete` or document is something the
    admin passed along, not an order).
    """
    text = texts.for_update(update)
    if not is_admin(update, context):
        return text.admin_only
    message = update.effective_message
    chat = update.effective_chat
    if chat is None or chat.type != ChatType.PRIVATE or message is None or message.forward_origin is not None:
        return text.admin_private_only
    return None


def admin_only(handler: Handler) -> Handler:
    @wraps(handler)
    async def guarded(update: Update, context: BotContext) -> None:
        if (reason := refusal(update, context)) is not None:
            chat = update.effective_chat
            log.info("refused %s (%s, %s)", handler.__name__, "admin" if is_admin(update, context) else "non-admin",
                     chat.type if chat else "no chat")
            await update.effective_message.reply_text(fmt.esc(reason))
            return
        await handler(update, context)
    return guarded


@admin_only
async def reindex_command(update: Update, context: BotContext) -> None:
    """Re-scan the data folder and rebuild the index in the background; report when done."""
    svc = context.services
    text = texts.for_update(update)
    state = svc.reindex
    if state.running:
        await update.effective_message.reply_text(fmt.esc(text.reindex_running.format(
            progress=state.progress(text))))
        return
    state.running, state.phase, state.files, state.records = True, "scanning", 0, 0
    await update.effective_message.reply_text(fmt.esc(text.reindex_started.format(data_dir=svc.settings.data_dir)))
    context.application.create_task(run_reindex(svc, update, text), update=update)


async def run_reindex(svc: Services, update: Update, text: texts.Texts) -> None:
    state = svc.reindex
    started = time.perf_counter()

    def progress(files: int, records: int) -> None:
        state.files, state.records = files, records

    try:
        report = await svc.engine.ingest_paths([svc.settings.data_dir], progress, rebuild=False)
        state.phase = "building"
        info = await svc.engine.rebuild_index()
        reply = (fmt.ingest_report_text(report, text.reindex_done, text) + "\n" + fmt.esc(
            text.reindex_index.format(passages=info.passages, terms=info.terms, seconds=info.build_seconds))
            + "\n" + fmt.esc(text.reindex_total.format(seconds=time.perf_counter() - started)))
    except Exception as exc:
        log.exception("reindex failed")
        reply = fmt.esc(text.reindex_failed.format(error=exc))
    finally:
        state.running, state.phase = False, ""
    # A reply to the /reindex message: same chat, same forum topic.
    await update.effective_message.reply_text(reply)


@admin_only
async def stats_command(update: Update, context: BotContext) -> None:
    svc = context.services
    text = texts.for_update(update)
    questions = await svc.records.stats()
    running = svc.reindex.progress(text) if svc.reindex.running else None
    await update.effective_message.reply_text(fmt.stats_text(await svc.engine.stats(), questions, running, text))


@admin_only
async def delete_command(update: Update, context: BotContext) -> None:
    """`/delete <article id>`: remove the article and its passages, then update the index."""
    svc = context.services
    text = texts.for_update(update)
    if len(context.args or []) != 1:
        await update.effective_message.reply_text(fmt.esc(text.delete_usage))
        return
    article_id = context.args[0]
    if await svc.engine.delete_article(article_id):
        await update.effective_message.reply_text(fmt.esc(text.deleted.format(id=article_id)))
    else:
        await update.effective_message.reply_text(fmt.esc(text.no_such_article.format(id=article_id)))


@admin_only
async def upload_document(update: Update, context: BotContext) -> None:
    """A file sent in private: downloaded through the Bot API and ingested like `newsbot ingest`."""
    svc = context.services
    text = texts.for_update(update)
    message = update.effective_message
    document = message.document
    name = document.file_name or ""
    if not is_supported(name):
        await message.reply_text(fmt.esc(text.refused_type.format(name=name or text.unnamed_file)))
        return
    limit = svc.settings.upload_max_bytes
    if document.file_size is not None and document.file_size > limit:
        await message.reply_text(fmt.esc(text.refused_size.format(name=name, size=document.file_size, limit=limit)))
        return
    telegram_file = await document.get_file()
    data = bytes(await telegram_file.download_as_bytearray())
    if len(data) > limit:
        await message.reply_text(fmt.esc(text.refused_over_limit.format(name=name, limit=limit)))
        return
    report = await svc.engine.ingest_bytes(data, name)
    title = text.loaded.format(name=name) if report.ingested else text.nothing_ingested.format(name=name)
    await message.reply_text(fmt.ingest_report_text(report, title, text))
