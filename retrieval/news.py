"""News-aware questions: `NewsDesk.ask` understands a question's dates and outlets, then searches.

Front ends (the bot, `newsbot ask/search`, the terminal prompt) ask through here; the engine
itself only takes the resulting `Filters`.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, tzinfo
from zoneinfo import ZoneInfo

from . import outlets, store
from .engine import SearchEngine, SearchResult
from .newsquery import Outlet, Parsed, content_terms, parse


class NewsDesk:
    def __init__(self, engine: SearchEngine, timezone: str | tzinfo = "Asia/Riyadh") -> None:
        self.engine = engine
        self.tz = ZoneInfo(timezone) if isinstance(timezone, str) else timezone
        self._catalogue: tuple[tuple, list[Outlet]] | None = None

    async def outlets(self) -> list[Outlet]:
        """The outlets questions can name: stored sources with their aliases (re-read when either changes)."""
        db = self.engine.reader
        stamp = (await store.content_generation(db), await outlets.aliases_stamp(db))
        if self._catalogue is None or self._catalogue[0] != stamp:
            self._catalogue = (stamp, await outlets.catalogue(db))
        return self._catalogue[1]

    async def aliases(self) -> dict[str, list[str]]:
        """The names stored for each outlet beside its own (`newsbot sources alias`)."""
        return await outlets.aliases(self.engine.reader)

    async def add_aliases(self, source: str, names: list[str]) -> list[str]:
        """Give a stored outlet other names questions may use, all or none (`outlets.AliasError` says why)."""
        async with self.engine.writing() as db:
            return await outlets.add_aliases(db, source, names)

    async def remove_aliases(self, source: str, names: list[str]) -> int:
        async with self.engine.writing() as db:
            return await outlets.remove_aliases(db, source, names)

    async def understand(self, question: str, now: datetime | None = None) -> Parsed:
        return parse(question, now or datetime.now(UTC), self.tz, await self.outlets())

    async def ask(self, question: str, k: int = 3, offset: int = 0, *, now: datetime | None = None) -> SearchResult:
        """Search `question` with the dates and outlets it names as filters (see retrieval/newsquery.py)."""
        parsed = await self.understand(question, now)
        if not parsed.filters.active and not parsed.filters.newest_first:
            return await self.engine.search(question, k, offset)
        if parsed.filters.start is not None and not content_terms(parsed.text):
            # Only a time (ماذا حدث أمس؟): the news of that window, newest first.
            return await self.engine.search("", k, offset, filters=replace(parsed.filters, newest_first=True))
        return await self.engine.search(parsed.text, k, offset, filters=parsed.filters)
