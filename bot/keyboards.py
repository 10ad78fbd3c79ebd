"""Inline keyboards under answers and article lists (callback data from `bot.callbacks`)."""

from __future__ import annotations

from collections.abc import Sequence

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from retrieval.articles import Article
from retrieval.engine import SearchResult

from . import callbacks
from .texts import FULL_ARTICLE, NEXT_PAGE, PREVIOUS_PAGE


def _full_article_row(items: Sequence[tuple[int, str | None]]) -> list[InlineKeyboardButton]:
    return [InlineKeyboardButton(f"{FULL_ARTICLE} {number}", callback_data=data) for number, data in items if data]


def answer_keyboard(result: SearchResult, question_id: int | None, per_page: int) -> InlineKeyboardMarkup | None:
    """Full-article buttons for each result, then previous/next page (next on the left, as Arabic reads)."""
    rows: list[list[InlineKeyboardButton]] = []
    articles = _full_article_row([(n, callbacks.article(h.article_id, h.passage_id))
                                  for n, h in enumerate(result.hits, start=result.offset + 1)])
    if articles:
        rows.append(articles)
    if question_id is not None:
        paging = []
        if result.has_more:
            paging.append(InlineKeyboardButton(NEXT_PAGE, callback_data=callbacks.page(
                question_id, result.offset + per_page)))
        if result.offset > 0:
            paging.append(InlineKeyboardButton(PREVIOUS_PAGE, callback_data=callbacks.page(
                question_id, max(0, result.offset - per_page))))
        if paging:
            rows.append(paging)
    return InlineKeyboardMarkup(rows) if rows else None


def articles_keyboard(articles: Sequence[Article]) -> InlineKeyboardMarkup | None:
    row = _full_article_row([(n, callbacks.article(a.id)) for n, a in enumerate(articles, start=1)])
    return InlineKeyboardMarkup([row]) if row else None
