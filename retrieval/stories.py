"""One story, many copies: near-duplicate articles grouped at ingest (MinHash over word shingles, with LSH).

An article is compared by its title and the first `LEAD_WORDS` words of its body (folded as
questions are: alef and hamza forms, taa marbuta, digits), cut into word 2-shingles: news puts
the story first, and scraped pages often end with teasers of other stories of the day (the
shared corpus's CNN pages do, which made unrelated articles of one outlet and day look 20-40%
alike over their whole text). The signature is the minimum of each of `PERMUTATIONS` hash
functions over the shingles (multiply-shift hashing of each shingle's CRC-32; `shingles` and
`signature` here specify it, retrieval/_minhash.c computes it for a whole batch), and the
share of equal minimums estimates the Jaccard similarity of two articles' shingle sets. LSH
(`BANDS` bands of `ROWS` minimums, `band_keys`) proposes the articles sharing a band; a candidate
is the same story when the estimate reaches `THRESHOLD` and the two were published at most
`MAX_DAYS_APART` days apart (or either has no date). The LSH table that finds and checks the
candidates is retrieval/storyindex.py's `StoryIndex`.

The choices (lead length, shingle size, threshold, the date rule) were measured on the labelled
pairs of benchmarks/story_pairs.jsonl (`python -m benchmarks.stories`). datasketch does the
same (MinHash + MinHashLSH), but its signature alone measured 0.73 ms an article (SHA-1 per
shingle) against ~0.2 ms for the numpy here and ~9 µs in C, and it brings scipy with it.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Sequence

import numpy as np

from .newsquery import clean, fold

try:  # signatures of a batch in C (retrieval/_minhash.c); the Python below is its specification
    from ._minhash import signatures as _native_signatures
except ImportError:  # built without a C compiler
    _native_signatures = None

PERMUTATIONS = 128
BANDS, ROWS = 64, 2
SHINGLE_WORDS = 2
LEAD_WORDS = 40
THRESHOLD = 0.3
MAX_DAYS_APART = 3.0
# A text this short (a disclaimer, a caption) estimates its similarity poorly and shares it with
# every page carrying the same boilerplate: it joins a story only as a near-exact copy. So does
# an article without a date: nothing then tells a copy from, say, another paragraph of the same
# encyclopaedia page (ARCD's paragraphs, pooled with the news in benchmarks/eval.py, were
# grouped at 0.3 and hid answers: MRR@10 0.705 -> 0.676).
MIN_SHINGLES, SHORT_THRESHOLD = 20, 0.9

_rng = np.random.default_rng(20211124)  # fixed: signatures are stored, they must mean the same next run
_A = _rng.integers(1, 2**63, PERMUTATIONS, dtype=np.uint64) | np.uint64(1)
_B = _rng.integers(0, 2**63, PERMUTATIONS, dtype=np.uint64)
_WORD = re.compile(r"\w+")
_EMPTY = np.full(PERMUTATIONS, np.uint32(0xFFFFFFFF), dtype=np.uint32)


def shingles(title: str, body: str) -> list[bytes]:
    # The body's first ~LEAD_WORDS words only (a word is rarely over 12 characters): never a whole book.
    # Folded after the words are cut out: `str.translate` costs ~0.1 µs a character, too much to spend
    # on the whole slice.
    words = _WORD.findall(clean(title)) + _WORD.findall(clean(body[:LEAD_WORDS * 16]))[:LEAD_WORDS]
    words = fold(" ".join(words)).split()
    n = SHINGLE_WORDS
    if len(words) < n:
        return [" ".join(words).encode()] if words else []
    return [" ".join(words[i:i + n]).encode() for i in range(len(words) - n + 1)]


def signature(items: Sequence[bytes]) -> np.ndarray:
    """The MinHash signature (uint32 × PERMUTATIONS) of a set of shingles."""
    if not items:
        return _EMPTY.copy()
    h = np.fromiter((zlib.crc32(x) for x in items), dtype=np.uint64, count=len(items))
    # Multiply-shift: the high 32 bits of a·h + b (mod 2^64), a random odd a and a random b per column.
    with np.errstate(over="ignore"):
        return ((h[:, None] * _A[None, :] + _B[None, :]) >> np.uint64(32)).min(axis=0).astype(np.uint32)


def batch_signatures(titles: Sequence[str], bodies: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Each article's signature (n × PERMUTATIONS uint32) and its number of shingles (n int64).

    Row i is `signature(shingles(titles[i], bodies[i]))`, bit for bit. The C kernel signs the batch
    (~4 µs an article against ~170 µs for the two Python functions); an article it leaves alone
    (cased letters other than ASCII, see retrieval/_minhash.c) or every article without it runs the
    Python.
    """
    n = len(titles)
    sigs = np.empty((n, PERMUTATIONS), dtype=np.uint32)
    if _native_signatures is not None:
        counts = np.array(_native_signatures(titles, bodies, LEAD_WORDS * 16, LEAD_WORDS, SHINGLE_WORDS,
                                             _A, _B, sigs), dtype=np.int64)
    else:
        counts = np.full(n, -1, dtype=np.int64)
    for i in np.flatnonzero(counts < 0).tolist():
        items = shingles(titles[i], bodies[i])
        sigs[i] = signature(items)
        counts[i] = len(items)
    return sigs, counts


def thresholds(counts: np.ndarray) -> np.ndarray:
    """The similarity each article needs to join a story, from its shingle count (see MIN_SHINGLES)."""
    return np.where(counts >= MIN_SHINGLES, THRESHOLD, SHORT_THRESHOLD)


def article_signature(title: str, body: str) -> np.ndarray:
    return signature(shingles(title, body))


def signature_and_threshold(title: str, body: str) -> tuple[np.ndarray, float]:
    """The article's signature, and the similarity it needs to join a story (higher for a very short text)."""
    items = shingles(title, body)
    return signature(items), THRESHOLD if len(items) >= MIN_SHINGLES else SHORT_THRESHOLD


def threshold_for(title: str, body: str) -> float:
    return signature_and_threshold(title, body)[1]


def similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Estimated Jaccard similarity of the two articles' shingle sets."""
    return float(np.count_nonzero(a == b)) / PERMUTATIONS


# Each band's ROWS minimums packed into one uint64, mixed with a random word per band: all bands'
# keys in one sorted array (a key of one band equal to another band's is a false candidate the
# similarity check drops).
_BAND_SALT = _rng.integers(0, 2**63, BANDS, dtype=np.uint64)


def band_keys(sigs: np.ndarray) -> np.ndarray:
    """The LSH keys (uint64 × BANDS per row) of signatures (uint32 × PERMUTATIONS per row)."""
    pairs = sigs.astype(np.uint64).reshape(-1, BANDS, ROWS)
    return ((pairs[:, :, 0] << np.uint64(32)) | pairs[:, :, 1]) ^ _BAND_SALT
