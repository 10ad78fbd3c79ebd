"""How a news question was understood, and the stories' other outlets, as lines of answer text (plain).

Used by the terminal (`bot.terminal`) as is and by Telegram (`bot.formatting`) escaped.
"""

from __future__ import annotations

from retrieval.engine import Hit, SearchResult
from retrieval.newsquery import outlet_key

from .texts import ALSO, NO_SOURCE, OUTSIDE_FILTERS

# How readers know the shared corpus's outlets (stored under Latin names).
DISPLAY_NAMES = {"bbc": "بي بي سي", "cnn": "سي إن إن", "skynews": "سكاي نيوز عربية", "alarabia": "العربية",
                 "alarabiya": "العربية", "france24": "فرانس 24"}


def outlet_name(source: str) -> str:
    return DISPLAY_NAMES.get(outlet_key(source), source) or NO_SOURCE


def also_links(hit: Hit) -> list[tuple[str, str]]:
    """(outlet, link) of the story's other versions, one per outlet, in the order given (newest first)."""
    seen: dict[str, str] = {}
    for copy in hit.also:
        seen.setdefault(outlet_name(copy.source), copy.url)
    return list(seen.items())


def also_line(hit: Hit) -> str | None:
    """`وردت أيضاً في: سكاي نيوز عربية (https://...)، العربية` as plain text, or None."""
    links = also_links(hit)
    if not links:
        return None
    return f"{ALSO} " + "، ".join(f"{name} ({url})" if url else name for name, url in links)


def understood_lines(result: SearchResult) -> list[str]:
    """`🔎 أخبار 2021/11/21` when the question named dates or outlets, and the outside-filters notice."""
    if result.filters is None:
        return []
    lines = []
    if explanation := result.filters.explain():
        lines.append(f"🔎 {explanation}")
    if result.outside_filters and result.hits:
        lines.append(OUTSIDE_FILTERS)
    return lines
