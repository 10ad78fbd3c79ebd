"""Following topics: `/follow`, `/following`, `/unfollow`, and the alerts sent when news about them arrives.

Follows and sent alerts live in SQLite (`follows`, `alerts_sent`), so they survive restarts.
`AlertService` reads the articles added since it last looked (its cursor, the last article rowid
seen, is kept in `meta`), woken at once by an ingest in this process (upload, /reindex, a feed)
and every `NEWSBOT_ALERTS_POLL_SECONDS` for ingests by other processes (`newsbot ingest`). Each
article is matched against the followed topics by the percolator (retrieval/percolator.py); a
follower gets one message per story (never a second version of a story it was told about), at
most `NEWSBOT_ALERTS_PER_DAY` a day (the day in `NEWSBOT_TIMEZONE`), sent through the
application's rate limiter like every answer (Telegram's flood limits: ~30 messages a second in
all, 20 a minute per group). A follower who blocked the bot (403) has its follows paused; they
resume when it uses /follow or /following again. At its first start the service begins at the
newest article: no backlog of old news is sent.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

from telegram import InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import BadRequest, Forbidden, TelegramError
from telegram.ext import Application

from retrieval import outlets as outlet_store
from retrieval import store
from retrieval.engine import SearchEngine
from retrieval.newsquery import BUILTIN_ALIASES, content_terms, outlet_catalogue, parse
from retrieval.percolator import Percolator, Topic, article_terms

from . import formatting as fmt
from . import schema, texts
from .follow_store import Follow, FollowStore
from .settings import Settings
from .texts import MAX_FOLLOWS_PER_CHAT

log = logging.getLogger(__name__)

MAX_TOPIC_CHARS = 200
MAX_TOPIC_TERMS = 8
BATCH = 200
CURSOR_KEY = "alerts_cursor"
STOP_PREFIX = "u:"



def alert_text(title: str, source: str, published: str, body: str, url: str, topic: str) -> str:
    """One alert: the story's title, source and date, an excerpt, the link, and the topic it matched."""
    first = next((" ".join(p.split()) for p in body.splitlines() if p.strip()), "")
    lines = [f"{fmt.RLM}🔔 <b>{fmt.esc(fmt.shorten(title, 200) or texts.UNTITLED)}</b>"]
    if meta := fmt.source_line(source, "", published, 100):
        lines.append(f"{fmt.RLM}{fmt.esc(meta)}")
    if first:
        lines.append(f"{fmt.RLM}{fmt.esc(fmt.shorten(first, 300))}")
    if url:
        lines.append(f'{fmt.RLM}<a href="{fmt.esc(url)}">{texts.ARTICLE_LINK}</a>')
    lines.append(f"{fmt.RLM}{fmt.esc(texts.YOUR_FOLLOW + fmt.shorten(topic, 100))}")
    return "\n".join(lines)


class AlertService:
    def __init__(self, app: Application, engine: SearchEngine, settings: Settings) -> None:
        self.app = app
        self.engine = engine
        self.settings = settings
        self.tz = ZoneInfo(settings.timezone)
        self.follows: FollowStore | None = None
        self.percolator = Percolator(self._df)
        self._chat_of: dict[int, Follow] = {}
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None
        self._lock = asyncio.Lock()

    def _df(self, term: str) -> int:
        index = self.engine.index
        tid = index.vocabulary.get(term) if index is not None else None
        return index.df(tid) if index is not None and tid is not None else 0

    # --- lifecycle ----------------------------------------------------------------------

    async def start(self) -> None:
        self.follows = await FollowStore.open(self.settings.db)
        outlets = await self._outlets()
        for follow in await self.follows.active():
            # Terms are re-derived from the topic as written: an analysis chain changed since the follow
            # was stored (a new stemmer, new folds) would otherwise leave it matching nothing.
            terms = self._terms(parse(follow.topic, datetime.now(UTC), self.tz, outlets).text)
            if terms and sorted(terms) != sorted(follow.terms):
                follow = await self.follows.retag(follow, terms)
            self._index(follow)
        if not await schema.get_value(self.follows.db, CURSOR_KEY):
            await schema.set_value(self.follows.db, CURSOR_KEY, str(await store.last_article_rowid(self.follows.db)))
        self.engine.ingest_listeners.append(self.wake)
        self._task = asyncio.create_task(self._run(), name="alerts")

    async def stop(self) -> None:
        if self.wake in self.engine.ingest_listeners:
            self.engine.ingest_listeners.remove(self.wake)
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
        if self.follows is not None:
            await self.follows.close()
            self.follows = None

    def wake(self) -> None:
        self._wake.set()

    async def _run(self) -> None:
        while True:
            try:
                await asyncio.wait_for(self._wake.wait(), self.settings.alerts_poll_seconds)
            except TimeoutError:
                pass
            self._wake.clear()
            try:
                await self.process_new()
            except asyncio.CancelledError:
                raise
            except Exception:  # the next round tries again from the same cursor
                log.exception("alerts: processing new articles failed")

    # --- follows --------------------------------------------------------------------------

    def _index(self, follow: Follow) -> None:
        self._chat_of[follow.id] = follow
        self.percolator.add(Topic(follow.id, frozenset(follow.terms), frozenset(follow.sources)))

    def _unindex(self, follow_id: int) -> None:
        self._chat_of.pop(follow_id, None)
        self.percolator.remove(follow_id)

    async def follow(self, chat_id: int, topic: str, text: texts.Texts = texts.AR) -> tuple[Follow | None, str]:
        """Add a follow for `chat_id`; (the follow, or None, and the reply to send)."""
        assert self.follows is not None
        topic = " ".join(topic.split())
        if not topic:
            return None, text.follow_usage
        if len(topic) > MAX_TOPIC_CHARS:
            return None, text.follow_topic_too_long.format(limit=MAX_TOPIC_CHARS)
        parsed = parse(topic, datetime.now(UTC), self.tz, await self._outlets())
        terms = self._terms(parsed.text)
        if not terms:
            return None, text.follow_no_terms
        for resumed in await self.follows.resume_chat(chat_id):
            self._index(resumed)
        if await self.follows.count(chat_id) >= MAX_FOLLOWS_PER_CHAT:
            return None, text.follow_too_many
        follow, new = await self.follows.add(chat_id, topic, terms, list(parsed.filters.sources))
        self._index(follow)
        where = (text.follow_from.format(sources=text.list_separator.join(parsed.filters.source_labels))
                 if parsed.filters.sources else "")
        reply = text.follow_added if new else text.follow_already
        return follow, reply.format(topic=follow.topic, where=where, per_day=self.settings.alerts_per_day)

    @staticmethod
    def _terms(text: str) -> list[str]:
        return list(dict.fromkeys(content_terms(text)))[:MAX_TOPIC_TERMS]

    async def _outlets(self) -> list:
        """Stored outlets, and the built-in ones even before any of their articles arrive (a follow is for later)."""
        assert self.follows is not None
        db = self.follows.db
        stored = await store.stored_sources(db)
        names = list(dict.fromkeys([*stored, *BUILTIN_ALIASES]))
        return outlet_catalogue(names, await outlet_store.aliases(db))

    async def unfollow(self, chat_id: int, follow_id: int) -> bool:
        assert self.follows is not None
        removed = await self.follows.remove(chat_id, follow_id)
        if removed:
            self._unindex(follow_id)
        return removed

    async def listing(self, chat_id: int, text: texts.Texts = texts.AR) -> tuple[str, InlineKeyboardMarkup | None]:
        assert self.follows is not None
        for resumed in await self.follows.resume_chat(chat_id):
            self._index(resumed)
        follows = await self.follows.of_chat(chat_id)
        if not follows:
            return fmt.esc(text.follow_none), None
        lines = [f"{fmt.RLM}<b>{text.follow_title}</b>"]
        lines += [f"{fmt.RLM}{n}. {fmt.esc(fmt.shorten(f.topic, 120))}" for n, f in enumerate(follows, start=1)]
        buttons = [InlineKeyboardButton(f"⏹ {n}", callback_data=f"{STOP_PREFIX}{f.id}")
                   for n, f in enumerate(follows, start=1)]
        rows = [buttons[i:i + 5] for i in range(0, len(buttons), 5)]
        return "\n".join(lines), InlineKeyboardMarkup(rows)

    # --- alerts ---------------------------------------------------------------------------

    def _day_start(self) -> datetime:
        today = datetime.now(self.tz).date()
        return datetime.combine(today, time(0), tzinfo=self.tz)

    async def process_new(self) -> int:
        """Match the articles added since the cursor and send the alerts; returns how many were sent."""
        async with self._lock:
            assert self.follows is not None
            db = self.follows.db
            cursor = int(await schema.get_value(db, CURSOR_KEY, "0"))
            sent = 0
            while rows := await store.articles_after(db, cursor, BATCH):
                ready = []
                for row in rows:
                    if row.story is None:  # its story is being written by the ingest under way: next round
                        break
                    ready.append(row)
                if not ready:
                    break
                if len(self.percolator):
                    sent += await self._alert(ready)
                cursor = ready[-1].rowid
                await schema.set_value(db, CURSOR_KEY, str(cursor))
                if len(ready) < len(rows):
                    break
            return sent

    async def _alert(self, rows: list[store.NewArticle]) -> int:
        assert self.follows is not None
        passages = await store.passage_terms(self.follows.db, [r.id for r in rows])
        day_start = self._day_start()
        counts: dict[int, int] = {}
        sent = 0
        for row in rows:
            article_id, title, body, source, published, url, story = (
                row.id, row.title, row.body, row.source, row.published, row.url, row.story)
            assert story is not None  # only grouped articles are alerted
            terms, lead = article_terms(passages.get(article_id, []))
            chats: dict[int, Follow] = {}
            for topic in self.percolator.match(terms, lead, source):
                follow = self._chat_of.get(topic.id)
                if follow is not None:
                    chats.setdefault(follow.chat_id, follow)
            for chat_id, follow in chats.items():
                if await self.follows.already_told(chat_id, story):
                    continue
                if chat_id not in counts:
                    counts[chat_id] = await self.follows.sent_since(chat_id, day_start)
                if counts[chat_id] >= self.settings.alerts_per_day:
                    log.info("alerts: chat %s reached its daily cap", chat_id)
                    continue
                text = alert_text(title, source, published, body, url, follow.topic)
                try:
                    await self.app.bot.send_message(chat_id, text)
                except Forbidden:
                    # Blocked by the user, or removed from the group: stop, do not retry forever.
                    for follow_id in await self.follows.pause_chat(chat_id):
                        self._unindex(follow_id)
                    log.info("alerts: chat %s blocked the bot; its follows are paused", chat_id)
                    continue
                except BadRequest as exc:
                    if "chat not found" in str(exc).lower():
                        for follow_id in await self.follows.pause_chat(chat_id):
                            self._unindex(follow_id)
                    log.warning("alerts: chat %s refused an alert: %s", chat_id, exc)
                    continue
                except TelegramError as exc:  # transient failures were already retried by the rate limiter
                    log.warning("alerts: could not alert chat %s: %s", chat_id, exc)
                    continue
                await self.follows.record(chat_id, story, article_id, follow.id)
                counts[chat_id] += 1
                sent += 1
        return sent
