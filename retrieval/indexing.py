"""Keeping the index current: the base file, the passage log since it, segments and merges.

The database is the source of truth. The base index file (`news.db.index.npz`)
records the last passage-log entry it covers (`log_seq`); everything logged
after it is applied on top as segments and deletion marks
(`segments.SegmentedIndex`), in this process or any other that opens the same
database. Segments live in memory only: they are rebuilt from the database
(the passages' stored terms) when a process starts, so nothing but the base
file can be damaged on disk, and that file is checksummed and replaced whole.

The policy (tiered, as Lucene's): a refresh adds one small segment; when more
than `MAX_SMALL_SEGMENTS` pile up the newest are merged in memory (O(their
postings), no database read; an older one joins only if at most `MERGE_FACTOR`
times their size), in a serving process right after the add is searchable
(`upkeep.IndexUpkeep`), not before; when the segments hold more than
`MERGE_SHARE` of the passages, or deleted passages pass `DELETED_SHARE`, the
whole index is rebuilt in a child process and swapped in (the rebuild the
engine always had, `rebuild_index`), which also trims the log.

A process's own add hands its new passages to the refresh that follows
(`passagelog.Handoff`); the refresh takes them only if its snapshot of the log
shows exactly that write after the index's last entry, and reads the log
otherwise, so another process's adds and any update still come through it.

Everything here is synchronous and runs in a worker thread (or the child).
"""

from __future__ import annotations

import itertools
import logging
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import bm25, passagelog
from .segment import Vocabulary, build_segment_from_tokens, text_term_ids
from .segmentfile import load_segment, load_tail, save_segment
from .segments import SegmentedIndex

log = logging.getLogger(__name__)

# Segments behind the base: each costs a question ~0.1 ms of fixed work (a kernel call, a re-ranking
# pass), so few are kept; tiered merging (segments.SegmentedIndex.merge_tiered) bounds the rewriting.
MAX_SMALL_SEGMENTS = 3
MERGE_FACTOR = 4.0
MERGE_SHARE = 0.10
DELETED_SHARE = 0.20
# A refresh reads at most this many log entries (or this share of the passages, if more); a longer
# tail (a bulk ingest) is indexed by a full rebuild instead, in a child process.
TAIL_MIN = 2_000
TAIL_SHARE = 0.10
# Passages read and numbered at a time by a full build (their words as strings live this long only).
_BUILD_CHUNK = 1024


@dataclass
class Changes:
    """What the passage log says happened after some entry, read in one snapshot of the database."""

    log_seq: int  # the last entry read
    generation: int
    # (passage id, article rowid, terms: str, or the UTF-8 an add handed over), by id
    added: list[tuple[int, int, str | bytes]] = field(default_factory=list)
    deleted: list[tuple[int, str]] = field(default_factory=list)  # (passage id, terms) of indexed passages
    gap: bool = False  # entries after `after` were trimmed: the base must be reloaded or rebuilt
    too_long: bool = False  # more than `limit` entries: rebuild instead


# The database side (its SQL) is `passagelog`'s; these names are the index build's entry points.
connect = passagelog.connect


def read_changes(con: sqlite3.Connection, after: int, limit: int) -> Changes:
    """The passages added and deleted after log entry `after`, netted out.

    A passage added and deleted since is neither.
    """
    with passagelog.snapshot(con):
        last, trimmed, generation = passagelog.position(con)
        changes = Changes(log_seq=last, generation=generation)
        if trimmed > after or last < after:
            changes.gap = True
            return changes
        if last - after > limit:
            changes.too_long = True
            return changes
        # Passage id -> (article rowid, stored terms) of the passages written since, or None once gone.
        pending: dict[int, tuple[int, str] | None] = {}
        for _seq, pid, terms, arowid, stored in passagelog.entries_with_inputs_after(con, after):
            if terms is None:
                pending[pid] = (arowid, stored) if arowid is not None and stored is not None else None
            elif pid in pending:
                del pending[pid]  # written and deleted since: never indexed
            else:
                changes.deleted.append((pid, terms))
        changes.added = sorted((pid, row[0], row[1]) for pid, row in pending.items() if row is not None)
    return changes


def handed_changes(con: sqlite3.Connection, handoff: passagelog.Handoff, after: int, limit: int) -> Changes | None:
    """`read_changes` of what `handoff` says was written after entry `after`, if the file bears it
    out in one snapshot (else None: read the log). The same Changes, without reading the passages."""
    got = passagelog.handed_changes(con, handoff, after, limit)
    if got is None:
        return None
    last, generation, added = got
    return Changes(log_seq=last, generation=generation, added=added)


def apply_changes(state: SegmentedIndex, changes: Changes, *, merge: bool = True) -> bool:
    """Deletion marks, then one new segment; False if the log names a passage the index does not hold.

    (Deletions first: an id SQLite reuses for a new passage belongs to the new one.) On False
    the state is unusable and the caller rebuilds. With `merge` the small segments are merged
    too if the policy asks (`merge_small`); a serving process does that after the add is
    searchable instead.
    """
    if not state.delete_many(changes.deleted):
        return False
    added = changes.added
    state.add_texts([t for _, _, t in added], [p for p, _, _ in added], [a for _, a, _ in added])
    state.log_seq = changes.log_seq
    if merge:
        merge_small(state)
    return True


def wants_small_merge(state: SegmentedIndex) -> bool:
    """Whether more small segments follow the base than the policy keeps."""
    return len(state.segments) - 1 > MAX_SMALL_SEGMENTS


def merge_small(state: SegmentedIndex) -> bool:
    """Merge small segments in memory as the tiered policy asks; True if any were."""
    if state.merge_tiered(MAX_SMALL_SEGMENTS, MERGE_FACTOR):
        state.last_merge = time.time()
        return True
    return False


def needs_full_merge(state: SegmentedIndex) -> bool:
    """Whether the segments or the deleted passages have grown enough to rebuild the whole index."""
    size = sum(s.size for s in state.segments)
    return (state.segment_passages > MERGE_SHARE * max(state.base.n_live, 1)
            or state.deleted > DELETED_SHARE * max(size, 1))


def tail_limit(passages: int) -> int:
    return max(TAIL_MIN, int(TAIL_SHARE * passages))


def build_base_file(db_path: str | Path, out_path: str | Path, params: bm25.BM25Params) -> tuple[int, int, int, int]:
    """Index the whole database into `out_path`: (passages, terms, generation, log seq).

    The passages are read and numbered a chunk at a time, and only their term ids are kept
    (8 bytes a word): a million passages' words as Python strings took ~10 GB, their texts ~1.5 GB.
    """
    vocabulary = Vocabulary()
    ids: list[int] = []
    articles: list[int] = []
    token_chunks, len_chunks = [], []
    con = connect(db_path)
    try:
        with passagelog.snapshot(con):
            last, _, generation = passagelog.position(con)
            rows = passagelog.index_inputs(con)
            while chunk := list(itertools.islice(rows, _BUILD_CHUNK)):
                for pid, arowid, _ in chunk:
                    ids.append(pid)
                    articles.append(arowid)
                tokens, doc_len = text_term_ids([text for _, _, text in chunk], vocabulary)
                token_chunks.append(tokens)
                len_chunks.append(doc_len)
    finally:
        con.close()
    tokens = np.concatenate(token_chunks) if token_chunks else np.empty(0, dtype=np.int64)
    doc_len = np.concatenate(len_chunks) if len_chunks else np.empty(0, dtype=np.int32)
    del token_chunks, len_chunks
    seg = build_segment_from_tokens(tokens, doc_len, ids, articles, len(vocabulary), params, None)
    del tokens
    save_segment(seg, vocabulary, params, Path(out_path), generation=generation, log_seq=last)
    return seg.size, len(vocabulary), generation, last


def load_state(path: Path, params: bm25.BM25Params) -> SegmentedIndex:
    """The base file as a segmented index with no segments yet (ValueError/OSError if unusable)."""
    stored = load_segment(path)
    if stored.params != params:
        raise ValueError("index built with other BM25 parameters")
    state = SegmentedIndex(stored.segment, stored.vocabulary, params, stored.log_seq)
    state.generation = stored.generation
    state.base_checksum = stored.checksum
    return state


def tail_path(index_path: Path) -> Path:
    return index_path.with_name(index_path.name.removesuffix(".npz") + ".tail.npz")


def load_state_with_tail(path: Path, params: bm25.BM25Params) -> SegmentedIndex:
    """The base, extended by the tail file when it is usable (else the log since the base is replayed)."""
    state = load_state(path, params)
    tail = tail_path(path)
    if tail.exists():
        try:
            load_tail(state, tail)
        except (OSError, ValueError) as exc:
            log.warning("tail file %s unusable (%s): its passages are re-indexed from the database", tail, exc)
    return state


def trim_log(con: sqlite3.Connection, upto: int) -> None:
    """Drop log entries a saved base covers (a process behind them reloads that base)."""
    passagelog.trim(con, upto)
