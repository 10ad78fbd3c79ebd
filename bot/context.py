"""State the handlers share, and the typed callback context that carries it.

`build_application` puts one `BotData` in `application.bot_data`; every
handler receives a `BotContext`, whose properties return the services typed,
instead of looking up untyped keys (as in python-telegram-bot's
`examples/contexttypesbot.py`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from telegram import Update
from telegram.ext import Application, CallbackContext, ContextTypes, ExtBot

from retrieval.engine import SearchEngine
from retrieval.news import NewsDesk

from . import texts
from .records import QuestionLog
from .settings import Settings
from .timing import NO_TIMER, PartTimer
from .user_limits import UserLimits

if TYPE_CHECKING:  # both modules build on this one: imported for their types only
    from .feeds.telegram import FeedsRuntime
    from .follow import AlertService


@dataclass
class ReindexState:
    """The admin's /reindex in progress, shown by /stats and a second /reindex."""

    running: bool = False
    phase: str = ""
    files: int = 0
    records: int = 0

    def progress(self, text: texts.Texts = texts.EN) -> str:
        phase = {"scanning": text.phase_scanning, "building": text.phase_building}.get(self.phase, self.phase)
        return text.progress.format(phase=phase, files=self.files, records=self.records)


@dataclass
class Services:
    settings: Settings
    engine: SearchEngine
    limits: UserLimits
    records: QuestionLog | None = None  # opened at start-up (async)
    reindex: ReindexState = field(default_factory=ReindexState)
    news: NewsDesk | None = None

    def desk(self) -> NewsDesk:
        """Questions with dates and outlets in them, answered over the engine."""
        if self.news is None:
            self.news = NewsDesk(self.engine, self.settings.timezone)
        return self.news


class BotData:
    """`application.bot_data`: filled by `build_application` and the start-up hooks."""

    def __init__(self) -> None:
        self.services: Services | None = None
        self.alerts: AlertService | None = None
        self.feeds: FeedsRuntime | None = None


class BotContext(CallbackContext[ExtBot, dict, dict, BotData]):
    """The context every handler receives: the shared services, typed."""

    def __init__(self, application: Application, chat_id: int | None = None, user_id: int | None = None) -> None:
        super().__init__(application, chat_id, user_id)
        # The update's part timer (`bot.timing`): a real one only while a timing sink is installed.
        self.timer: PartTimer = NO_TIMER

    @property
    def services(self) -> Services:
        svc = self.bot_data.services
        if svc is None:
            raise RuntimeError("the application was not built by bot.app.build_application")
        return svc

    @property
    def alerts(self) -> AlertService:
        alerts = self.bot_data.alerts
        if alerts is None:
            raise RuntimeError("the alert service is not set up")
        return alerts

    @property
    def feeds(self) -> FeedsRuntime:
        feeds = self.bot_data.feeds
        if feeds is None:
            raise RuntimeError("feed polling has not started")
        return feeds


CONTEXT_TYPES = ContextTypes(context=BotContext, bot_data=BotData)
BotApplication = Application[ExtBot, BotContext, dict, dict, BotData, object]


def bot_data(app: Application) -> BotData:
    data = app.bot_data
    if not isinstance(data, BotData):
        raise TypeError("the application was not built with bot.context.CONTEXT_TYPES")
    return data


def is_admin(update: Update, context: BotContext) -> bool:
    user = update.effective_user
    return bool(user and user.id in context.services.settings.admin_ids)
