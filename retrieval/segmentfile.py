"""The files of the near-real-time index: the base (one segment with the vocabulary) and the tail.

The base file is what a full build writes; the tail file holds what a process
added beyond it (small segments and the base's deletion marks), so a restart
does not re-index those passages. Both are one uncompressed .npz with a content
checksum (`indexfile.content_checksum`), written atomically (temp file + rename),
and a damaged one raises ValueError or OSError when loaded, nothing else.
"""

from __future__ import annotations

import struct
import threading
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.lib import format as npformat

from . import bm25, indexfile
from .segment import Segment, Vocabulary
from .segments import SegmentedIndex

# Format of a saved segment (the base index file).
SEGMENT_FORMAT = 1

_SEGMENT_ARRAYS = ("offsets", "doc_ids", "codes", "pair_tf", "pair_dl", "doc_len", "passage_ids", "article_ids",
                   "ref_max")


def save_segment(seg: Segment, vocabulary: Vocabulary, params: bm25.BM25Params, path: Path, *,
                 generation: int, log_seq: int) -> None:
    """Write a segment with the vocabulary, atomically (temp file + rename), with a checksum of it all.

    `log_seq` is the last passage-log entry it reflects (store.passage_changes replays the rest);
    `generation` the database's content generation then.
    """
    vocab = "\n".join(vocabulary.ids).encode("utf-8")
    p = params
    members = {name: getattr(seg, name) for name in _SEGMENT_ARRAYS}
    members.update({
        "vocabulary": np.frombuffer(vocab, dtype=np.uint8),
        "params": np.array([p.k1, p.b, p.epsilon, -1.0 if p.delta is None else p.delta]),
        "variant": np.frombuffer(p.variant.encode(), dtype=np.uint8),
        "header": np.array([SEGMENT_FORMAT, generation, log_seq], dtype=np.int64),
        "ref_avgdl": np.array([seg.ref_avgdl], dtype=np.float64),
        "live": seg.live,
    })
    tmp = path.with_name(f"{path.name}.{threading.get_native_id()}.tmp")
    with open(tmp, "wb") as fh:
        np.savez(fh, checksum=np.array([indexfile.content_checksum(members)], dtype=np.int64), **members)
    tmp.replace(path)


@dataclass(frozen=True)
class StoredBase:
    segment: Segment
    vocabulary: Vocabulary
    params: bm25.BM25Params
    generation: int
    log_seq: int
    checksum: int = 0  # identifies this base (a tail file names the base it extends)


# Bytes of the vocabulary decoded and split at a time (~1 ms of holding the GIL).
_TERMS_CHUNK = 1 << 18


def split_terms(raw: bytes) -> list[str]:
    """`raw.decode().split("\\n")` ([] for no bytes), a piece at a time.

    A merged base is loaded in a thread of the serving process; decoding and splitting its
    vocabulary in one call held the GIL (and so the event loop) ~20 ms at 100k passages, more at
    a million. A piece ends at a newline, which never falls inside a UTF-8 sequence, so the pieces
    decode and split to exactly the whole's terms (a damaged byte raises UnicodeDecodeError as before).
    """
    if not raw:
        return []
    terms: list[str] = []
    start, n = 0, len(raw)
    while True:
        end = raw.find(b"\n", start + _TERMS_CHUNK) if start + _TERMS_CHUNK < n else -1
        if end < 0:
            terms += raw[start:].decode("utf-8").split("\n")
            return terms
        terms += raw[start:end].decode("utf-8").split("\n")
        start = end + 1


def read_members(path: Path) -> dict[str, np.ndarray]:
    """Every array of an uncompressed .npz (what `np.savez` writes), each read into place in one call.

    np.load reads a member in 256 KiB pieces through zipfile, which also computes the zip's own
    CRC-32 of each piece (and never checks it: numpy stops before the entry's end); our checksum
    covers the content anyway. Reading each array straight from its offset halves the load of a
    million-passage base, and a file read lets the GIL go while it runs. A member whose header
    does not match its zip entry's size raises ValueError before anything is allocated.
    """
    members: dict[str, np.ndarray] = {}
    with zipfile.ZipFile(path) as archive, open(path, "rb") as fh:
        for info in archive.infolist():
            if info.compress_type != zipfile.ZIP_STORED or not info.filename.endswith(".npy"):
                raise ValueError(f"unexpected member {info.filename!r}")
            fh.seek(info.header_offset)
            local = fh.read(30)
            if len(local) != 30 or local[:4] != b"PK\x03\x04":
                raise ValueError(f"bad local header of {info.filename!r}")
            name_len, extra_len = struct.unpack("<HH", local[26:30])
            start = info.header_offset + 30 + name_len + extra_len
            fh.seek(start)
            version = npformat.read_magic(fh)
            if version == (1, 0):
                shape, fortran, dtype = npformat.read_array_header_1_0(fh)
            elif version == (2, 0):
                shape, fortran, dtype = npformat.read_array_header_2_0(fh)
            else:
                raise ValueError(f"member {info.filename!r} of .npy version {version}")
            if dtype.hasobject:
                raise ValueError(f"object array in {info.filename!r}")
            count = int(np.prod(shape, dtype=np.int64)) if shape else 1
            if count < 0 or fh.tell() - start + count * dtype.itemsize != info.file_size:
                raise ValueError(f"member {info.filename!r} does not match its size")
            array = np.empty(shape, dtype=dtype, order="F" if fortran else "C")
            view = memoryview(array.reshape(-1, order="A")).cast("B") if array.size else memoryview(b"")
            if array.size and fh.readinto(view) != array.nbytes:
                raise ValueError(f"member {info.filename!r} cut short")
            members[info.filename.removesuffix(".npy")] = array
    return members


def read_header(path: Path) -> tuple[int, int] | None:
    """(generation, log_seq) of a saved segment without reading it all (None if unreadable)."""
    try:
        with np.load(path) as data:
            h = data["header"]
            return (int(h[1]), int(h[2])) if h.shape == (3,) and int(h[0]) == SEGMENT_FORMAT else None
    except Exception:  # damaged or foreign: load_segment says why
        return None


def load_segment(path: Path) -> StoredBase:
    """Read a file `save_segment` wrote; a damaged one raises ValueError or OSError, nothing else."""
    try:
        members = read_members(path)
    except OSError:
        raise
    except Exception as exc:  # zipfile.BadZipFile, EOFError, struct.error... from a damaged zip
        raise ValueError(f"damaged index file ({type(exc).__name__}: {exc})") from exc
    stored = members.pop("checksum", None)
    if stored is None or stored.shape != (1,) or int(stored[0]) != indexfile.content_checksum(members):
        raise ValueError("damaged index file (checksum mismatch)" if stored is not None
                         else "damaged index file (no checksum)")
    try:
        header = members["header"]
        if header.shape != (3,) or int(header[0]) != SEGMENT_FORMAT:
            raise ValueError("index file of another format")
        terms = split_terms(members["vocabulary"].tobytes())
        # A comprehension, not dict(zip(...)): bytecode lets the GIL go every few milliseconds, one C
        # call would hold it ~80 ms at 300k terms while a merged base loads beside the serving loop.
        ids = {t: i for i, t in enumerate(terms)}
        if len(ids) != len(terms):
            raise ValueError("damaged index file (repeated vocabulary terms)")
        k1, b, epsilon, delta = (float(x) for x in members["params"])
        params = bm25.BM25Params(variant=members["variant"].tobytes().decode(), k1=k1, b=b, epsilon=epsilon,
                                 delta=None if delta < 0 else delta)
        live = members["live"].astype(np.bool_)
        seg = Segment(**{name: members[name] for name in _SEGMENT_ARRAYS},
                      ref_avgdl=float(members["ref_avgdl"][0]), live=live, n_live=int(live.sum()),
                      live_len=int(members["doc_len"][live].sum(dtype=np.int64)))
        if seg.n_terms != len(ids) or seg.codes.dtype != np.uint32 or seg.doc_ids.dtype != np.int32:
            raise ValueError("damaged index file (inconsistent arrays)")
        seg.check()
    except (KeyError, TypeError, UnicodeDecodeError) as exc:
        raise ValueError(f"damaged index file ({type(exc).__name__}: {exc})") from exc
    return StoredBase(seg, Vocabulary(ids), params, int(header[1]), int(header[2]), int(stored[0]))


# --- the tail file: the segments and deletion marks beyond the base ---------------------------

# 2: the base's deleted postings and their count per term are stored. Format 1 had only the marks,
# and loading finds those postings with passes over all the base's postings (~0.4 s at a million):
# still read, so a tail written before needs no re-indexing.
TAIL_FORMAT = 2
_TAIL_FORMATS = (1, 2)
_TAIL_ARRAYS = ("offsets", "doc_ids", "codes", "pair_tf", "pair_dl", "doc_len", "passage_ids", "article_ids",
                "ref_max", "live")


def save_tail(state: SegmentedIndex, path: Path) -> None:
    """Write what `state` holds beyond its base (segments, the base's deletion marks), atomically.

    A restarted process loads it instead of re-indexing those passages from the database (the log
    since `state.log_seq` is replayed on top). It names its base by checksum: with any other base,
    or damaged, it is ignored and the log since the base replayed instead.
    """
    ext = list(state.vocabulary.ids)[state.base_terms:]
    small = state.segments[1:]
    base = state.base
    dead_postings, dead_df = _dead_postings(base)
    members: dict[str, np.ndarray] = {
        "header": np.array([TAIL_FORMAT, state.base_seq, state.log_seq, len(small), state.base_terms,
                            state.generation], dtype=np.int64),
        "base_checksum": np.array([state.base_checksum], dtype=np.int64),
        "vocabulary": np.frombuffer("\n".join(ext).encode("utf-8"), dtype=np.uint8),
        "base_live": base.live,
        "base_dead_postings": dead_postings,
        "base_dead_df": dead_df,
        "ref_avgdl": np.array([s.ref_avgdl for s in small], dtype=np.float64),
    }
    for i, seg in enumerate(small):
        members.update({f"s{i}.{name}": getattr(seg, name) for name in _TAIL_ARRAYS})
    tmp = path.with_name(f"{path.name}.{threading.get_native_id()}.tmp")
    with open(tmp, "wb") as fh:
        np.savez(fh, checksum=np.array([indexfile.content_checksum(members)], dtype=np.int64), **members)
    tmp.replace(path)
    state.saved_seq = state.log_seq


def _dead_postings(base: Segment) -> tuple[np.ndarray, np.ndarray]:
    """The base's deleted postings (those with code 0: live ones are numbered from 1) and their count per
    term; kept with the base while its deletions stay the same (a tail is saved after each tiered merge,
    and a pass over a million passages' postings costs ~0.1 s)."""
    cached = base.derived.get("dead_postings")
    if cached is not None and cached[0] == base.n_live:
        return cached[1], cached[2]
    dead = np.flatnonzero(base.codes == 0) if base.n_live != base.size else np.empty(0, dtype=np.int64)
    # 4 bytes a posting where they fit (a base of under 4G postings): the tail is rewritten whole.
    dead = dead.astype(np.uint32 if base.doc_ids.size < 2**32 else np.int64)
    per_term = _postings_per_term(base.offsets, dead)
    base.derived["dead_postings"] = (base.n_live, dead, per_term)
    return dead, per_term


def _postings_per_term(offsets: np.ndarray, postings: np.ndarray) -> np.ndarray:
    """How many of `postings` (positions, ascending) fall in each term's range of a CSR `offsets`."""
    return np.diff(np.searchsorted(postings, offsets)).astype(np.int64)


def tail_seq(path: Path, base_seq: int) -> int | None:
    """The log entry a tail file reflects, if it extends a base of `base_seq` (read from its header alone)."""
    try:
        with np.load(path) as data:
            h = data["header"]
            if h.shape == (6,) and int(h[0]) in _TAIL_FORMATS and int(h[1]) == base_seq:
                return int(h[2])
    except Exception:  # damaged or absent: the log since the base is replayed
        return None
    return None


def load_tail(state: SegmentedIndex, path: Path) -> None:
    """Extend a freshly loaded base state with a tail file; ValueError/OSError (state untouched) if unusable."""
    try:
        members = read_members(path)
    except OSError:
        raise
    except Exception as exc:
        raise ValueError(f"damaged tail file ({type(exc).__name__}: {exc})") from exc
    stored = members.pop("checksum", None)
    if stored is None or stored.shape != (1,) or int(stored[0]) != indexfile.content_checksum(members):
        raise ValueError("damaged tail file (checksum)")
    try:
        h = members["header"]
        if h.shape != (6,) or int(h[0]) not in _TAIL_FORMATS:
            raise ValueError("tail file of another format")
        version, base_seq, log_seq, count, base_terms, generation = (int(x) for x in h)
        if (base_seq != state.base_seq or int(members["base_checksum"][0]) != state.base_checksum
                or base_terms != len(state.vocabulary) or len(state.segments) != 1 or log_seq < base_seq):
            raise ValueError("tail file of another base")
        text = members["vocabulary"].tobytes().decode("utf-8")
        ext = text.split("\n") if text else []
        if any(t in state.vocabulary.ids for t in ext) or len(set(ext)) != len(ext):
            raise ValueError("damaged tail file (vocabulary)")
        base_live = members["base_live"].astype(np.bool_)
        base = state.base
        if base_live.shape != base.live.shape:
            raise ValueError("damaged tail file (base marks)")
        if version == 1:
            dead_postings = dead_df = None
        else:
            dead_postings, dead_df = members["base_dead_postings"], members["base_dead_df"]
            if (dead_postings.dtype not in (np.uint32, np.int64) or dead_postings.ndim != 1
                    or dead_df.shape != (base.n_terms,)):
                raise ValueError("damaged tail file (base marks)")
        if dead_postings is not None and dead_postings.size:
            # In range, ascending, each a posting of a passage marked deleted, counted per term as stored.
            if (int(dead_postings[0]) < 0 or int(dead_postings[-1]) >= base.doc_ids.size
                    or not bool(np.all(dead_postings[1:] > dead_postings[:-1]))
                    or bool(base_live[base.doc_ids[dead_postings]].any())):
                raise ValueError("damaged tail file (base marks)")
        if dead_postings is not None and not np.array_equal(dead_df, _postings_per_term(base.offsets, dead_postings)):
            raise ValueError("damaged tail file (base marks)")
        n_terms = base_terms + len(ext)
        small = []
        for i in range(count):
            live = members[f"s{i}.live"].astype(np.bool_)
            seg = Segment(**{name: members[f"s{i}.{name}"] for name in _TAIL_ARRAYS if name != "live"},
                          ref_avgdl=float(members["ref_avgdl"][i]), live=live, n_live=int(live.sum()),
                          live_len=int(members[f"s{i}.doc_len"][live].sum(dtype=np.int64)))
            if seg.n_terms > n_terms or seg.codes.dtype != np.uint32 or seg.doc_ids.dtype != np.int32:
                raise ValueError("damaged tail file (inconsistent arrays)")
            seg.check()
            small.append(seg)
    except (KeyError, TypeError, IndexError, UnicodeDecodeError) as exc:
        raise ValueError(f"damaged tail file ({type(exc).__name__}: {exc})") from exc
    # Everything checked: now change the state.
    for term in ext:
        state.vocabulary.id_of(term)
    if not base_live.all():
        # The stored deleted postings stand for a pass over every posting of the base (~50M at a
        # million passages) to find those of the deleted passages.
        state._account(base, -1)
        base.codes[dead_postings if dead_postings is not None else ~base_live[base.doc_ids]] = 0
        base.live = base_live
        base.n_live = int(base_live.sum())
        base.live_len = int(base.doc_len[base_live].sum(dtype=np.int64))
        state._account(base, +1, dead_df=dead_df)
        if dead_postings is not None:
            base.derived["dead_postings"] = (base.n_live, dead_postings, dead_df)
    for seg in small:
        state.segments.append(seg)
        state._account(seg, +1)
    state.log_seq = state.saved_seq = log_seq
    state.generation = generation


def load_index(path: Path) -> bm25.BM25Index:
    """A saved base as one plain index with its own statistics (for tools reading an index file)."""
    stored = load_segment(path)
    state = SegmentedIndex(stored.segment, stored.vocabulary, stored.params, stored.log_seq)
    return state.snapshot().views[0]
