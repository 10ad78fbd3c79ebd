"""The rows an answer shows, in one statement: each shown passage's text and its article's fields (without
the article's body), and the other articles of the shown stories that have copies.

The answer path reaches SQLite after ranking, when its code and the pages it reads have left the CPU's
caches: a statement's fixed cost and each b-tree descent count more than the rows' bytes. So each passage
is read by its id and its article by rowid (both in memory, from the index), one `SELECT` a passage joined
by `UNION ALL`: two direct seeks each, where `p.id IN (...)` built a temporary table and a join on the
article's text id also searched the articles' id index (`+a.id = p.article_id`, the `+` keeping the
planner on the rowid, drops a passage an article written since no longer holds). SQLite cuts the passage
out of the body (`substr` counts characters from 1, as Python's offsets count them from 0, so the text is
`body[start:end]`), and the body never becomes a Python string. The copies of the shown stories
(`copied`, their story keys from `storymap`) are read by the same statement, not a second one.

Three shown passages at 100k passages, each read right after a ranking (benchmarks/lab/shown_sql.py):
p50 58-61 us with `IN` and the join on the text id, 49-51 us this way.
"""

from __future__ import annotations

import bisect
import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import aiosqlite

from . import slotfill
from .segments import LiveIndex
from .store import PASSAGE_TEXT_SQL
from .storygroups import MAX_ALSO, StoryCopy


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


# ShownPassage(*row) from a row (a tuple) in one C call (retrieval/slotfill.py).
_make_shown = slotfill.maker(ShownPassage)

# (passage id, its article's rowid) of a shown passage.
Key = tuple[int, int]
# A shown story with copies: (the shown passage's id, its article's rowid, the story's key).
Copied = tuple[int, int, str]
# Per shown passage id, the story's other articles (newest first, at most MAX_ALSO).
Also = dict[int, tuple[StoryCopy, ...]]

_PASSAGE = (f"SELECT p.id, p.ord, {PASSAGE_TEXT_SQL}, a.id, a.title, a.source, a.section, a.published, a.url"
            " FROM passages p, articles a WHERE p.id = ? AND a.rowid = ? AND +a.id = p.article_id")
# The same nine columns: a member row has no passage id (NULL); its rowid is in the passage's ord's place
# and its story in the title's.
_MEMBERS = ("SELECT NULL, a.rowid, NULL, a.id, s.story, a.source, NULL, a.published, a.url"
            " FROM stories s JOIN articles a ON a.id = s.article_id WHERE s.story IN ({})")


# Passages a statement: SQLite allows 500 terms in a compound SELECT (SQLITE_MAX_COMPOUND_SELECT); an
# answer shows a few, a `newsbot search -k` may ask for more.
CHUNK = 100


@functools.cache
def shown_sql(count: int, stories: int = 0) -> str:
    """The statement of `shown_passages` for `count` passages (at most CHUNK) and the members of `stories` stories."""
    parts = [_PASSAGE] * count
    if stories:
        parts.append(_MEMBERS.format(",".join("?" * stories)))
    return " UNION ALL ".join(parts)


def statements(keys: Sequence[Key], copied: Sequence[Copied] = ()) -> list[tuple[str, list[int | str]]]:
    """The statements (and their parameters) that read `keys`' passages and `copied`'s stories' members:
    one for an answer's few passages (CHUNK a statement), the members with the first."""
    stories = list(dict.fromkeys(story for _, _, story in copied))
    out: list[tuple[str, list[int | str]]] = []
    for at in range(0, len(keys), CHUNK):
        chunk = keys[at:at + CHUNK]
        args: list[int | str] = [x for key in chunk for x in key]
        if at == 0:
            args += stories
        out.append((shown_sql(len(chunk), len(stories) if at == 0 else 0), args))
    return out


def shown_keys(index: LiveIndex, passages: Iterable[int]) -> list[Key]:
    """(passage id, article rowid) of global passage numbers (a search's few shown ones)."""
    views = index.views
    if len(views) == 1:
        view = views[0]
        pids, aids = view.passage_ids, view.article_ids
        return [(pids.item(p), aids.item(p)) for p in passages]
    starts = index.derived("starts_list", _starts_list)
    out = []
    for p in passages:
        v = bisect.bisect_right(starts, p) - 1
        view, local = views[v], p - starts[v]
        out.append((view.passage_ids.item(local), view.article_ids.item(local)))
    return out


def _starts_list(index: LiveIndex) -> list[int]:
    return index.starts.tolist()


def shown_of_rows(rows: Iterable[Sequence], copied: Sequence[Copied] = ()) -> tuple[dict[int, ShownPassage], Also]:
    """`shown_passages`' answer from the rows of `shown_sql` (retrieval/rowreads.py reads them too)."""
    out: dict[int, ShownPassage] = {}
    members: list[Sequence] = []
    for r in rows:
        if r[0] is None:
            members.append(r)
        else:
            out[r[0]] = _make_shown(r)
    return out, also_of(members, copied)


def also_of(rows: list[Sequence], copied: Sequence[Copied]) -> Also:
    """Per shown passage with copies, its story's other articles from the member rows, newest first (by
    publication date, then rowid, as `newsstore.story_members_sql` orders them)."""
    if not copied:
        return {}
    rows.sort(key=lambda r: (r[7], r[1]), reverse=True)
    of_story: dict[str, list[Sequence]] = {}
    for r in rows:
        of_story.setdefault(r[4], []).append(r)
    return {pid: tuple(StoryCopy(r[3], r[5], r[8], r[7]) for r in of_story.get(story, ()) if r[1] != rowid)[:MAX_ALSO]
            for pid, rowid, story in copied}


async def shown_passages(db: aiosqlite.Connection, keys: Sequence[Key], copied: Sequence[Copied] = (),
                         ) -> tuple[dict[int, ShownPassage], Also]:
    """Passage id → its `ShownPassage` for the keys still stored (a passage deleted, or no longer its
    article's, is missing); and per passage of `copied`, its story's other articles."""
    rows: list = []
    for sql, args in statements(keys, copied):
        rows += await db.execute_fetchall(sql, args)
    return shown_of_rows(rows, copied)
