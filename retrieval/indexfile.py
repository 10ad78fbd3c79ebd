"""The BM25 index file: one uncompressed .npz holding the arrays, checked by a content checksum on load."""

from __future__ import annotations

import os
from pathlib import Path

try:  # ISA-L's CRC-32: zlib's values, ~4x faster, and it releases the GIL (a 1M base is 600 MB)
    from isal.isal_zlib import crc32
except ImportError:  # a platform without an isal wheel
    from zlib import crc32

import numpy as np

from .bm25 import BM25Index, BM25Params

_ARRAYS = ("offsets", "doc_ids", "impacts", "idf", "doc_len", "passage_ids", "article_ids", "max_impact")


def save_index(index: BM25Index, path: Path, generation: int = -1) -> None:
    """Write the index to one uncompressed .npz, atomically (temp file + rename).

    `generation` records which state of the database the index reflects, so
    a file left by an older build (say, an orphaned build process finishing
    after a newer one) is recognised as stale instead of served. The temp name
    is unique per process so two writers never interleave in one file.
    """
    vocab = "\n".join(index.vocabulary).encode("utf-8")
    p = index.params
    params = np.array([p.k1, p.b, p.epsilon, -1.0 if p.delta is None else p.delta])
    members = {"vocabulary": np.frombuffer(vocab, dtype=np.uint8), "params": params,
               "variant": np.frombuffer(p.variant.encode(), dtype=np.uint8),
               "generation": np.array([generation], dtype=np.int64),
               **{name: getattr(index, name) for name in _ARRAYS}}
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as fh:
        np.savez(fh, checksum=np.array([content_checksum(members)], dtype=np.int64), **members)
    tmp.replace(path)


def content_checksum(members: dict[str, np.ndarray]) -> int:
    """CRC-32 of every member's name, dtype, shape and bytes, in name order.

    np.load reads a .npz member without reaching the end of its zip entry, where
    zipfile would check the entry's CRC, so a flipped bit inside an array can
    load silently as a different index. This checksum covers all of the content
    and is verified on every load; CRC-32 detects every error burst up to 32
    bits (any single flipped bit) and misses a random corruption with
    probability 2**-32.
    """
    crc = 0
    for name in sorted(members):
        a = np.ascontiguousarray(members[name])
        crc = crc32(f"{name}:{a.dtype.str}:{a.shape};".encode(), crc)
        crc = crc32(memoryview(a).cast("B"), crc)
    return crc


def load_index(path: Path) -> BM25Index:
    """Read an index written by `save_index`.

    A damaged file (cut short by a crash or a full disk, flipped bits, some
    other file under the name) raises OSError or ValueError and nothing else,
    so the caller can rebuild from the database instead of crashing or
    answering from garbage.
    """
    try:
        index = _read_index(path)
    except (OSError, ValueError):
        raise
    except Exception as exc:  # zipfile.BadZipFile, EOFError, KeyError, struct.error... from a damaged zip
        raise ValueError(f"damaged index file ({type(exc).__name__}: {exc})") from exc
    _check_consistent(index)
    return index


def _read_index(path: Path) -> BM25Index:
    with np.load(path) as data:
        members = {name: data[name] for name in data.files}
    stored = members.pop("checksum", None)
    if stored is None or stored.shape != (1,) or int(stored[0]) != content_checksum(members):
        # Files from before the checksum are refused too: the caller rebuilds them once.
        raise ValueError("damaged index file (checksum mismatch)" if stored is not None
                         else "damaged index file (no checksum)")
    vocab_text = members["vocabulary"].tobytes().decode("utf-8")
    terms = vocab_text.split("\n") if vocab_text else []
    k1, b, epsilon, delta = (float(x) for x in members["params"])
    params = BM25Params(variant=members["variant"].tobytes().decode(), k1=k1, b=b,
                        epsilon=epsilon, delta=None if delta < 0 else delta)
    arrays = {name: members[name] for name in _ARRAYS}
    vocabulary = {t: i for i, t in enumerate(terms)}
    if len(vocabulary) != len(terms):
        raise ValueError("damaged index file (repeated vocabulary terms)")
    return BM25Index(vocabulary=vocabulary, params=params, **arrays)


def _check_consistent(index: BM25Index) -> None:
    """The array shapes and ranges scoring relies on (a bad one would index out of bounds)."""
    n, postings = index.n_passages, index.doc_ids.shape[0] if index.doc_ids.ndim == 1 else -1
    arrays_ok = all(a.ndim == 1 and a.dtype.kind in "iuf" for a in (getattr(index, name) for name in _ARRAYS))
    ok = (arrays_ok
          and index.offsets.shape[0] == len(index.vocabulary) + 1 and index.idf.shape[0] == len(index.vocabulary)
          and index.max_impact.shape[0] == len(index.vocabulary)
          and index.impacts.shape[0] == postings and index.offsets[0] == 0 and index.offsets[-1] == postings
          and bool(np.all(np.diff(index.offsets) >= 0))
          and index.passage_ids.shape[0] == n and index.article_ids.shape[0] == n
          and (postings == 0 or (int(index.doc_ids.min()) >= 0 and int(index.doc_ids.max()) < n)))
    if not ok:
        raise ValueError("damaged index file (inconsistent arrays)")
