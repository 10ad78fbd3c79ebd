"""Checks on a database file from outside the engine: plain sqlite3, as an operator would look.

Used by the hostile-input and crash tests: a snapshot to prove nothing changed,
SQLite's own integrity checks, and the rule that every article is whole (all
its passages, exactly as splitting its body gives them) or absent.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from retrieval.passages import DEFAULT_MAX_CHARS, DEFAULT_TARGET_CHARS, split_passages


@dataclass(frozen=True)
class Snapshot:
    articles: list[tuple]  # (id, content_hash)
    passages: list[tuple]  # (id, article_id, ord, start, end, terms)
    generation: str


def connect(db: Path) -> sqlite3.Connection:
    con = sqlite3.connect(db, timeout=10)
    con.execute("PRAGMA foreign_keys=ON")
    return con


def snapshot(db: Path) -> Snapshot:
    with closing(connect(db)) as con:
        articles = con.execute("SELECT id, content_hash FROM articles ORDER BY id").fetchall()
        passages = con.execute(
            'SELECT id, article_id, ord, start, "end", terms FROM passages ORDER BY id').fetchall()
        row = con.execute("SELECT value FROM meta WHERE key = 'content_generation'").fetchone()
    return Snapshot(articles, passages, row[0] if row else "")


def integrity_problems(db: Path) -> list[str]:
    """SQLite's integrity and foreign-key checks; empty when the file is sound."""
    with closing(connect(db)) as con:
        result = [r[0] for r in con.execute("PRAGMA integrity_check")]
        fks = con.execute("PRAGMA foreign_key_check").fetchall()
    problems = [] if result == ["ok"] else result
    return problems + [f"dangling foreign key: {fk}" for fk in fks]


def partial_articles(db: Path, *, target_chars: int = DEFAULT_TARGET_CHARS,
                     max_chars: int = DEFAULT_MAX_CHARS) -> list[str]:
    """Articles that are not whole: passages missing, extra, out of order or not from the body.

    Each stored article must have exactly the passages that splitting its
    stored body gives, with ords 0..n-1 and the same spans.
    """
    problems = []
    with closing(connect(db)) as con:
        bodies = dict(con.execute("SELECT id, body FROM articles"))
        stored: dict[str, list[tuple]] = {}
        for article_id, ord_, start, end in con.execute(
                'SELECT article_id, ord, start, "end" FROM passages ORDER BY article_id, ord'):
            stored.setdefault(article_id, []).append((ord_, start, end))
    for article_id in stored.keys() - bodies.keys():
        problems.append(f"{article_id}: passages without an article")
    for article_id, body in bodies.items():
        expected = [(p.ord, p.start, p.end)
                    for p in split_passages(body, target_chars=target_chars, max_chars=max_chars)]
        got = stored.get(article_id, [])
        if got != expected:
            problems.append(f"{article_id}: {len(got)} passages stored (ords {[g[0] for g in got][:10]}),"
                            f" {len(expected)} expected from its body")
    return problems


def files_under(root: Path) -> set[Path]:
    return {p.relative_to(root) for p in root.rglob("*")}
