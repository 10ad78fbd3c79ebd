"""Operator aliases of outlets and the catalogue questions are matched against.

The aliases are stored in the `outlet_aliases` table, whose SQL is `retrieval.newsstore`'s; this module
checks them (all or none, no alias naming two outlets) and builds the catalogue.
"""

from __future__ import annotations

import aiosqlite

from . import newsstore, store
from .newsquery import BUILTIN_ALIASES, Outlet, clean, outlet_catalogue, outlet_key

MAX_ALIAS_CHARS = 100


class AliasError(ValueError):
    """An alias that cannot be added, with the reason."""


async def aliases(db: aiosqlite.Connection) -> dict[str, list[str]]:
    """Stored source name → the aliases operators gave it."""
    out: dict[str, list[str]] = {}
    for source, alias in await newsstore.outlet_aliases(db):
        out.setdefault(source, []).append(alias)
    return out


def builtin_aliases(source: str) -> tuple[str, ...]:
    key = outlet_key(source)
    for names in BUILTIN_ALIASES.values():
        if key in {outlet_key(n) for n in names}:
            return tuple(n for n in names if outlet_key(n) != key)
    return ()


async def add_aliases(db: aiosqlite.Connection, source: str, names: list[str]) -> list[str]:
    """Give the stored outlet `source` the aliases `names` (all or none); returns those new to it.

    Refused with `AliasError`: an unknown source, an empty or over-long alias, or one already
    naming another outlet (a question naming it would be ambiguous).
    """
    known = await store.stored_sources(db)
    if source not in known:
        close = [s for s in known if outlet_key(s) == outlet_key(source)]
        listed = ", ".join(sorted(known)[:20]) or "none"
        hint = f"; did you mean {close[0]!r}?" if close else f"; known sources: {listed}"
        raise AliasError(f"no articles from source {source!r}{hint}")
    cleaned = []
    for name in names:
        alias = clean(name)
        if not alias or not any(ch.isalnum() for ch in alias):
            raise AliasError(f"alias {name!r} has no letters or digits")
        if len(alias) > MAX_ALIAS_CHARS:
            raise AliasError(f"alias {alias[:20]!r}... is longer than {MAX_ALIAS_CHARS} characters")
        cleaned.append(alias)
    # Names other outlets are already known by (their stored names, built-in and operator aliases).
    others = {}
    for outlet in outlet_catalogue([s for s in known if s != source], await aliases(db)):
        for key in outlet.names:
            others[key] = outlet.source
    added = []
    # All or none: a refused alias leaves the others unwritten too.
    async with store.transaction(db):
        for alias in cleaned:
            key = outlet_key(alias)
            if key in others:
                raise AliasError(f"alias {alias!r} already names source {others[key]!r}")
            if await newsstore.alias_source(db, key) == source:
                continue
            await newsstore.insert_alias(db, source, alias, key)
            added.append(alias)
    return added


async def remove_aliases(db: aiosqlite.Connection, source: str, names: list[str]) -> int:
    removed = 0
    async with store.transaction(db):
        for name in names:
            removed += await newsstore.delete_alias(db, source, outlet_key(name))
    return removed


async def aliases_stamp(db: aiosqlite.Connection) -> tuple:
    """Changes whenever an alias is added or removed: when a cached catalogue must be rebuilt."""
    return await newsstore.aliases_stamp(db)


async def catalogue(db: aiosqlite.Connection) -> list[Outlet]:
    return outlet_catalogue(await store.stored_sources(db), await aliases(db))
