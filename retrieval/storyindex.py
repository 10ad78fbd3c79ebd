"""The LSH table of story signatures (retrieval/stories.py says what a signature is and when two
articles are the same story): `StoryIndex`, which finds each new article's story among the stored
ones and within its batch.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from .stories import BANDS, MAX_DAYS_APART, PERMUTATIONS, SHORT_THRESHOLD, THRESHOLD, band_keys

try:  # the lookup's search in C (retrieval/_minhash.c); the numpy in StoryIndex._lookup is its specification
    from ._minhash import sorted_matches as _native_matches
except ImportError:  # built without a C compiler
    _native_matches = None
try:  # the signature comparison of _verify in C; its numpy expression is the specification
    from ._minhash import agreements as _native_agreements
except ImportError:  # built without a C compiler
    _native_agreements = None
try:  # assign's search for each article's best match in C; assign's numpy path is the specification
    from ._minhash import best_matches as _native_best
except ImportError:  # built without a C compiler
    _native_best = None
try:  # two sorted runs merged in C; _merge_runs's np.insert is the specification
    from ._minhash import merge_runs as _native_merge
except ImportError:  # built without a C compiler
    _native_merge = None
try:  # the filter's bits set in C; StoryIndex._mark's numpy is the specification
    from ._minhash import mark_filter as _native_mark
except ImportError:  # built without a C compiler
    _native_mark = None

# Keys added since the big sorted array was last rebuilt live in a few smaller sorted runs until there
# are this many, or as many as in the big one (merging copies it).
MERGE_EVERY = 64_000
# Pairs of one batch's articles sharing a key, at most: past it the batch is grouped in halves (a
# batch of one story's copies pairs every article with every other, 64 times).
MAX_BATCH_PAIRS = 200_000
# Building the sorted keys of a loaded index: articles per chunk, and 2^bits passes (see sort_keys).
_BUILD_CHUNK, _BUILD_BITS = 2048, 4
# The big key array's filter (StoryIndex._build_filter): 2^FILTER_BITS bits, 2 MiB.
FILTER_BITS = 24
# Keys of the sorted array per entry of the sample the C lookup brackets keys in first.
_SAMPLE_STRIDE = 64


# A slot's day number (`day_numbers`) when its article has no date, or one past int16's range.
NO_DAY = np.iinfo(np.int16).min


def day_numbers(stamps: np.ndarray) -> np.ndarray:
    """Each publication time's day number (days since 1970, int16; NO_DAY for none or out of range).

    The C search (`_minhash.best_matches`) skips a stored candidate whose day is more than
    MAX_DAYS_APART + 1 days from the article's without reading its timestamp: the days lie in an array
    of two bytes a slot (~0.5 MB at a million passages) that stays in the core's cache, where a
    timestamp each candidate was a cache miss. A candidate published that far apart fails the exact
    date check anyway, so the answers are the same; at a million passages an article of a new story
    has ~600-1,500 stored candidates, most of them sharing a common phrase's key and published on
    other days.
    """
    with np.errstate(invalid="ignore"):
        days = np.floor(stamps / 86400.0)
        ok = np.isfinite(days) & (days > NO_DAY) & (days <= np.iinfo(np.int16).max)
    return np.where(ok, days, NO_DAY).astype(np.int16)


def _distinct(values: np.ndarray) -> np.ndarray:
    """The distinct values, ascending (np.unique's hash path measured ~3x slower on these)."""
    values = np.sort(values)
    return values[np.r_[True, values[1:] != values[:-1]]] if values.size else values


def _merge_runs(keys: np.ndarray, slots: np.ndarray, more_keys: np.ndarray,
                more_slots: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two sorted runs of keys (with their slots) as one, a key of the first before an equal one of the second."""
    if _native_merge is None:
        at = np.searchsorted(keys, more_keys, side="right")
        return np.insert(keys, at, more_keys), np.insert(slots, at, more_slots)
    out_keys = np.empty(keys.size + more_keys.size, dtype=np.uint64)
    out_slots = np.empty(out_keys.size, dtype=np.int32)
    _native_merge(keys, slots, more_keys, more_slots, out_keys, out_slots)
    return out_keys, out_slots


class StoryIndex:
    """LSH over signatures, with each article's story and publication time.

    Articles live in slots of growing numpy arrays (signatures, times), so candidates are
    verified in vectorised comparisons; a removed article's slot is left dead. The band keys
    are a sorted uint64 array with the slot of each (12 bytes a key, 64 keys an article: ~18 MB
    at 24,000 articles; a dict of lists took over ten times that), plus a few sorted runs of the
    keys added since it was last merged, and a bit filter over both (most keys looked up are in
    neither).

    `assign` groups a batch of articles at once, with the result of `best_match` then `add` for
    each in turn (an article can join one earlier in its batch); the two single-article methods
    are its specification.
    """

    def __init__(self, capacity: int = 1024) -> None:
        self._sigs = np.zeros((capacity, PERMUTATIONS), dtype=np.uint32)
        self._stamps = np.full(capacity, np.nan)
        self._days = np.full(capacity, NO_DAY, dtype=np.int16)
        self._alive = np.zeros(capacity, dtype=np.bool_)
        self._keys: list[str] = []
        self._stories: list[str] = []
        self._slot: dict[str, int] = {}
        self._sorted_keys = np.empty(0, dtype=np.uint64)
        self._sorted_slots = np.empty(0, dtype=np.int32)
        # Sorted runs of recent keys, largest first (see _append).
        self._recent: list[tuple[np.ndarray, np.ndarray]] = []
        self._filter = np.zeros(1 << (FILTER_BITS - 3), dtype=np.uint8)
        # (the sorted key array, its every _SAMPLE_STRIDE-th key) for the C lookup, made on first use.
        self._sample: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None

    @classmethod
    def bulk(cls, keys: list[str], sigs: np.ndarray, stamps: np.ndarray, stories: list[str]) -> StoryIndex:
        """An index of many articles at once (what is stored), its key array sorted once."""
        index = cls(max(1024, len(keys)))
        index.extend_unsorted(keys, sigs, stamps, stories)
        index.sort_keys()
        return index

    def extend_unsorted(self, keys: Sequence[str], sigs: np.ndarray, stamps: np.ndarray,
                        stories: Sequence[str]) -> None:
        """Append stored articles without finding them by key yet (`sort_keys` does): loading in chunks.

        The same key twice: the later row counts.
        """
        base = self._store(keys, sigs, stamps, stories)
        for i, key in enumerate(keys, base):
            old = self._slot.get(key)
            if old is not None:
                self._alive[old] = False
            self._slot[key] = i

    def sort_keys(self) -> None:
        """Rebuild the sorted key array from the signatures of the slots, in a few passes.

        An argsort of every key at once held four arrays of them (~50 MB beside the 18 MB result
        at 24,000 articles). Here the keys are made again from the signatures in each pass, and a
        pass sorts only those whose top bits fall in its range: beside the result there is at most
        one range's keys and one chunk of articles' keys.
        """
        n = len(self._keys)
        sigs = self._sigs[:n]
        self._recent = []
        if n == 0:
            self._sorted_keys = np.empty(0, dtype=np.uint64)
            self._sorted_slots = np.empty(0, dtype=np.int32)
            return

        def chunks():
            for start in range(0, n, _BUILD_CHUNK):
                yield start, band_keys(sigs[start:start + _BUILD_CHUNK]).ravel()

        top = np.uint64(64 - _BUILD_BITS)
        sizes = np.zeros(1 << _BUILD_BITS, dtype=np.int64)
        for _, keys in chunks():
            sizes += np.bincount((keys >> top).astype(np.intp), minlength=sizes.size)
        out_keys = np.empty(n * BANDS, dtype=np.uint64)
        out_slots = np.empty(n * BANDS, dtype=np.int32)
        at = 0
        for part in range(sizes.size):
            part_keys, part_slots = [], []
            for start, keys in chunks():
                where = np.flatnonzero((keys >> top) == np.uint64(part))
                part_keys.append(keys[where])
                part_slots.append((where // BANDS).astype(np.int32) + np.int32(start))
            keys, slots = np.concatenate(part_keys), np.concatenate(part_slots)
            order = np.argsort(keys)  # equal keys in any order: every use of them is a set
            out_keys[at:at + keys.size] = keys[order]
            out_slots[at:at + keys.size] = slots[order]
            at += keys.size
        self._sorted_keys, self._sorted_slots = out_keys, out_slots
        self._build_filter()

    def __len__(self) -> int:
        return len(self._slot)

    def __contains__(self, key: str) -> bool:
        return key in self._slot

    def story_of(self, key: str) -> str | None:
        slot = self._slot.get(key)
        return self._stories[slot] if slot is not None else None

    def _reserve(self, size: int) -> None:
        if size <= self._sigs.shape[0]:
            return
        grow = max(1024, self._sigs.shape[0], size - self._sigs.shape[0])
        self._sigs = np.concatenate([self._sigs, np.zeros((grow, PERMUTATIONS), dtype=np.uint32)])
        self._stamps = np.concatenate([self._stamps, np.full(grow, np.nan)])
        self._days = np.concatenate([self._days, np.full(grow, NO_DAY, dtype=np.int16)])
        self._alive = np.concatenate([self._alive, np.zeros(grow, dtype=np.bool_)])

    def add(self, key: str, sig: np.ndarray, stamp: float, story: str) -> None:
        self._append([key], sig[None, :], np.array([stamp], dtype=np.float64), [story])

    def _store(self, keys: Sequence[str], sigs: np.ndarray, stamps: np.ndarray, stories: Sequence[str]) -> int:
        """Write rows into new live slots after the last (the caller maps their keys); returns the first slot."""
        n, base = len(keys), len(self._keys)
        self._reserve(base + n)
        self._sigs[base:base + n] = sigs
        self._stamps[base:base + n] = stamps
        self._days[base:base + n] = day_numbers(np.asarray(stamps, dtype=np.float64))
        self._alive[base:base + n] = True
        self._keys.extend(keys)
        self._stories.extend(stories)
        return base

    def _append(self, keys: Sequence[str], sigs: np.ndarray, stamps: np.ndarray, stories: Sequence[str],
                band: tuple[np.ndarray, np.ndarray] | None = None) -> None:
        """Add articles (keys distinct) in order: each replaces its key's earlier slot. `band`: their
        band keys sorted, with the row of each, if the caller has them."""
        for key in keys:
            self.remove(key)
        base = self._store(keys, sigs, stamps, stories)
        self._slot.update(zip(keys, range(base, base + len(keys)), strict=True))
        if band is None:
            flat = band_keys(sigs).ravel()
            order = np.argsort(flat)
            band = flat[order], order // BANDS
        new_keys, new_slots = band[0], band[1].astype(np.int32) + np.int32(base)
        self._mark(new_keys)
        # The recent keys are sorted runs, kept few: a run is merged with the one before it while
        # it is at least half that one's size (as a binary counter carries), so a key is copied a
        # logarithmic number of times, and a batch's keys cost no copy of all the recent ones.
        self._recent.append((new_keys, new_slots))
        while len(self._recent) > 1 and 2 * self._recent[-1][0].size >= self._recent[-2][0].size:
            self._recent[-2:] = [_merge_runs(*self._recent[-2], *self._recent[-1])]
        # Merging copies the big array: done once the recent keys are as many (or MERGE_EVERY), so
        # the big array doubles between merges and each key is copied a few times in all.
        if sum(k.size for k, _ in self._recent) >= max(MERGE_EVERY, self._sorted_keys.size):
            self._merge()

    def _merge(self) -> None:
        keys = np.concatenate([k for k, _ in self._recent])
        slots = np.concatenate([s for _, s in self._recent])
        order = np.argsort(keys)
        keys, slots = keys[order], slots[order]
        at = np.searchsorted(self._sorted_keys, keys, side="right")
        self._sorted_keys = np.insert(self._sorted_keys, at, keys)
        self._sorted_slots = np.insert(self._sorted_slots, at, slots)
        # The filter already has the recent keys' bits (set as they were added).
        self._recent = []

    def _build_filter(self) -> None:
        """One bit per 2^(64 - FILTER_BITS) key values, set where the big array holds a key.

        Most of a batch's keys are found nowhere; a binary search each through the big array was
        the largest part of grouping a batch. A key whose bit is clear is not looked for.
        """
        self._filter = np.zeros(1 << (FILTER_BITS - 3), dtype=np.uint8)
        self._mark(self._sorted_keys)
        for keys, _ in self._recent:
            self._mark(keys)

    def _mark(self, keys: np.ndarray) -> None:
        """Set the filter's bits of `keys` (sorted), a slice at a time (a few small temporaries)."""
        if _native_mark is not None:
            _native_mark(self._filter, np.ascontiguousarray(keys, dtype=np.uint64), FILTER_BITS)
            return
        for start in range(0, keys.size, 1 << 16):
            top = (keys[start:start + (1 << 16)] >> np.uint64(64 - FILTER_BITS)).astype(np.intp)
            byte = top >> 3
            starts = np.flatnonzero(np.r_[True, byte[1:] != byte[:-1]])  # sorted: one OR per byte
            self._filter[byte[starts]] |= np.bitwise_or.reduceat(np.left_shift(1, top & 7).astype(np.uint8), starts)

    def _maybe_stored(self, keys: np.ndarray) -> np.ndarray:
        top = keys >> np.uint64(64 - FILTER_BITS)
        return (self._filter[(top >> np.uint64(3)).astype(np.intp)] >> (top & np.uint64(7)).astype(np.uint8)) & 1 == 1

    def remove(self, key: str) -> None:
        slot = self._slot.pop(key, None)
        if slot is not None:
            self._alive[slot] = False  # its keys stay, and are skipped as dead when found

    def _lookup(self, keys: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(row, slot) for every stored key equal to one of `keys` (sorted; `rows[i]` is the row of
        keys[i]), repeats included. Sorted queries: searchsorted then walks the table in order
        instead of jumping through it (~5x faster on 32,000 keys)."""
        rows_out, slots_out = [], []
        maybe = np.flatnonzero(self._maybe_stored(keys))
        keys, rows = keys[maybe], rows[maybe]
        for table, table_slots in [(self._sorted_keys, self._sorted_slots), *self._recent]:
            if not table.size:
                continue
            if _native_matches is not None:
                extra: tuple[np.ndarray, int] | tuple[()] = ()
                if table is self._sorted_keys and table.size >= 16 * _SAMPLE_STRIDE:
                    extra = (self._sorted_sample(), _SAMPLE_STRIDE)
                pairs = _native_matches(np.ascontiguousarray(table), np.ascontiguousarray(keys), *extra)
                found, at = (np.frombuffer(b, dtype=np.int64) for b in pairs)
                if found.size:
                    rows_out.append(rows[found])
                    slots_out.append(table_slots[at])
                continue
            # The right ends only for the keys found (a few percent): half the searching.
            lo = np.searchsorted(table, keys, side="left")
            hit = np.flatnonzero(table[np.minimum(lo, table.size - 1)] == keys)
            if not hit.size:
                continue
            # Most keys found are held once: the right end is searched for (a second pass through
            # the table, as long as the first) only where the next entry holds the same key too.
            lo_hit, hit_keys = lo[hit], keys[hit]
            counts = np.ones(hit.size, dtype=np.intp)
            more = np.flatnonzero(table[np.minimum(lo_hit + 1, table.size - 1)] == hit_keys)
            more = more[lo_hit[more] + 1 < table.size]
            counts[more] = np.searchsorted(table, hit_keys[more], side="right") - lo_hit[more]
            ends = np.cumsum(counts)
            at = np.arange(ends[-1]) + np.repeat(lo_hit - (ends - counts), counts)
            rows_out.append(np.repeat(rows[hit], counts))
            slots_out.append(table_slots[at])
        if not rows_out:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
        return np.concatenate(rows_out).astype(np.int64), np.concatenate(slots_out).astype(np.int64)

    def _sorted_sample(self) -> np.ndarray:
        """Every _SAMPLE_STRIDE-th key of the sorted array (kept until the array is replaced).

        ~1/64 of it (~200 KB at 24,000 articles) stays in cache through a lookup, and brackets
        each key to 64 entries of the big array (`_minhash.sorted_matches`).
        """
        return self._sampled()[1]

    def _sample_radix(self) -> tuple[np.ndarray, np.ndarray]:
        """(the sample, its radix): for each value of a key's top bits, the first sample position whose
        key has that top or a larger one, then the sample's size; ~32-64 sample entries a value, so
        `_minhash.best_matches` finds a key's place in the sample within a few cache lines."""
        _, sample, radix = self._sampled()
        return sample, radix

    def _sampled(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        kept = self._sample
        if kept is None or kept[0] is not self._sorted_keys:
            sample = self._sorted_keys[::_SAMPLE_STRIDE].copy()
            bits = int(np.clip(np.log2(max(sample.size, 1) / 32), 1, 20))
            tops = np.arange(1 << bits, dtype=np.uint64) << np.uint64(64 - bits)
            radix = np.append(np.searchsorted(sample, tops, side="left"), sample.size).astype(np.int64)
            kept = self._sample = (self._sorted_keys, sample, radix)
        return kept

    def _candidates(self, sig: np.ndarray) -> np.ndarray:
        keys = np.sort(band_keys(sig[None, :]).ravel())
        _, slots = self._lookup(keys, np.zeros(keys.size, dtype=np.int64))
        return _distinct(slots)

    def best_match(self, sig: np.ndarray, stamp: float, exclude: str = "",
                   threshold: float = THRESHOLD) -> tuple[str, str, float] | None:
        """(article, its story, similarity) of the closest stored article that is the same story, or None."""
        slots = self._candidates(sig)
        if slots.size == 0:
            return None
        slots = slots[self._alive[slots]]
        if slots.size == 0:
            return None
        sims = np.count_nonzero(self._sigs[slots] == sig, axis=1) / PERMUTATIONS
        stamps = self._stamps[slots]
        undated = np.isnan(stamps) | math.isnan(stamp)
        with np.errstate(invalid="ignore"):
            close = np.abs(stamps - stamp) <= MAX_DAYS_APART * 86400
        ok = np.where(undated, sims >= max(threshold, SHORT_THRESHOLD), close & (sims >= threshold))
        best = None
        for i in np.flatnonzero(ok)[np.argsort(-sims[ok], kind="stable")]:
            key = self._keys[int(slots[i])]
            if key != exclude:
                best = (key, self._stories[int(slots[i])], float(sims[i]))
                break
        return best

    # --- a batch at once ---------------------------------------------------------------

    def assign(self, keys: Sequence[str], sigs: np.ndarray, stamps: np.ndarray,
               thresholds: np.ndarray) -> list[str]:
        """Group and add a batch of articles; returns each one's story.

        The same as, for each article in order, `best_match(sig, stamp, exclude=key,
        threshold=...)` then `add(key, sig, stamp, story)` with the match's story (or its own key):
        same stories, same slots. Candidates are found for the whole batch in a few array
        operations: stored articles by the sorted keys, the batch's own articles by sorting the
        batch's keys; only the choice of each article's story, which may be that of an article
        earlier in the batch, is a loop. With the C kernel built, the search and the verification
        are one call (`_choose_native`), which stops early where provably nothing else could win;
        the numpy below is its specification.
        """
        n = len(keys)
        if n == 0:
            return []
        if len(set(keys)) < n:  # not from ingest (its batches have distinct ids): one at a time
            out = []
            for i, key in enumerate(keys):
                match = self.best_match(sigs[i], float(stamps[i]), exclude=key, threshold=float(thresholds[i]))
                out.append(match[1] if match else key)
                self.add(key, sigs[i], float(stamps[i]), out[-1])
            return out
        flat = band_keys(sigs).ravel()
        order = np.argsort(flat)
        sorted_keys, key_rows = flat[order], (order // BANDS).astype(np.int64)
        native = _native_best is not None
        inner = None if native and self._too_many_pairs(n, sorted_keys) else (
            (np.empty(0, dtype=np.int64),) * 2 if native else self._batch_pairs(n, sorted_keys, key_rows))
        if inner is None:  # too many pairs within the batch: each half alone, in order
            half = n // 2
            return (self.assign(keys[:half], sigs[:half], stamps[:half], thresholds[:half])
                    + self.assign(keys[half:], sigs[half:], stamps[half:], thresholds[half:]))
        stamps = np.asarray(stamps, dtype=np.float64)
        thresholds = np.asarray(thresholds, dtype=np.float64)
        if native:
            out = self._choose_native(keys, sigs, stamps, thresholds, sorted_keys, key_rows)
            self._append(keys, sigs, stamps, out, (sorted_keys, key_rows))
            return out
        # Stored candidates: (row, slot), each once, alive when the row's turn comes.
        rows, slots = self._lookup(sorted_keys, key_rows)
        stored_best = np.full(n, -1, dtype=np.int64)
        stored_sim = np.full(n, -1.0)
        if rows.size:
            width = np.int64(len(self._keys))
            pair = _distinct(rows * width + slots)
            rows, slots = pair // width, pair % width
            alive = self._alive[slots]
            # A row's own earlier slot is excluded, and that of an article earlier in the batch
            # was replaced by it before the row's turn: dead for rows at or after its position.
            replaced = [(old, i) for i, key in enumerate(keys) if (old := self._slot.get(key)) is not None]
            if replaced:
                old_slots, positions = np.array(replaced, dtype=np.int64).T
                order = np.argsort(old_slots)
                old_slots, positions = old_slots[order], positions[order]
                at = np.minimum(np.searchsorted(old_slots, slots), old_slots.size - 1)
                alive &= ~((old_slots[at] == slots) & (positions[at] <= rows))
            rows, slots = rows[alive], slots[alive]
            ok, sims = self._verify(sigs, stamps, thresholds, rows, self._sigs, self._stamps, slots)
            self._keep_best(rows[ok], slots[ok], sims[ok], stored_best, stored_sim)
        # Candidates within the batch: (later row, earlier row) pairs.
        batch_best = np.full(n, -1, dtype=np.int64)
        batch_sim = np.full(n, -1.0)
        later, earlier = inner
        if later.size:
            ok, sims = self._verify(sigs, stamps, thresholds, later, sigs, stamps, earlier)
            self._keep_best(later[ok], earlier[ok], sims[ok], batch_best, batch_sim)
        out = self._chosen(keys, stored_best.tolist(), stored_sim.tolist(), batch_best.tolist(), batch_sim.tolist())
        self._append(keys, sigs, stamps, out, (sorted_keys, key_rows))
        return out

    def _chosen(self, keys: Sequence[str], stored_best: list[int], stored_sim: list[float], batch_best: list[int],
                batch_sim: list[float]) -> list[str]:
        """Each article's story from its best stored match and its best earlier article of the batch (-1: none),
        with their similarities (or agreement counts): the match's story, or the article's own key."""
        out: list[str] = []
        for i, (s_slot, s_sim, b_row, b_sim) in enumerate(zip(stored_best, stored_sim, batch_best, batch_sim,
                                                            strict=True)):
            # Stored slots come before the batch's: on equal similarity the stored article wins.
            if s_slot >= 0 and s_sim >= b_sim:
                out.append(self._stories[s_slot])
            elif b_row >= 0:
                out.append(out[b_row])
            else:
                out.append(keys[i])
        return out

    def _choose_native(self, keys: Sequence[str], sigs: np.ndarray, stamps: np.ndarray, thresholds: np.ndarray,
                       sorted_keys: np.ndarray, key_rows: np.ndarray) -> list[str]:
        """assign's choice of each article's story through _minhash.best_matches (the numpy path of
        `assign` is its specification): the best stored match and the best earlier article of the
        batch of each, found in one call that verifies each candidate once and stops once the
        candidates left could not win (see retrieval/_minhash.c)."""
        n = len(keys)
        # The big array first: the only one sampled (the recent runs are small).
        tables = [(self._sorted_keys, self._sorted_slots), *self._recent]
        sample = self._sample_radix() if self._sorted_keys.size >= 16 * _SAMPLE_STRIDE else None
        # A slot of an article the batch edits is dead from that article's position on (its key moves
        # to a new slot then).
        replaced = sorted((old, i) for i, key in enumerate(keys) if (old := self._slot.get(key)) is not None)
        old_slots = np.array([r[0] for r in replaced], dtype=np.int64)
        positions = np.array([r[1] for r in replaced], dtype=np.int64)
        width = len(self._keys)
        found = np.frombuffer(_native_best(
            tables, sample, _SAMPLE_STRIDE, self._filter, FILTER_BITS, sorted_keys, key_rows,
            np.ascontiguousarray(sigs, dtype=np.uint32), stamps, thresholds, self._sigs[:width],
            self._stamps[:width], self._days[:width], self._alive[:width].view(np.uint8), old_slots, positions,
            MAX_DAYS_APART * 86400, SHORT_THRESHOLD, BANDS), dtype=np.int64).reshape(4, n)
        return self._chosen(keys, *(found[j].tolist() for j in range(4)))

    @staticmethod
    def _too_many_pairs(n: int, sorted_keys: np.ndarray) -> bool:
        """Whether the batch's articles share keys in over MAX_BATCH_PAIRS pairs (see _batch_pairs)."""
        repeats = sorted_keys[1:] == sorted_keys[:-1]
        # Runs of r_i + 1 equal keys pair sum r_i(r_i + 1)/2 <= R(R + 1)/2, R = sum r_i the repeats.
        if n < 2 or (r := int(np.count_nonzero(repeats))) * (r + 1) // 2 <= MAX_BATCH_PAIRS:
            return False
        starts = np.flatnonzero(np.concatenate([[True], ~repeats]))
        sizes = np.diff(np.append(starts, sorted_keys.size))
        return int((sizes * (sizes - 1) // 2).sum()) > MAX_BATCH_PAIRS

    @staticmethod
    def _batch_pairs(n: int, sorted_keys: np.ndarray, row: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        """(later, earlier) rows of the batch sharing a key, each pair once; None past MAX_BATCH_PAIRS.

        `sorted_keys` are the batch's keys in order, `row[i]` the row of sorted_keys[i]."""
        starts = np.flatnonzero(np.r_[True, sorted_keys[1:] != sorted_keys[:-1]])
        sizes = np.diff(np.r_[starts, sorted_keys.size])
        if int((sizes * (sizes - 1) // 2).sum()) > MAX_BATCH_PAIRS and n > 1:
            return None
        # Only keys held by two or more rows pair anything: the loop below runs over those alone
        # (a few percent of the batch's keys), once per distance within a group.
        shared = np.repeat(sizes > 1, sizes)
        group = np.repeat(np.arange(starts.size), sizes)[shared]
        row = row[shared]
        later, earlier = [], []
        for d in range(1, int(sizes.max())):
            same = np.flatnonzero(group[:-d] == group[d:])
            a, b = row[same], row[same + d]
            differ = a != b
            later.append(np.maximum(a, b)[differ])
            earlier.append(np.minimum(a, b)[differ])
        if not later:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
        pair = _distinct(np.concatenate(later) * n + np.concatenate(earlier))
        return pair // n, pair % n

    @staticmethod
    def _keep_best(rows: np.ndarray, others: np.ndarray, sims: np.ndarray, best: np.ndarray,
                   best_sim: np.ndarray) -> None:
        """For each row of the (row, other) pairs that passed: the other of highest similarity, then
        lowest number (best_match's order), into `best` and its similarity into `best_sim`."""
        if rows.size:
            order = np.lexsort((others, -sims, rows))
            first = order[np.r_[True, rows[order][1:] != rows[order][:-1]]]
            best[rows[first]] = others[first]
            best_sim[rows[first]] = sims[first]

    @staticmethod
    def _verify(sigs: np.ndarray, stamps: np.ndarray, thresholds: np.ndarray, rows: np.ndarray,
                table_sigs: np.ndarray, table_stamps: np.ndarray, others: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """best_match's test for (row, candidate) pairs: which pass, and each pair's similarity (0
        where the dates alone rule it out: most candidates, found by a key of a popular phrase,
        were published on other days, and are not compared)."""
        stamp, other_stamps = stamps[rows], table_stamps[others]
        undated = np.isnan(other_stamps) | np.isnan(stamp)
        with np.errstate(invalid="ignore"):
            close = np.abs(other_stamps - stamp) <= MAX_DAYS_APART * 86400
        sims = np.zeros(rows.size)
        check = np.flatnonzero(undated | close)
        if _native_agreements is not None and check.size:
            same = np.frombuffer(_native_agreements(
                np.ascontiguousarray(sigs, dtype=np.uint32), np.ascontiguousarray(rows[check], dtype=np.int64),
                np.ascontiguousarray(table_sigs, dtype=np.uint32), np.ascontiguousarray(others[check], dtype=np.int64),
                PERMUTATIONS), dtype=np.int64)
            sims[check] = same / PERMUTATIONS
        else:
            sims[check] = np.count_nonzero(table_sigs[others[check]] == sigs[rows[check]], axis=1) / PERMUTATIONS
        threshold = thresholds[rows]
        ok = np.where(undated, sims >= np.maximum(threshold, SHORT_THRESHOLD), close & (sims >= threshold))
        return ok, sims
