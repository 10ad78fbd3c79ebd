"""Callback data for inline buttons: compact, at most 64 bytes, and stateless.

Everything a button needs is in its data or in the database, never in the
bot's memory, so buttons keep working after a restart:
- `p:<question log id>:<offset>` — a page of results for a logged question;
- `a:<article id>` — the full text of an article;
- `r:<passage id>` — the full article holding a passage (for article ids too long for `a:`).
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_BYTES = 64
MAX_ROW_ID = 2**63 - 1  # SQLite integers; anything larger cannot be a row and would overflow the query
MAX_OFFSET = 10_000  # further than anyone pages; forged offsets stop here


@dataclass(frozen=True, slots=True)
class PageButton:
    question_id: int
    offset: int


@dataclass(frozen=True, slots=True)
class ArticleButton:
    article_id: str


@dataclass(frozen=True, slots=True)
class PassageArticleButton:
    passage_id: int


Button = PageButton | ArticleButton | PassageArticleButton


def fits(data: str) -> bool:
    return 0 < len(data.encode("utf-8")) <= MAX_BYTES


def page(question_id: int, offset: int) -> str:
    return f"p:{question_id}:{offset}"


def article(article_id: str, passage_id: int | None = None) -> str | None:
    """Data for a full-article button, or None when neither form fits in 64 bytes."""
    data = f"a:{article_id}"
    if fits(data):
        return data
    return f"r:{passage_id}" if passage_id is not None else None


def parse_offset(text: str) -> int:
    """A page offset sent back by a client (inline `offset`): 0 unless it is a sane one.

    Clients can send any string; `str.isdigit` also accepts superscripts that
    `int` refuses, and a huge number would overflow the database query.
    """
    if not text.isascii() or not text.isdigit() or len(text) > 6:
        return 0
    return min(int(text), MAX_OFFSET)


def decode(data: str | None) -> Button | None:
    """The button behind `data`, or None for anything this bot did not make."""
    if not data or not fits(data):
        return None
    kind, _, rest = data.partition(":")
    try:
        if kind == "p":
            qid, offset = rest.split(":")
            if 0 < int(qid) <= MAX_ROW_ID and 0 <= int(offset) <= MAX_OFFSET:
                return PageButton(int(qid), int(offset))
        elif kind == "a" and rest:
            return ArticleButton(rest)
        elif kind == "r" and 0 < int(rest) <= MAX_ROW_ID:
            return PassageArticleButton(int(rest))
    except ValueError:
        return None
    return None
