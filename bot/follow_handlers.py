"""Handlers for `/follow`, `/following`, `/unfollow` and the stop buttons under a follow list.

The follows themselves and the alerts they bring are `bot.follow.AlertService`'s.
"""

from __future__ import annotations

import logging

from telegram import Update
from telegram.constants import ChatMemberStatus, ChatType
from telegram.error import BadRequest, TelegramError
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler, filters

from . import formatting as fmt
from . import texts
from .context import BotContext
from .follow import STOP_PREFIX
from .reader_handlers import text_after_command

log = logging.getLogger(__name__)


async def may_manage(update: Update, context: BotContext) -> bool:
    """In private: yes. In a group: only its administrators (asked of Telegram)."""
    chat, user = update.effective_chat, update.effective_user
    if chat is None or user is None:
        return False
    if chat.type == ChatType.PRIVATE:
        return True
    if chat.type not in (ChatType.GROUP, ChatType.SUPERGROUP):
        return False
    try:
        member = await context.bot.get_chat_member(chat.id, user.id)
    except TelegramError as exc:
        log.warning("could not check the admins of chat %s: %s", chat.id, exc)
        return False
    return member.status in (ChatMemberStatus.OWNER, ChatMemberStatus.ADMINISTRATOR)


async def follow_command(update: Update, context: BotContext) -> None:
    message, chat, user = update.effective_message, update.effective_chat, update.effective_user
    svc = context.services
    if message is None or chat is None:
        return
    is_group = chat.type in (ChatType.GROUP, ChatType.SUPERGROUP)
    if not svc.limits.allow(user.id if user else None, chat.id, is_group):
        if svc.limits.warn(user.id if user else None, chat.id):
            await message.reply_text(fmt.esc(texts.for_update(update).rate_limited))
        return
    if not await may_manage(update, context):
        await message.reply_text(fmt.esc(texts.for_update(update).follow_group_admins_only))
        return
    _, reply = await context.alerts.follow(chat.id, text_after_command(message), texts.for_update(update))
    await message.reply_text(fmt.esc(reply))


async def following_command(update: Update, context: BotContext) -> None:
    message, chat = update.effective_message, update.effective_chat
    if message is None or chat is None:
        return
    text, keyboard = await context.alerts.listing(chat.id, texts.for_update(update))
    await message.reply_text(text, reply_markup=keyboard)


async def unfollow_command(update: Update, context: BotContext) -> None:
    """`/unfollow N` stops the N-th follow of the list; without N, the list with its stop buttons."""
    message, chat = update.effective_message, update.effective_chat
    if message is None or chat is None:
        return
    arg = text_after_command(message)
    if not arg:
        await following_command(update, context)
        return
    if not await may_manage(update, context):
        await message.reply_text(fmt.esc(texts.for_update(update).follow_group_admins_only))
        return
    svc = context.alerts
    assert svc.follows is not None
    follows = await svc.follows.of_chat(chat.id)
    number = arg.translate(str.maketrans("٠١٢٣٤٥٦٧٨٩", "0123456789"))
    chosen = follows[int(number) - 1] if number.isascii() and number.isdigit() and 0 < int(number) <= len(
        follows) else next((f for f in follows if f.topic == " ".join(arg.split())), None)
    if chosen is None or not await svc.unfollow(chat.id, chosen.id):
        await message.reply_text(fmt.esc(texts.for_update(update).follow_not_found))
        return
    await message.reply_text(fmt.esc(f"{texts.for_update(update).follow_stopped} ({chosen.topic})"))


async def stop_button(update: Update, context: BotContext) -> None:
    query = update.callback_query
    if query is None or query.message is None:
        return
    chat_id = query.message.chat.id
    if not await may_manage(update, context):
        await query.answer(texts.for_update(update).follow_group_admins_only[:200])
        return
    try:
        follow_id = int((query.data or "")[len(STOP_PREFIX):])
    except ValueError:
        await query.answer(texts.for_update(update).button_expired)
        return
    svc = context.alerts
    removed = await svc.unfollow(chat_id, follow_id)
    text = texts.for_update(update)
    await query.answer(text.follow_stopped if removed else text.follow_not_found)
    listing, keyboard = await svc.listing(chat_id, text)
    try:
        await query.edit_message_text(listing, reply_markup=keyboard)
    except BadRequest as exc:
        if "not modified" not in str(exc).lower():
            raise


def handlers() -> list[BaseHandler]:
    only_new = filters.UpdateType.MESSAGE
    return [CommandHandler("follow", follow_command, filters=only_new),
            CommandHandler("following", following_command, filters=only_new),
            CommandHandler("unfollow", unfollow_command, filters=only_new),
            CallbackQueryHandler(stop_button, pattern=rf"^{STOP_PREFIX}\d{{1,19}}$")]
