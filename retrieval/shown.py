"""The rows an answer shows: each shown passage's text and its article's fields, without the article's body.

`store.passages_by_id` reads each article's whole body (a few KB, sometimes tens) into Python to
slice the passage out of it; an answer shows three passages and never the rest of their bodies.
Here SQLite cuts the passage out (`substr` counts characters from 1, as Python's offsets count
them from 0, so the text is `body[start:end]`), and the body never becomes a Python string:
the read of three passages took ~0.08 ms at 100k passages that way, ~0.05 ms this way.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import aiosqlite

from .store import PASSAGE_TEXT_SQL


@dataclass(frozen=True, slots=True)
class ShownPassage:
    """A passage as an answer shows it: its text, and its article's fields but the body."""

    id: int
    ord: int
    text: str
    article_id: str
    title: str
    source: str
    section: str
    published: str
    url: str


def shown_sql(count: int) -> str:
    """The query of `shown_passages` for `count` passage ids."""
    marks = ",".join("?" * count)
    return (f"SELECT p.id, p.ord, {PASSAGE_TEXT_SQL}, a.id, a.title, a.source, a.section, a.published, a.url"
            f" FROM passages p JOIN articles a ON a.id = p.article_id WHERE p.id IN ({marks})")


def shown_of_rows(rows: Iterable[Sequence]) -> dict[int, ShownPassage]:
    """`shown_passages`' answer from the rows of `shown_sql` (retrieval/rowreads.py reads them too)."""
    return {r[0]: ShownPassage(*r) for r in rows}


async def shown_passages(db: aiosqlite.Connection, ids: Sequence[int]) -> dict[int, ShownPassage]:
    """Passage id → its `ShownPassage`, for the ids still stored (a deleted one is missing)."""
    if not ids:
        return {}
    return shown_of_rows(await db.execute_fetchall(shown_sql(len(ids)), tuple(ids)))
