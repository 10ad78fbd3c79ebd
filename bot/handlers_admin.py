"""Handlers for operators: /reindex, /stats, /delete and article uploads.

Only user ids in `NEWSBOT_ADMIN_IDS` may use them; anyone else gets a
refusal before anything is read or changed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from functools import wraps

from telegram import Update
from telegram.constants import ChatType
from telegram.ext import ContextTypes

from retrieval.readers import is_supported

from . import formatting as fmt
from .handlers import Services, is_admin, services

log = logging.getLogger(__name__)

Handler = Callable[[Update, ContextTypes.DEFAULT_TYPE], Awaitable[None]]


def refusal(update: Update, context: ContextTypes.DEFAULT_TYPE) -> str | None:
    """Why an admin command or upload is refused here, or None if it may run.

    Only an admin, typing it in a private chat with the bot: not in a group
    (where a command would be shared, and menus never offer it), and not by
    forwarding a message (a forwarded `/delete` or document is something the
    admin passed along, not an order).
    """
    if not is_admin(update, context):
        return fmt.ADMIN_ONLY
    message = update.effective_message
    chat = update.effective_chat
    if chat is None or chat.type != ChatType.PRIVATE or message is None or message.forward_origin is not None:
        return fmt.ADMIN_PRIVATE_ONLY
    return None


def admin_only(handler: Handler) -> Handler:
    @wraps(handler)
    async def guarded(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        if (reason := refusal(update, context)) is not None:
            chat = update.effective_chat
            log.info("refused %s (%s, %s)", handler.__name__, "admin" if is_admin(update, context) else "non-admin",
                     chat.type if chat else "no chat")
            await update.effective_message.reply_text(fmt.esc(reason))
            return
        await handler(update, context)
    return guarded


@admin_only
async def reindex_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Re-scan the data folder and rebuild the index in the background; report when done."""
    svc = services(context)
    state = svc.reindex
    if state.running:
        await update.effective_message.reply_text(fmt.esc(f"إعادة الفهرسة جارية بالفعل — {state.progress()}"))
        return
    state.running, state.phase, state.files, state.records = True, "scanning", 0, 0
    await update.effective_message.reply_text(fmt.esc(
        f"بدأت إعادة الفهرسة من {svc.settings.data_dir}. سأرسل تقريراً عند الانتهاء."))
    context.application.create_task(run_reindex(svc, update, context), update=update)


async def run_reindex(svc: Services, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    state = svc.reindex
    started = time.perf_counter()

    def progress(files: int, records: int) -> None:
        state.files, state.records = files, records

    try:
        report = await svc.engine.ingest_paths([svc.settings.data_dir], progress, rebuild=False)
        state.phase = "building index"
        info = await svc.engine.rebuild_index()
        text = (fmt.ingest_report_text(report, "Reindex done") +
                f"\nindex: {info.passages} passages, {info.terms} terms, built in {info.build_seconds:.2f} s"
                f"\ntotal time: {time.perf_counter() - started:.1f} s")
    except Exception as exc:
        log.exception("reindex failed")
        text = fmt.esc(f"Reindex failed: {exc}")
    finally:
        state.running, state.phase = False, ""
    # A reply to the /reindex message: same chat, same forum topic.
    await update.effective_message.reply_text(text)


@admin_only
async def stats_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    svc = services(context)
    questions = await svc.records.stats()
    running = svc.reindex.progress() if svc.reindex.running else None
    await update.effective_message.reply_text(fmt.stats_text(await svc.engine.stats(), questions, running))


@admin_only
async def delete_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """`/delete <article id>`: remove the article and its passages, then update the index."""
    svc = services(context)
    if len(context.args or []) != 1:
        await update.effective_message.reply_text(fmt.esc("Usage: /delete <article id>"))
        return
    article_id = context.args[0]
    if await svc.engine.delete_article(article_id):
        await update.effective_message.reply_text(fmt.esc(f"Deleted article {article_id}; index updated."))
    else:
        await update.effective_message.reply_text(fmt.esc(f"No article with id {article_id}."))


@admin_only
async def upload_document(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A file sent in private: downloaded through the Bot API and ingested like `newsbot ingest`."""
    svc = services(context)
    message = update.effective_message
    document = message.document
    name = document.file_name or ""
    if not is_supported(name):
        await message.reply_text(fmt.esc(
            f"Refused {name or 'this file'}: unsupported file type (expected .txt, .jsonl, .json or .gz of one)."))
        return
    limit = svc.settings.upload_max_bytes
    if document.file_size is not None and document.file_size > limit:
        await message.reply_text(fmt.esc(
            f"Refused {name}: {document.file_size:,} bytes is over the {limit:,} byte upload limit."))
        return
    telegram_file = await document.get_file()
    data = bytes(await telegram_file.download_as_bytearray())
    if len(data) > limit:
        await message.reply_text(fmt.esc(f"Refused {name}: over the {limit:,} byte upload limit."))
        return
    report = await svc.engine.ingest_bytes(data, name)
    title = f"Loaded {name}" if report.ingested else f"Refused {name}: nothing could be ingested"
    await message.reply_text(fmt.ingest_report_text(report, title))
