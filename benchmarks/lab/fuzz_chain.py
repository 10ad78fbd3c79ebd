"""Fuzz the C analysis chain (retrieval/_chain.c) against the pure-Python chain, its specification.

Not part of the test suite (it runs for minutes); tests/test_native_chain.py keeps the fast checks.
What it does, each part printing what it tried:

  equality   hypothesis text over the whole code space (lone surrogates, combining marks, Arabic
             presentation forms, whitespace of every kind, tokens far past the 64-character cut),
             compared with the Python chain on the shared chains and on chains whose cache is
             cleared every 1-3 tokens;
  bytes      random bytes as UTF-8 (surrogateescape, replace), UTF-16 code units (lone surrogates
             kept) and UTF-32 code points;
  huge       a few 10 MB inputs (one token, all whitespace, all emoji, Arabic prose, mixed);
  errors     a set lookup (a stopword set member whose comparison runs Python code) or the fallback
             raising KeyboardInterrupt, MemoryError, returning junk, or clearing the cache, at random
             points: the error must surface and the next call on the same chain must give the right
             terms;
  threads    four threads sharing a small-cache chain while a fifth clears it;
  flood      tokens crafted to collide under an unkeyed hash (FNV-1a) must cost what random
             tokens cost (the cache's hash is keyed per process);
  leaks      100k calls: tracemalloc's traced memory, the process RSS and the reference count
             of a term must stay flat.

Run it on the normal build:

    .venv/bin/python benchmarks/lab/fuzz_chain.py

and, what it is for, on an AddressSanitizer/UBSan build of the extension in a scratch copy:

    rm -rf /tmp/asan-c && mkdir /tmp/asan-c && cp -r retrieval setup.py pyproject.toml /tmp/asan-c/
    rm /tmp/asan-c/retrieval/*.so
    (cd /tmp/asan-c && CFLAGS='-fsanitize=address,undefined -fno-omit-frame-pointer -O1 -g' \\
        LDFLAGS='-fsanitize=address,undefined' $PWD/.venv/bin/python setup.py build_ext --inplace)
    LD_PRELOAD=$(gcc -print-file-name=libasan.so):$(gcc -print-file-name=libubsan.so) \\
        ASAN_OPTIONS=detect_leaks=0 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \\
        PYTHONPATH=/tmp/asan-c .venv/bin/python benchmarks/lab/fuzz_chain.py

`--examples N` scales the hypothesis parts (default 3000), `--seed` fixes the random parts,
`--skip huge,leaks` leaves parts out. Exit status 1 on any mismatch.
"""

from __future__ import annotations

import argparse
import gc
import random
import resource
import sys
import threading
import time
import tracemalloc
from array import array
from collections.abc import Callable

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from retrieval._chain import Chain

from retrieval import analysis as a
from retrieval import stemmer

_TABLES = a.native_tables()

# Ranges the chain treats specially, drawn from more often than a uniform pick would.
_SPECIAL = (
    st.characters(min_codepoint=0x0600, max_codepoint=0x06FF)     # Arabic, harakat, digits
    | st.characters(min_codepoint=0x08A0, max_codepoint=0x08FF)   # Arabic extended-A, marks
    | st.characters(min_codepoint=0xFB50, max_codepoint=0xFDFF)   # presentation forms A
    | st.characters(min_codepoint=0xFE70, max_codepoint=0xFEFF)   # presentation forms B, BOM
    | st.characters(min_codepoint=0x0300, max_codepoint=0x036F)   # combining marks
    | st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF, blacklist_categories=())  # surrogates
    | st.sampled_from("\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u200a\u2028\u2029\u202f\u205f\u3000"
                      "\u200b\u200c\u200d\u200e\u200f\ufeff\u00ad_-\u0640Σσςİẞǅ")
    | st.characters(blacklist_categories=())                     # anything, surrogates included
)
_TEXT = st.text(alphabet=_SPECIAL, max_size=300)
# Runs of token characters well past the 64-character cut, mixed with the rest.
_LONG = st.lists(st.one_of(_TEXT, st.builds(lambda c, k: c * k, st.sampled_from("اbك1ـ\u064e"),
                                            st.integers(1, 400))), max_size=6).map("".join)


def _chain(stopwords: frozenset[str], cache_limit: int,
           fallback: Callable[[str], object] | None = None) -> Chain:
    return Chain(_TABLES[0], _TABLES[1], stopwords, stemmer.CLITIC_EXCEPTIONS,
                 fallback or (lambda c: a._chain(c, {}, stopwords)), a.MAX_TOKEN_CHARS, stemmer.MAX_STEM_CHARS,
                 cache_limit)


# Caches of 1-3 tokens.
_TINY = [_chain(a.STOPWORDS, limit) for limit in (1, 2, 3)]
_failures: list[str] = []


def _check(text: str) -> None:
    expected = a.reference_analyze(text)
    got = {"analyze": a.analyze(text), "joined": a.analyze_joined(text).split(" ") if expected else [],
           "tiny": _TINY[len(text) % len(_TINY)].analyze(text)}
    if a.analyze_joined(text) != " ".join(expected):
        got["joined"] = None
    for name, terms in got.items():
        if terms != expected:
            _failures.append(f"{name}: {text!r}")
            raise AssertionError(f"{name} differs on {text!r}: {terms} != {expected}")
    if a.analyze_query(text) != a.reference_analyze_query(text):
        _failures.append(f"query: {text!r}")
        raise AssertionError(f"query chain differs on {text!r}")


def part_equality(examples: int) -> None:
    for strategy in (_TEXT, _LONG):
        @settings(max_examples=examples, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(strategy)
        def run(text: str) -> None:
            _check(text)

        run()
    print(f"equality: 2 x {examples} generated texts: ok")


def part_bytes(rng: random.Random, count: int) -> None:
    for _ in range(count):
        raw = rng.randbytes(rng.randrange(0, 600))
        utf16 = array("H", raw[: len(raw) // 2 * 2])  # every BMP code unit, lone surrogates included
        utf32 = array("I", raw[: len(raw) // 4 * 4])
        for text in (raw.decode("utf-8", "surrogateescape"), raw.decode("utf-8", "replace"),
                     "".join(map(chr, utf16)), "".join(chr(c % 0x110000) for c in utf32)):
            _check(text)
    print(f"bytes: {count} random byte strings x 4 decodings: ok")


def part_huge() -> None:
    mb = 10 * 1024 * 1024
    prose = "أعلنت وزارة الخارجية السعودية يوم الأحد، أن الرئيس سيزور موسكو في ٢٠٢٤. "
    inputs = {
        "one token": "ب" * mb,
        "whitespace": " \n\t\u3000" * (mb // 4),
        "emoji chunk": "😀" * (mb // 4),
        "prose": prose * (mb // len(prose)),
        "mixed": ("كلمة😀 Σοφός \ud800x " + "ـ" * 70 + " ") * (mb // 100),
        "ascii": ("word " * (mb // 5)),
    }
    for name, text in inputs.items():
        start = time.perf_counter()
        joined = a.analyze_joined(text)
        native = time.perf_counter() - start
        if joined != " ".join(a.reference_analyze(text)) or a.analyze(text) != joined.split(" ") * bool(joined):
            _failures.append(f"huge {name}")
            print(f"huge: {name}: MISMATCH")
            continue
        print(f"huge: {name} ({len(text):,} characters): ok, native joined {native:.2f} s")


class _Boom(Exception):
    pass


def part_errors(rng: random.Random, rounds: int) -> None:
    raised = (KeyboardInterrupt, MemoryError, _Boom, RecursionError)
    state = {"armed": False}
    holder: list[Chain] = []

    class Tripwire:
        """A stopword set member hashing as a word does: looking that word up runs `__eq__`."""

        def __init__(self, word: str) -> None:
            self.word = word

        def __hash__(self) -> int:
            return hash(self.word)

        def __eq__(self, other: object) -> bool:
            if state["armed"]:
                roll = rng.random()
                if roll < 0.3:
                    raise rng.choice(raised)("from a set lookup")
                if roll < 0.5:
                    holder[0].clear()  # the cache emptied under the caller's feet
            return False

    def fallback(chunk: str) -> object:
        if state["armed"] and rng.random() < 0.3:
            roll = rng.random()
            if roll < 0.5:
                raise rng.choice(raised)("from fallback")
            return rng.choice([None, [1, 2], ("x", b"y"), 7])  # junk: TypeError expected
        return a._chain(chunk, {}, a.STOPWORDS)

    words = ["كلمه", "وزاره", "word", "بقوه"]  # as stopwords are matched (ة → ه)
    stopwords = a.STOPWORDS | {Tripwire(w + str(n)) for w in words for n in range(50)}
    chain = _chain(stopwords, rng.choice([2, 5, 50]), fallback)  # type: ignore[arg-type]
    holder.append(chain)
    raw = ["كلمة", "وزارة", "😀x", "Σοφός", "b" * 70, "ا\ud800", "word", "في", "بقوة"]
    errors = 0
    for i in range(rounds):
        text = " ".join(rng.choice(raw) + str(rng.randrange(50)) for _ in range(rng.randrange(1, 12)))
        state["armed"] = True
        try:
            (chain.analyze if i % 2 else chain.analyze_joined)(text)
        except (*raised, TypeError):
            errors += 1
        state["armed"] = False
        if chain.analyze(text) != a.reference_analyze(text):
            _failures.append(f"errors: {text!r}")
            print(f"errors: state left wrong after an error, on {text!r}")
            return
    print(f"errors: {rounds} rounds, {errors} errors raised and surfaced, the chain right after each: ok")


def part_threads(rng: random.Random, seconds: float) -> None:
    chain = _chain(a.STOPWORDS, 40)
    texts = [" ".join(rng.choice(["كلمة", "وزير", "😀", "Σ", "word", "ـ" * 80, "x" * 65]) + str(rng.randrange(90))
                      for _ in range(8)) for _ in range(200)]
    expected = [a.reference_analyze(t) for t in texts]
    stop = time.monotonic() + seconds
    bad: list[str] = []
    calls = [0]

    def work() -> None:
        while time.monotonic() < stop:
            for text, want in zip(texts, expected, strict=True):
                if chain.analyze(text) != want or chain.analyze_joined(text) != " ".join(want):
                    bad.append(text)
                calls[0] += 2

    def clearer() -> None:
        while time.monotonic() < stop:
            chain.clear()
            time.sleep(0.0005)

    threads = [threading.Thread(target=work) for _ in range(4)] + [threading.Thread(target=clearer)]
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible, inside the fallback too
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(old)
    if bad:
        _failures.append(f"threads: {bad[0]!r}")
    print(f"threads: {calls[0]:,} calls from 4 threads with a clearer: {'MISMATCH' if bad else 'ok'}")


def _fnv1a(token: str) -> int:
    """The hash the token cache used before it was keyed (what an attacker could precompute)."""
    h = 1469598103934665603
    for ch in map(ord, token):
        h = ((h ^ ch) * 1099511628211) & 0xFFFFFFFFFFFFFFFF
    return h ^ (h >> 31)


def part_flood(rng: random.Random) -> None:
    # 31,000 tokens whose unkeyed hash lands in the first 1,024 of 65,536 slots (the size a cache of
    # 30,000 tokens has): cached, they form one long run of slots that every later lookup of such a
    # token walks. With the keyed hash they are tokens like any other.
    crafted: list[str] = []
    plain: list[str] = []
    while len(crafted) < 31_000:
        token = "".join(rng.choices("abcdefghijklmnopqrstuvwxyz", k=7))
        if _fnv1a(token) & 0xFFFF < 1024:
            crafted.append(token)
        elif len(plain) < 31_000:
            plain.append(token)
    timings = {}
    for name, tokens in (("crafted", crafted), ("random", plain)):
        chain = Chain(_TABLES[0], _TABLES[1], frozenset(), frozenset(), lambda c: [], a.MAX_TOKEN_CHARS,
                      stemmer.MAX_STEM_CHARS, 1 << 16)
        chain.analyze(" ".join(tokens[:30_000]))
        question = " ".join(tokens[30_000:30_800])
        start = time.perf_counter()
        chain.analyze(question)
        timings[name] = time.perf_counter() - start
    slow = timings["crafted"] > 20 * timings["random"] + 0.005
    if slow:
        _failures.append("flood")
    print(f"flood: 800 new tokens after 30,000 cached: FNV-colliding {timings['crafted'] * 1e3:.1f} ms, "
          f"random {timings['random'] * 1e3:.1f} ms: {'SLOW' if slow else 'ok'}")


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20


def part_leaks(calls: int) -> None:
    # A term the fallback hands back (for the chunks holding Σ): the chain must keep no reference to it.
    sentinel = "مصطلح-فريد"
    chain = _chain(a.STOPWORDS, 1000, lambda c: [sentinel] if "Σ" in c else a._chain(c, {}, a.STOPWORDS))
    texts = ["فريد كلمة 😀x Σοφός " + "b" * 70, "word%d فريدΣ", "ا\ud800 فريد"]
    run: Callable[[int], None]

    def run(n: int) -> None:
        for i in range(n):
            text = texts[i % 3].replace("%d", str(i % 5000))  # new tokens: cache fills and resets
            chain.analyze(text)
            chain.analyze_joined(text)
            if i % 997 == 0:
                chain.clear()

    run(5000)  # warm up: caches, interned strings, hypothesis-free steady state
    chain.clear()  # the cache holds a reference to the sentinel term: counted with it empty
    gc.collect()
    refs = sys.getrefcount(sentinel)
    rss = _rss_mb()
    tracemalloc.start()
    run(calls // 2)
    gc.collect()
    first, _ = tracemalloc.get_traced_memory()
    run(calls // 2)
    gc.collect()
    second, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    chain.clear()
    gc.collect()
    after_refs = sys.getrefcount(sentinel)
    grew = _rss_mb() - rss
    ok = after_refs == refs and abs(second - first) < 256 * 1024 and grew < 32
    if not ok:
        _failures.append("leaks")
    print(f"leaks: {calls:,} calls x 2 modes: traced {first / 1024:.0f} KiB -> {second / 1024:.0f} KiB, "
          f"RSS +{grew:.1f} MB, term refcount {refs} -> {after_refs}: {'ok' if ok else 'LEAK'}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--skip", default="", help="comma-separated parts to leave out")
    args = parser.parse_args()
    seed = args.seed if args.seed is not None else random.randrange(2**32)
    print(f"seed {seed}")
    rng = random.Random(seed)
    skip = set(filter(None, args.skip.split(",")))
    parts: dict[str, Callable[[], None]] = {
        "equality": lambda: part_equality(args.examples),
        "bytes": lambda: part_bytes(rng, args.examples),
        "errors": lambda: part_errors(rng, args.examples),
        "threads": lambda: part_threads(rng, 5.0),
        "flood": lambda: part_flood(rng),
        "huge": part_huge,
        "leaks": lambda: part_leaks(100_000),
    }
    for name, part in parts.items():
        if name in skip:
            continue
        try:
            part()
        except AssertionError as exc:
            print(f"{name}: FAILED: {str(exc)[:500]}")
    return 1 if _failures else 0


if __name__ == "__main__":
    sys.exit(main())
