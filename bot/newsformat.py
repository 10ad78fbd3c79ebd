"""How a news question was understood, and the stories' other outlets, as lines of answer text (plain).

Used by the terminal (`bot.terminal`) as is and by Telegram (`bot.formatting`) escaped.
"""

from __future__ import annotations

from retrieval.engine import SearchResult

OUTSIDE_FILTERS = "لا توجد نتائج ضمن ما طلبت؛ هذه أقرب النتائج خارجه:"


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
