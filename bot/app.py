"""The Telegram application: one factory from settings and engine, and `newsbot run`.

`build_application` assembles every handler; `start_application` /
`stop_application` bring it up and down the same way in production and in the
tests (which point `bot_api_url` at a stand-in Bot API server).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import signal
import sys
from urllib.parse import urlparse

from telegram import BotCommand, BotCommandScopeChat, BotCommandScopeDefault, LinkPreviewOptions, Update
from telegram.constants import ParseMode
from telegram.error import TelegramError
from telegram.ext import (
    Application,
    BaseRateLimiter,
    CallbackQueryHandler,
    CommandHandler,
    Defaults,
    InlineQueryHandler,
    MessageHandler,
    filters,
)

from retrieval.engine import SearchEngine
from retrieval.store import SchemaError

from . import admin_handlers as admin
from . import follow, follow_handlers, timing
from . import reader_handlers as h
from .context import CONTEXT_TYPES, BotApplication, Services, bot_data
from .feeds import telegram as feeds
from .records import QuestionLog
from .settings import Settings
from .telegram_flood_control import TelegramFloodControl
from .user_limits import UserLimits

log = logging.getLogger(__name__)

ALLOWED_UPDATES = [Update.MESSAGE, Update.CALLBACK_QUERY, Update.INLINE_QUERY]
RATE_LIMIT_RETRIES = 3  # a 429 is waited out (retry_after) and retried, not dropped

PUBLIC_COMMANDS = {
    "ar": [("ask", "اسأل عن الأخبار"), ("latest", "أحدث المقالات"), ("sources", "المصادر وعدد المقالات"),
           ("follow", "تابع موضوعاً وتلقَّ أخباره الجديدة"), ("following", "متابعاتك وإيقافها"),
           ("help", "المساعدة")],
    "en": [("ask", "Ask about the news"), ("latest", "Most recent articles"),
           ("sources", "Sources with article counts"), ("follow", "Follow a topic: get its new stories"),
           ("following", "Your follows, with buttons to stop them"), ("help", "Help")],
}
ADMIN_COMMANDS = {
    "ar": [("reindex", "إعادة فحص مجلد البيانات وبناء الفهرس"), ("stats", "إحصاءات المقالات والفهرس والأسئلة"),
           ("delete", "حذف مقال برقمه"), ("feeds", "مصادر الأخبار المتابعة (RSS)")],
    "en": [("reindex", "Re-scan the data folder and rebuild the index"),
           ("stats", "Articles, index and question statistics"), ("delete", "Delete an article by its id"),
           ("feeds", "Followed news feeds (RSS)")],
}


class TokenRedactor(logging.Filter):
    """Replaces the bot token in every log record (URLs of the Bot API contain it)."""

    def __init__(self, token: str) -> None:
        super().__init__()
        self.token = token

    def redact(self, text: str) -> str:
        return text.replace(self.token, "<token>") if self.token else text

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.token:
            return True
        message = record.getMessage()
        if self.token in message:
            record.msg, record.args = self.redact(message), None
        # PTB puts the token in some exception messages (InvalidToken): format the traceback
        # now, redacted; formatters reuse `exc_text` when it is set.
        if record.exc_info and not record.exc_text:
            record.exc_text = self.redact(logging.Formatter().formatException(record.exc_info))
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


def protect_token_in_logs(token: str) -> None:
    """httpx logs each request URL, which holds the token: silence it and redact whatever else logs it."""
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
    redactor = TokenRedactor(token)
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, TokenRedactor) and f.token == token for f in handler.filters):
            handler.addFilter(redactor)


def build_application(settings: Settings, engine: SearchEngine, *,
                      rate_limiter: BaseRateLimiter | None = None,
                      timings: timing.TimingSink | None = None) -> BotApplication:
    """The bot with all its handlers, ready for `start_application`.

    `rate_limiter` replaces the default (Telegram's flood limits, 429s waited
    out, transient failures retried); load tests lift the flood limits with it.
    `timings`, if given, receives where each update's time went (`bot.timing`).
    """
    if settings.telegram_bot_token is None:
        raise ValueError("TELEGRAM_BOT_TOKEN is not set")
    token = settings.telegram_bot_token.get_secret_value()
    protect_token_in_logs(token)
    defaults = Defaults(parse_mode=ParseMode.HTML, link_preview_options=LinkPreviewOptions(is_disabled=True),
                        do_quote=True, allow_sending_without_reply=True)
    # getUpdates has its own connection pool, of one connection by default: a long poll torn down
    # mid-flight (the updater stopping, a dropped network) can keep it checked out for a moment, and the
    # next getUpdates (the updater's last one at shutdown, which marks the fetched updates) then failed
    # with a pool timeout. A second connection lets it through.
    app = (Application.builder().token(token).base_url(settings.bot_api_url)
           .base_file_url(settings.bot_file_url).defaults(defaults).context_types(CONTEXT_TYPES)
           .get_updates_connection_pool_size(2)
           .rate_limiter(rate_limiter or TelegramFloodControl(max_retries=RATE_LIMIT_RETRIES)).build())
    data = bot_data(app)
    data.services = Services(
        settings=settings, engine=engine,
        limits=UserLimits(settings.user_rate_limit, settings.chat_rate_limit, settings.rate_window_seconds,
                          follow_ups_per_user=settings.follow_up_rate_limit))
    data.alerts = follow.AlertService(app, engine, settings)
    add_handlers(app)
    if timings is not None:
        timing.install(app, timings)
    return app


def add_handlers(app: Application) -> None:
    only_new = filters.UpdateType.MESSAGE  # edits of old messages are not new questions
    private = filters.ChatType.PRIVATE & only_new
    groups = filters.ChatType.GROUPS & only_new
    app.add_handlers([
        CommandHandler("start", h.start_command, filters=only_new),
        CommandHandler("help", h.help_command, filters=only_new),
        CommandHandler("ask", h.ask_command, filters=only_new),
        CommandHandler("latest", h.latest_command, filters=only_new),
        CommandHandler("sources", h.sources_command, filters=only_new),
        # /follow, /following, /unfollow and the stop buttons: before the generic button handler.
        *follow_handlers.handlers(),
        CommandHandler("reindex", admin.reindex_command, filters=only_new),
        CommandHandler("stats", admin.stats_command, filters=only_new),
        # Slow operator work runs beside the update queue, so readers are not kept waiting.
        CommandHandler("delete", admin.delete_command, filters=only_new, block=False),
        MessageHandler(private & filters.TEXT & ~filters.COMMAND, h.private_text),
        CommandHandler("feeds", feeds.feeds_command, filters=only_new, block=False),
        MessageHandler(private & filters.Document.FileExtension("opml"), feeds.opml_upload, block=False),
        MessageHandler(private & filters.Document.ALL, admin.upload_document, block=False),
        MessageHandler(private & filters.COMMAND, h.unknown_command),
        MessageHandler(private & ~filters.TEXT & ~filters.StatusUpdate.ALL, h.not_text),
        MessageHandler(groups & filters.TEXT & ~filters.COMMAND, h.group_text),
        CallbackQueryHandler(h.button),
        InlineQueryHandler(h.inline_query),
    ])
    app.add_error_handler(h.on_error)


async def register_commands(app: Application, settings: Settings) -> None:
    """Command menus: public ones for everyone (Arabic, and English for English clients);
    admin ones only in each admin's private chat."""
    bot = app.bot
    for language, commands in PUBLIC_COMMANDS.items():
        await bot.set_my_commands([BotCommand(c, d) for c, d in commands], scope=BotCommandScopeDefault(),
                                  language_code=None if language == "ar" else language)
    for admin_id in sorted(settings.admin_ids):
        for language, commands in ADMIN_COMMANDS.items():
            menu = [BotCommand(c, d) for c, d in PUBLIC_COMMANDS[language] + commands]
            try:
                await bot.set_my_commands(menu, scope=BotCommandScopeChat(admin_id),
                                          language_code=None if language == "ar" else language)
            except TelegramError as exc:  # e.g. an admin who never opened a chat with the bot
                log.warning("could not set the admin command menu for %s: %s", admin_id, exc)
                break


async def start_application(app: Application, *, poll_timeout: int = 10) -> None:
    """Initialise, open the question log, register menus, start handling updates; then long
    polling, or a webhook (with a secret token) when `webhook_url` is set."""
    data = bot_data(app)
    svc = data.services
    assert svc is not None and data.alerts is not None, "build_application sets them"
    settings = svc.settings
    await app.initialize()
    svc.records = await QuestionLog.open(
        settings.db, retention_days=settings.question_log_days,
        salt=settings.hash_salt.get_secret_value() if settings.hash_salt else None)
    await svc.records.purge()
    await register_commands(app, settings)
    await app.start()
    await feeds.start_polling(app)
    await data.alerts.start()
    if settings.webhook_url:
        secret = settings.webhook_secret.get_secret_value() if settings.webhook_secret else secrets.token_urlsafe(32)
        await app.updater.start_webhook(
            listen=settings.webhook_listen, port=settings.webhook_port,
            url_path=urlparse(settings.webhook_url).path.lstrip("/"), webhook_url=settings.webhook_url,
            secret_token=secret, allowed_updates=ALLOWED_UPDATES)
        log.info("webhook on %s:%d for %s", settings.webhook_listen, settings.webhook_port, settings.webhook_url)
    else:
        await app.updater.start_polling(poll_interval=0.0, timeout=poll_timeout, allowed_updates=ALLOWED_UPDATES)
        log.info("long polling %s", urlparse(settings.bot_api_url).netloc)


async def stop_application(app: Application) -> None:
    data = bot_data(app)
    svc = data.services
    await feeds.stop_polling(app)
    if app.updater and app.updater.running:
        await app.updater.stop()
    if data.alerts is not None:
        await data.alerts.stop()
    if app.running:
        await app.stop()
    await app.shutdown()
    if svc is not None and svc.records is not None:
        await svc.records.close()
        svc.records = None


async def serve(settings: Settings, *, timings: timing.TimingSink | None = None) -> None:
    """Run the bot until SIGINT or SIGTERM (`timings` as for `build_application`; at log level
    DEBUG, each update's parts are logged)."""
    engine = await SearchEngine.open(settings.db, settings.retrieval_config())
    await engine.load_stories()  # before serving: an upload's first article then allocates little
    engine.start_watching()  # `newsbot ingest` in another process: searchable here within ~1 s
    try:
        if timings is None and timing.log.isEnabledFor(logging.DEBUG):
            timings = timing.log_sink
        app = build_application(settings, engine, timings=timings)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await start_application(app)
        try:
            log.info("bot @%s running; Ctrl-C stops it", app.bot.username)
            await stop.wait()
        finally:
            await stop_application(app)
    finally:
        await engine.close()


def run_bot(settings: Settings) -> int:
    """`newsbot run`: the bot until Ctrl-C or SIGTERM; exit code for the shell."""
    if settings.telegram_bot_token is None or not settings.telegram_bot_token.get_secret_value().strip():
        print("newsbot: TELEGRAM_BOT_TOKEN is not set; get a token from @BotFather and put it in the "
              "environment or in .env", file=sys.stderr)
        return 2
    token = settings.telegram_bot_token.get_secret_value()
    protect_token_in_logs(token)
    try:
        asyncio.run(serve(settings))
    except SchemaError as exc:
        print(f"newsbot: {settings.db}: {exc}", file=sys.stderr)
        return 2
    except TelegramError as exc:  # PTB's InvalidToken message quotes the token: never print it
        print(f"newsbot: Telegram refused to start the bot: {TokenRedactor(token).redact(str(exc))}",
              file=sys.stderr)
        return 1
    return 0
