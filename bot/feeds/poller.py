"""Polling: due feeds fetched (conditionally), their items turned into articles and ingested.

One poll of a feed: conditional GET (a 304 parses nothing) → safe parse (in a worker process) → for each
item not seen before or changed since: the item's own full text (`content:encoded`) or else the
article page, fetched if robots.txt allows it and extracted (in the worker process) → identity by canonical
URL, identical bodies stored once → one `SearchEngine.ingest_articles` call (the same ingestion
and transactions as files) → the items and the feed's new state recorded.

Crash safety: articles are written whole by the ingest; the items and the feed's validators are
recorded only after it. A crash in between makes the next poll fetch the feed again in full and
re-derive the same articles under the same ids, which the ingest finds unchanged: no duplicates.

Failures: a 429 or 503 with Retry-After silences the feed until then; any failure counts an error
and pushes the next poll back exponentially (interval × 2^errors, capped); one success resets it.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import urlsplit

import aiosqlite

from retrieval.articles import Article
from retrieval.engine import SearchEngine

from . import store as feeds_store
from .extract import MIN_BODY_CHARS, extract_job, html_to_text, letters, parse_job
from .fetch import Fetcher, FetchError
from .parse import FeedError, FeedItem, ParsedFeed
from .urls import BadUrl, article_id_for, canonical_url, check_url
from .worker import in_worker

log = logging.getLogger(__name__)

FEED_ACCEPT = "application/rss+xml, application/atom+xml, application/rdf+xml, application/xml;q=0.9, text/xml;q=0.9"
PAGE_ACCEPT = "text/html, application/xhtml+xml;q=0.9"
# A date this far ahead of the fetch is a mistake of the outlet's clock or time zone: clamped.
FUTURE_SLACK_SECONDS = 300
# Pages of one feed fetched and extracted at once (the per-host gate still serialises the fetches).
PAGE_WORKERS = 4
CPU_SAMPLES = 10_000


@dataclass(frozen=True)
class PollConfig:
    interval: float = 300.0
    feed_max_bytes: int = 5 * 1024**2
    page_max_bytes: int = 5 * 1024**2
    max_backoff: float = 6 * 3600.0


@dataclass
class Outcome:
    url: str
    result: str  # new, updated, unchanged, skipped, failed, removed
    detail: str = ""
    added: int = 0
    updated: int = 0

    def line(self) -> str:
        return f"{self.result} {self.url}" + (f": {self.detail}" if self.detail else "")


@dataclass
class _Taken:
    article: Article
    item: feeds_store.ItemRow


@dataclass
class _Stats:
    items: int = 0
    seen: int = 0
    summary_only: int = 0
    duplicates: int = 0
    deferred: int = 0
    dropped: list[str] = field(default_factory=list)


def item_hash(item: FeedItem) -> str:
    """What the feed says about an item: a change (an edited title, summary or text) re-takes it."""
    h = hashlib.sha1()
    for part in (item.title, item.link, item.published, item.summary, item.content, item.author):
        h.update(part.encode("utf-8", "surrogatepass"))
        h.update(b"\x00")
    return h.hexdigest()


def body_hash(body: str) -> str:
    return hashlib.sha1(" ".join(body.split()).encode("utf-8", "surrogatepass")).hexdigest()


def clamp_date(published: str, fetched: datetime) -> str:
    """`published` unless it lies in the future (then the fetch time, in the same offset)."""
    try:
        when = datetime.fromisoformat(published)
    except ValueError:
        return published
    if when.tzinfo is None:  # a bare day: compared as a day
        return published if when.date() <= fetched.date() else fetched.date().isoformat()
    if when.timestamp() > fetched.timestamp() + FUTURE_SLACK_SECONDS:
        return fetched.astimezone(when.tzinfo).isoformat(timespec="seconds")
    return published


def feed_name(parsed: ParsedFeed, url: str) -> str:
    return parsed.title or (urlsplit(url).hostname or url)


async def check_feed(fetcher: Fetcher, url: str, max_bytes: int) -> tuple[str, ParsedFeed]:
    """Fetch and parse a feed once (`feeds add`): the URL after redirects and the feed, or
    `BadUrl` / `FetchError` / `FeedError` with the reason."""
    url = check_url(url)
    response = await fetcher.get(url, max_bytes=max_bytes, accept=FEED_ACCEPT)
    try:
        parsed, _ = await in_worker(parse_job, response.body, response.content_type)
    except BrokenProcessPool:
        raise FeedError("the parser process died on this document") from None
    return url, parsed


class Poller:
    def __init__(self, engine: SearchEngine, db: aiosqlite.Connection, fetcher: Fetcher, config: PollConfig,
                 *, clock: Callable[[], float] = time.time) -> None:
        self.engine = engine
        self.db = db
        self.fetcher = fetcher
        self.config = config
        self.clock = clock
        self.wakeup = asyncio.Event()
        # Deciding what to store and storing it is one step per feed at a time (fetching and
        # extraction are not): two feeds carrying one article must not both take it.
        self._commit_lock = asyncio.Lock()
        # Called after a feed's articles are ingested, and so searchable (tests and the benchmark time with it).
        self.on_ingested: Callable[[Outcome], Awaitable[None] | None] | None = None
        # CPU seconds the worker reported, the latest ones: per feed parse (with its item count), per
        # page extraction (bounded: the bot runs for months).
        self.cpu: dict[str, deque] = {"parse": deque(maxlen=CPU_SAMPLES), "extract": deque(maxlen=CPU_SAMPLES)}

    # --- the loops ----------------------------------------------------------------------------

    async def poll_once(self, *, all_feeds: bool = True) -> list[Outcome]:
        """Poll every feed now (`watch --once`), except one inside a Retry-After or backoff
        window; or, with `all_feeds=False`, only the due ones. Every article taken is searchable on return."""
        now = self.clock()
        feeds = await feeds_store.list_feeds(self.db) if all_feeds else await feeds_store.due_feeds(self.db, now)
        skipped, todo = [], []
        for feed in feeds:
            if feed.paused:
                skipped.append(Outcome(feed.url, "skipped", "paused"))
            elif feed.retry_until > now:
                skipped.append(Outcome(feed.url, "skipped", f"inside its Retry-After window "
                                       f"({feed.retry_until - now:.0f} s left)"))
            elif feed.errors and feed.next_due > now:
                skipped.append(Outcome(feed.url, "skipped", f"backing off after {feed.errors} errors "
                                       f"({feed.next_due - now:.0f} s left; last: {feed.last_error})"))
            else:
                todo.append(feed)
        outcomes = await asyncio.gather(*(self.poll_feed(f) for f in todo))
        return skipped + list(outcomes)

    async def run_forever(self, report: Callable[[Outcome], None] | None = None) -> None:
        """Poll due feeds until cancelled; sleeps until the next one is due or `wakeup` is set."""
        while True:
            try:
                due = await feeds_store.due_feeds(self.db, self.clock())
                if due:
                    for outcome in await asyncio.gather(*(self.poll_feed(f) for f in due)):
                        if report is not None:
                            report(outcome)
                nxt = await feeds_store.next_due_time(self.db)
            except asyncio.CancelledError:
                raise
            except Exception:  # the loop must outlive any one bad poll
                log.exception("feed poll failed")
                nxt = None
            delay = 60.0 if nxt is None else min(max(nxt - self.clock(), 0.05), 60.0)
            self.wakeup.clear()
            try:
                await asyncio.wait_for(self.wakeup.wait(), delay)
            except TimeoutError:
                pass

    async def close(self) -> None:
        """Nothing runs behind a poll (its ingest makes the articles searchable before returning);
        kept for the front ends' shutdown order."""

    # --- one feed -----------------------------------------------------------------------------

    async def poll_feed(self, feed: feeds_store.Feed) -> Outcome:
        try:
            return await self._poll(feed)
        except (FetchError, FeedError) as exc:
            return await self._failed(feed, str(exc), getattr(exc, "retry_after", None))
        except Exception as exc:  # one feed's surprise must not stop the others' polls
            log.exception("polling %s failed", feed.url)
            return await self._failed(feed, f"internal error: {type(exc).__name__}: {exc}", None)

    async def _failed(self, feed: feeds_store.Feed, reason: str, retry_after: float | None) -> Outcome:
        now = self.clock()
        errors = feed.errors + 1
        retry_until = now + retry_after if retry_after else 0.0
        backoff = min(self.config.interval * 2 ** min(errors, 20), self.config.max_backoff)
        next_due = retry_until if retry_after else now + backoff
        await feeds_store.record_fetch(self.db, feed.id, ok=False, error=reason, next_due=next_due,
                                       retry_until=retry_until)
        log.info("feed %s failed (%d in a row): %s", feed.url, errors, reason)
        return Outcome(feed.url, "failed", reason)

    async def _poll(self, feed: feeds_store.Feed) -> Outcome:
        response = await self.fetcher.get(feed.url, max_bytes=self.config.feed_max_bytes, etag=feed.etag,
                                          last_modified=feed.last_modified, accept=FEED_ACCEPT)
        next_due = self.clock() + self.config.interval
        moved = ""
        if response.moved_permanently and response.url != feed.url \
                and await feeds_store.move_feed(self.db, feed.id, response.url):
            moved = f"; moved permanently to {response.url}, followed there from now on"
        if response.status == 304:
            await feeds_store.record_fetch(self.db, feed.id, ok=True, next_due=next_due)
            return Outcome(feed.url, "unchanged", "not modified (304)" + moved)
        try:
            parsed, cpu = await in_worker(parse_job, response.body, response.content_type)
        except BrokenProcessPool:
            raise FeedError("the parser process died on this document") from None
        self.cpu["parse"].append((cpu, len(parsed.items)))
        name = feed.name or feed_name(parsed, feed.url)
        stats = _Stats(items=len(parsed.items))
        candidates = await self._take_items(feed, name, parsed.items, stats)
        async with self._commit_lock:
            if await feeds_store.feed_by_id(self.db, feed.id) is None:
                return Outcome(feed.url, "removed", "stopped: the feed was removed during its poll; nothing stored")
            taken, urls = await self._decide(feed, candidates, stats)
            report = None
            if taken:
                # The ingest's near-real-time refresh indexes just these articles (a small segment, in
                # milliseconds) before it returns: nothing to schedule or coalesce.
                report = await self.engine.ingest_articles([t.article for t in taken], f"feed:{feed.url}")
                if report.skipped:
                    stats.dropped += [s.reason for s in report.skipped]
            await feeds_store.record_items(self.db, [t.item for t in taken], urls)
            added, updated = (report.added, report.updated) if report else (0, 0)
            # Validators are kept only once everything they cover is stored (see the module's doc); with
            # pages deferred they are dropped, so the next poll reads the feed again and retries them.
            await feeds_store.record_fetch(self.db, feed.id, ok=True, next_due=next_due, etag=response.etag,
                                           last_modified=response.last_modified, new_articles=added, name=name,
                                           clear_validators=bool(stats.deferred))
        result = "new" if added else "updated" if updated else "unchanged"
        detail = f"{stats.items} items, {added} new, {updated} updated"
        extras = [(stats.summary_only, "summary only"), (stats.duplicates, "duplicates of stored articles"),
                  (stats.deferred, "pages deferred (rate-limited)"), (len(stats.dropped), "dropped")]
        detail += "".join(f", {n} {what}" for n, what in extras if n) + moved
        outcome = Outcome(feed.url, result, detail, added, updated)
        if added or updated:
            if self.on_ingested is not None:
                maybe = self.on_ingested(outcome)
                if maybe is not None:
                    await maybe
        return outcome

    async def _take_items(self, feed: feeds_store.Feed, name: str, items: Sequence[FeedItem],
                          stats: _Stats) -> list:
        """This poll's new or changed items built into articles: (canonical URL, article id, item
        hash, article and summary-only flag, or why not)."""
        entries: dict[str, FeedItem] = {}
        for item in items:
            try:
                canonical = canonical_url(check_url(item.link))
            except BadUrl as exc:
                stats.dropped.append(f"item {item.title[:40]!r}: {exc}")
                continue
            entries.setdefault(canonical, item)  # the same link twice in one feed: its first item
        owners = await feeds_store.url_owners(self.db, entries)
        ids = {c: owners.get(c) or article_id_for(c) for c in entries}
        known = await feeds_store.known_items(self.db, ids.values())
        owner_feeds = {k.feed_id for k in known.values() if k.feed_id != feed.id}
        live_owners = {f for f in owner_feeds if await feeds_store.feed_by_id(self.db, f) is not None}
        todo = []
        for canonical, item in entries.items():
            aid, h = ids[canonical], item_hash(item)
            k = known.get(aid)
            # Seen and unchanged; or another (still followed) feed's article: the first feed that
            # brought an article keeps it, so two feeds carrying it never flip its source back and forth.
            if k is not None and (k.item_hash == h or k.feed_id in live_owners):
                stats.seen += 1
                continue
            todo.append((canonical, aid, h, item))
        fetched = datetime.now(UTC)
        built: list[tuple[Article, bool] | str | None] = [None] * len(todo)
        queue = iter(enumerate(todo))

        # A few workers take the items in turn, rather than a task per item waiting on a semaphore: when
        # every feed's parse came back at once, thousands of such tasks all became ready together and a
        # reader's question queued behind them on the event loop (~0.3 s at 50 feeds × 50 items).
        async def worker() -> None:
            for i, (canonical, aid, _, item) in queue:
                built[i] = await self._article(name, item, canonical, aid, fetched)

        await asyncio.gather(*(worker() for _ in range(min(PAGE_WORKERS, len(todo)))))
        return [(canonical, aid, h, result) for (canonical, aid, h, _), result in zip(todo, built, strict=True)]

    async def _decide(self, feed: feeds_store.Feed, candidates: list, stats: _Stats
                      ) -> tuple[list[_Taken], list[tuple[str, str]]]:
        """Which built articles to store, decided under the commit lock against what is stored now
        (another feed may have taken the same article, or the same text, while our pages loaded)."""
        known = await feeds_store.known_items(self.db, [c[1] for c in candidates])
        taken: list[_Taken] = []
        urls: list[tuple[str, str]] = []
        bodies: dict[str, str] = {}
        for canonical, aid, h, result in candidates:
            if result is None:
                stats.deferred += 1
                continue
            if isinstance(result, str):
                stats.dropped.append(result)
                continue
            k = known.get(aid)
            if k is not None and k.feed_id != feed.id and await feeds_store.feed_by_id(self.db, k.feed_id):
                stats.seen += 1
                continue
            article, summary_only = result
            bh = body_hash(article.body)
            other = bodies.get(bh) or await feeds_store.body_owner(self.db, bh)
            if other is not None and other != aid:
                stats.duplicates += 1
                urls.append((canonical, other))  # the same text under another URL: remembered, not stored
                continue
            bodies[bh] = aid
            stats.summary_only += summary_only
            urls.append((canonical, aid))
            taken.append(_Taken(article, feeds_store.ItemRow(aid, canonical, feed.id, h, bh, summary_only)))
        return taken, urls

    async def _article(self, source: str, item: FeedItem, canonical: str, aid: str,
                       fetched: datetime) -> tuple[Article, bool] | str | None:
        """The item as an article and whether it is summary-only; a reason string if it has no
        text at all; None if its page is rate-limited (retried next poll)."""
        content = html_to_text(item.content) if item.content else ""
        summary = html_to_text(item.summary) if item.summary else ""
        body, summary_only, page_published = content, False, ""
        if letters(content) < MIN_BODY_CHARS:
            extracted = ""
            try:
                if await self.fetcher.allowed_by_robots(item.link):
                    response = await self.fetcher.get(item.link, max_bytes=self.config.page_max_bytes,
                                                      accept=PAGE_ACCEPT)
                    page = response.body
                    try:
                        extracted, page_published, cpu = await in_worker(
                            extract_job, page, item.link, not item.published)
                        self.cpu["extract"].append(cpu)
                    except BrokenProcessPool:
                        log.warning("the extraction process died on %s: keeping the feed's text", item.link)
                else:
                    log.info("robots.txt disallows %s: keeping the feed's text", item.link)
            except FetchError as exc:
                if exc.status in (429, 503):
                    return None
                log.info("page %s not fetched (%s): keeping the feed's text", item.link, exc)
            if letters(extracted) >= min(MIN_BODY_CHARS, max(letters(content), letters(summary)) + 1):
                body = extracted
            else:
                body, summary_only = (content or summary), True
        title = item.title
        lines = body.split("\n")
        if title and len(lines) > 1 and lines[0].strip() == title:
            body = "\n".join(lines[1:])  # the page repeats the headline above the text
        if not body.strip():
            return f"item {title[:40]!r}: no text in the feed or on its page"
        published = item.published or page_published
        published = clamp_date(published or fetched.isoformat(timespec="seconds"), fetched)
        return Article(id=aid, body=body, title=title or body.split("\n", 1)[0][:200], source=source,
                       section=item.categories[0] if item.categories else "", published=published,
                       url=canonical, author=item.author), summary_only
