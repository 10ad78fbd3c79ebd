"""Handlers for readers: questions (private, group, inline), buttons, public commands, errors.

Each handler does one job; answers are formatted by `bot.formatting`, fixed
strings come from `bot.texts` in the user's language, buttons from
`bot.keyboards`, and shared state from the typed `BotContext`.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time

from telegram import (
    InlineQueryResultArticle,
    InputTextMessageContent,
    LinkPreviewOptions,
    Message,
    MessageEntity,
    Update,
)
from telegram.constants import ChatAction, ChatType, ParseMode
from telegram.error import BadRequest, TelegramError

from retrieval import outlets
from retrieval.articles import Article
from retrieval.engine import Hit

from . import callbacks, texts
from . import formatting as fmt
from .context import BotContext, Services, is_admin
from .keyboards import answer_keyboard, articles_keyboard
from .timing import NO_TIMER, PartTimer

log = logging.getLogger(__name__)

INLINE_PAGE = 10
LATEST_COUNT = 5
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)


# --- questions ---------------------------------------------------------------------------

def problem_with(question: str, max_chars: int, text: texts.Texts = texts.AR) -> str | None:
    """Why `question` cannot be searched (as the reply to send), or None if it can."""
    if not question:
        return fmt.esc(text.empty_question)
    if len(question) > max_chars:
        return fmt.esc(text.question_too_long.format(limit=max_chars))
    if not any(ch.isalnum() for ch in question):
        return fmt.esc(text.not_a_question)
    return None


async def answer_question(update: Update, context: BotContext, question: str) -> None:
    """Search `question` and reply to its message with the first page of results."""
    started = time.perf_counter()
    svc = context.services
    message = update.effective_message
    chat = update.effective_chat
    user = update.effective_user
    if message is None or chat is None:
        return
    question = question.strip()
    # Limits first: even the polite "that is not a question" replies must not be floodable.
    is_group = chat.type in (ChatType.GROUP, ChatType.SUPERGROUP)
    if not svc.limits.allow(user.id if user else None, chat.id, is_group):
        if svc.limits.warn(user.id if user else None, chat.id):
            await message.reply_text(fmt.esc(texts.for_update(update).rate_limited))
        return
    if (problem := problem_with(question, svc.settings.max_question_chars, texts.for_update(update))) is not None:
        await message.reply_text(problem)
        return
    # The typing action's round trip to Telegram overlaps the search instead of preceding it; it is
    # awaited before the answer goes out, so Telegram still sees "typing" first and the answer last.
    timer = context.timer
    typing = asyncio.create_task(show_typing(message, timer))
    try:
        with timer.part("search"):
            result = await svc.desk().ask(question, k=svc.settings.results_per_page)
        with timer.part("question log"):
            question_id = await log_question(svc, chat.type, user.id if user else None, question,
                                             len(result.hits), time.perf_counter() - started)
        with timer.part("format answer"):
            text = fmt.answer_text(result)
            keyboard = answer_keyboard(result, question_id, svc.settings.results_per_page)
    finally:
        await typing
    with timer.part("send reply"):
        await message.reply_text(text, reply_markup=keyboard)


async def show_typing(message: Message, timer: PartTimer = NO_TIMER) -> None:
    with timer.part("typing action"):
        try:
            await message.reply_chat_action(ChatAction.TYPING)
        except TelegramError as exc:  # cosmetic: never worth losing the answer over
            log.debug("typing action failed: %s", exc)


async def log_question(svc: Services, chat_type: str, user_id: int | None, question: str, hits: int,
                       seconds: float) -> int | None:
    """Record the question; its row id lets paging buttons find it again after a restart."""
    if svc.records is None:
        return None
    try:
        return await svc.records.record(chat_type=chat_type, user_id=user_id, question=question, hits=hits,
                                        latency_seconds=seconds)
    except Exception:  # a busy database must not cost the reader the answer
        log.exception("could not log a question; answering without paging buttons")
        return None


async def private_text(update: Update, context: BotContext) -> None:
    """In a private chat, any text is a question."""
    await answer_question(update, context, update.effective_message.text or "")


async def ask_command(update: Update, context: BotContext) -> None:
    """`/ask question` (or `/ask@botname question`) in any chat."""
    await answer_question(update, context, text_after_command(update.effective_message))


def text_after_command(message: Message) -> str:
    text = message.text or ""
    for entity in message.entities:
        if entity.type == MessageEntity.BOT_COMMAND and entity.offset == 0:
            return text[entity.length:].strip()
    return text.strip()


async def group_text(update: Update, context: BotContext) -> None:
    """In groups: answer mentions of the bot and replies to its messages; ignore all other chatter."""
    message = update.effective_message
    question = question_addressed_to_bot(message, context.bot.username, context.bot.id)
    if question is not None:
        await answer_question(update, context, question)


def question_addressed_to_bot(message: Message, username: str, bot_id: int) -> str | None:
    """The question in a group message meant for the bot (mentions removed), or None."""
    text = message.text or ""
    mention = f"@{username}".lower()
    spans = [(e.offset, e.offset + e.length) for e in message.entities
             if e.type == MessageEntity.MENTION and message.parse_entity(e).lower() == mention]
    if spans:
        # Entity offsets are in UTF-16 units: cut in that space.
        raw = text.encode("utf-16-le")
        kept, pos = [], 0
        for start, end in sorted(spans):
            kept.append(raw[pos * 2:start * 2])
            pos = end
        kept.append(raw[pos * 2:])
        return " ".join(b"".join(kept).decode("utf-16-le").split())
    replied = message.reply_to_message
    if (replied is not None and replied.from_user is not None and replied.from_user.id == bot_id
            and replied.forum_topic_created is None):
        return text.strip()
    return None


async def not_text(update: Update, context: BotContext) -> None:
    await update.effective_message.reply_text(fmt.esc(texts.for_update(update).text_only))


# --- buttons -----------------------------------------------------------------------------

async def button(update: Update, context: BotContext) -> None:
    query = update.callback_query
    if not context.services.limits.allow_follow_up(query.from_user.id):
        await query.answer(texts.for_update(update).rate_limited)
        return
    pressed = callbacks.decode(query.data)
    if isinstance(pressed, callbacks.PageButton):
        await show_page(update, context, pressed)
    elif isinstance(pressed, callbacks.ArticleButton | callbacks.PassageArticleButton):
        await send_full_article(update, context, pressed)
    else:
        await query.answer(texts.for_update(update).button_expired)


async def show_page(update: Update, context: BotContext, pressed: callbacks.PageButton) -> None:
    """Edit the answer in place to show another page of results."""
    svc = context.services
    query = update.callback_query
    question = await svc.records.question(pressed.question_id) if svc.records else None
    if question is None or query.message is None:
        await query.answer(texts.for_update(update).button_expired)
        return
    asked = await svc.records.asked_at(pressed.question_id) if svc.records else None
    result = await svc.desk().ask(question, k=svc.settings.results_per_page, offset=pressed.offset, now=asked)
    if not result.hits:
        await query.answer(texts.for_update(update).button_expired)
        return
    await query.answer()
    try:
        await query.edit_message_text(fmt.answer_text(result), reply_markup=answer_keyboard(
            result, pressed.question_id, svc.settings.results_per_page))
    except BadRequest as exc:
        if "not modified" not in str(exc).lower():  # a double tap on the same page is harmless
            raise


async def send_full_article(update: Update, context: BotContext,
                            pressed: callbacks.ArticleButton | callbacks.PassageArticleButton) -> None:
    svc = context.services
    query = update.callback_query
    if isinstance(pressed, callbacks.ArticleButton):
        article_id: str | None = pressed.article_id
    else:
        article_id = await svc.records.article_of_passage(pressed.passage_id) if svc.records else None
    article = await svc.engine.article(article_id) if article_id else None
    if article is None or query.message is None:
        await query.answer(texts.for_update(update).article_gone)
        return
    await query.answer()
    message = query.message
    for text in fmt.article_messages(article, svc.settings.max_article_messages):
        if isinstance(message, Message):  # same chat and forum topic as the answer
            await message.reply_text(text, do_quote=False)
        else:  # too old for Telegram to show us: the chat is still known
            await context.bot.send_message(message.chat.id, text)


# --- inline mode -------------------------------------------------------------------------

def inline_id(article_id: str) -> str:
    return article_id if callbacks.fits(article_id) else hashlib.sha1(article_id.encode()).hexdigest()


def hit_result(hit: Hit) -> InlineQueryResultArticle:
    return InlineQueryResultArticle(
        id=inline_id(hit.article_id), title=fmt.shorten(hit.title or texts.UNTITLED, 200),
        description=fmt.inline_description(hit),
        input_message_content=InputTextMessageContent(fmt.inline_message(hit), parse_mode=ParseMode.HTML,
                                                      link_preview_options=NO_PREVIEW))


def article_result(article: Article) -> InlineQueryResultArticle:
    first_line = next((line for line in article.body.splitlines() if line.strip()), "")
    excerpt = fmt.shorten(" ".join(first_line.split()), 300)
    text = f"{fmt.article_block(article)}\n\n{fmt.RLM}{fmt.esc(excerpt)}"
    return InlineQueryResultArticle(
        id=inline_id(article.id), title=fmt.shorten(article.title or texts.UNTITLED, 200),
        description=fmt.shorten(excerpt, 120),
        input_message_content=InputTextMessageContent(text, parse_mode=ParseMode.HTML,
                                                      link_preview_options=NO_PREVIEW))


async def inline_query(update: Update, context: BotContext) -> None:
    """`@botname question`: up to 10 articles a page; an empty query lists the latest articles."""
    svc = context.services
    query = update.inline_query
    offset = callbacks.parse_offset(query.offset)
    text = query.query.strip()
    if not svc.limits.allow_follow_up(query.from_user.id):
        # Nothing to show, and nothing cached: the same query a minute later gets its results.
        await query.answer([], cache_time=0, is_personal=True)
        return
    if not text:
        articles = await svc.engine.latest(INLINE_PAGE + 1, offset)
        results = [article_result(a) for a in articles[:INLINE_PAGE]]
        has_more = len(articles) > INLINE_PAGE
    elif problem_with(text, svc.settings.max_question_chars) is not None:
        results, has_more = [], False
    else:
        with context.timer.part("search"):
            found = await svc.desk().ask(text, k=INLINE_PAGE, offset=offset)
        with context.timer.part("format answer"):
            results, has_more = [hit_result(h) for h in found.hits], found.has_more
    # No more pages → next_offset omitted, not "": PTB 22.8 with Defaults turns an empty string
    # into "[]" (it takes "" for an empty sequence of poll options), which clients send back.
    with context.timer.part("send reply"):
        await query.answer(results, cache_time=30, is_personal=False,
                           next_offset=str(offset + INLINE_PAGE) if has_more else None)


# --- public commands ---------------------------------------------------------------------

async def start_command(update: Update, context: BotContext) -> None:
    await help_command(update, context)


async def help_command(update: Update, context: BotContext) -> None:
    await update.effective_message.reply_text(fmt.help_text(texts.for_update(update), is_admin(update, context)))


async def latest_command(update: Update, context: BotContext) -> None:
    articles = await context.services.engine.latest(LATEST_COUNT)
    await update.effective_message.reply_text(fmt.latest_text(articles), reply_markup=articles_keyboard(articles))


async def sources_command(update: Update, context: BotContext) -> None:
    engine = context.services.engine
    sources = await engine.sources()
    stored = await context.services.desk().aliases()  # the names questions may use for each outlet
    names = {s: [*outlets.builtin_aliases(s), *stored.get(s, [])] for s, _ in sources}
    await update.effective_message.reply_text(fmt.sources_text(sources, names))


async def unknown_command(update: Update, context: BotContext) -> None:
    await help_command(update, context)


# --- errors ------------------------------------------------------------------------------

def describe(update: object) -> str:
    """Where an error happened, for the log: update id, chat and kind (never message text or raw user id)."""
    if not isinstance(update, Update):
        return repr(type(update).__name__)
    chat = update.effective_chat
    kind = next((name for name in ("message", "callback_query", "inline_query", "edited_message")
                 if getattr(update, name) is not None), "other")
    where = f"{chat.type} chat {chat.id}" if chat else "no chat"
    return f"update {update.update_id} ({kind}, {where})"


async def on_error(update: object, context: BotContext) -> None:
    log.error("error while handling %s", describe(update), exc_info=context.error)
    if not isinstance(update, Update):
        return
    try:
        if update.callback_query is not None:
            await update.callback_query.answer(texts.for_update(update).error)
        elif update.effective_message is not None:
            await update.effective_message.reply_text(fmt.esc(texts.for_update(update).error))
    except TelegramError as exc:
        log.warning("could not tell the user about the error: %s", exc)
