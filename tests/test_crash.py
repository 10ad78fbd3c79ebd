"""Crashes: SIGKILL `newsbot ingest` and `newsbot reindex` at random moments, then check everything.

After every kill: SQLite's integrity and foreign-key checks pass; every
article is wholly present (exactly the passages splitting its body gives,
ords from 0) or absent, and its body is a version that was really written;
a freshly opened engine serves an index that matches the database and
answers questions with known answers (a stale or half-written index file
is detected and rebuilt); and re-running `newsbot ingest` completes with
every article at its latest version.

Randomness is seeded; the seed is printed and in every failure message.
Reproduce a run with NEWSBOT_CRASH_SEED=<seed>.
Kill times are drawn between the end of Python's imports and the measured
duration of an uninterrupted run, so kills land in the real work.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import random
import re
import secrets
import signal
import sqlite3
import subprocess
import sys
import time
import zipfile
from collections import Counter
from contextlib import closing
from functools import cache
from pathlib import Path

import numpy as np
import pytest

from bot.cli import main as cli_main
from retrieval import indexfile, segmentfile
from retrieval.engine import RetrievalConfig, SearchEngine

from .conftest import REPO, SAMPLE
from .crashkit import Corpus, fresh_engine_problems, stored_article_numbers, unique_word
from .dbcheck import integrity_problems, partial_articles

KILLS = int(os.environ.get("NEWSBOT_CRASH_KILLS", "20"))
ARTICLES = int(os.environ.get("NEWSBOT_CRASH_ARTICLES", "1500"))
# After every kill the database is asked and re-ingested through `bot.cli.main` in this process (the
# code of a fresh `newsbot` process, without paying Python's start-up 40 times); after every
# CLI_EVERY-th kill through a real `newsbot` process instead.
CLI_EVERY = 10


@pytest.fixture(scope="module")
def seed() -> int:
    value = int(os.environ.get("NEWSBOT_CRASH_SEED") or secrets.randbelow(10**9))
    print(f"\ncrash tests: NEWSBOT_CRASH_SEED={value}")
    return value


def newsbot_cmd(*args: str, db: Path) -> list[str]:
    return [sys.executable, "-m", "bot.cli", *args, "--db", str(db)]


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("NEWSBOT_", "TELEGRAM_"))}


def run_to_completion(*args: str, db: Path) -> tuple[float, subprocess.CompletedProcess]:
    started = time.perf_counter()
    out = subprocess.run(newsbot_cmd(*args, db=db), capture_output=True, text=True, env=clean_env(),
                         cwd=REPO, timeout=300)
    return time.perf_counter() - started, out


def run_newsbot(*args: str, db: Path, real_process: bool) -> tuple[int, str]:
    """Exit code and stdout of `newsbot args`, as a real process or through `bot.cli.main` here."""
    if real_process:
        _, out = run_to_completion(*args, db=db)
        assert "Traceback" not in out.stderr, out.stderr
        return out.returncode, out.stdout
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        code = cli_main([*args, "--db", str(db)])
    return code, buf.getvalue()


def kill_at(args: tuple[str, ...], db: Path, delay: float) -> float | None:
    """Start `newsbot args` and SIGKILL it after `delay` seconds.

    Returns None if it was killed, or how long it took if it finished first.
    """
    started = time.perf_counter()
    proc = subprocess.Popen(newsbot_cmd(*args, db=db), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env=clean_env(), cwd=REPO)
    try:
        proc.wait(timeout=delay)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        return None
    return time.perf_counter() - started


def meta(db: Path, key: str) -> str:
    with closing(sqlite3.connect(db)) as con:
        row = con.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return row[0] if row else ""


def ingest_kill_phase(db: Path, corpus: Corpus, generation_before: str) -> str:
    """Where a kill landed, judged from what it left: nothing, some batches, or all of them."""
    if meta(db, "content_generation") == generation_before:
        return "before any batch was committed"
    if corpus.stale_bodies(db):
        return "between committed batches"
    return "after the last batch (index rebuild or exit)"


def reindex_kill_phase(db: Path, index_before: str) -> str:
    if meta(db, "index") != index_before:
        return "after the new index was recorded"
    if db.with_name(db.name + ".index.npz.tmp").exists():
        return "while writing the index file"
    return "before the index file was written"


@cache
def import_seconds() -> float:
    """How long a `newsbot` process spends starting Python and importing, before any work (best of 2)."""
    times = []
    for _ in range(2):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import bot.cli"], check=True, cwd=REPO, env=clean_env())
        times.append(time.perf_counter() - started)
    return min(times)


def kill_delay(rng: random.Random, startup: float, run: float) -> float:
    """A moment after the imports (mostly) and before the end of a run that lasts `run` seconds."""
    return rng.uniform(min(startup, 0.7 * run), run)


def check_after_kill(db: Path, corpus: Corpus, rng: random.Random, where: str, *, real_process: bool) -> None:
    """Everything that must hold right after a kill, before anything repairs it."""
    assert integrity_problems(db) == [], where
    assert partial_articles(db) == [], where
    assert corpus.stray_bodies(db) == [], where
    present = stored_article_numbers(db)
    probe = rng.sample(present, min(3, len(present)))
    if probe:  # `newsbot ask` faces the state the kill left, stale or half-written index file included
        code, out = run_newsbot("ask", unique_word(probe[0]), db=db, real_process=real_process)
        assert code == 0 and f"1. خبر {probe[0]}\n" in out, (where, out)
    assert fresh_engine_problems(db, probe) == [], where


def test_sigkill_during_ingest_and_reindex(tmp_path: Path, seed: int):
    rng = random.Random(seed)
    db = tmp_path / "news.db"
    corpus = Corpus(tmp_path / "corpus", ARTICLES, seed)
    # Earlier data: the sample article and the first file of the corpus, ingested whole.
    _, out = run_to_completion("ingest", "--quiet", str(SAMPLE), str(corpus.folder / "part0.jsonl"), db=db)
    assert out.returncode == 0, out.stderr
    startup = import_seconds()
    full_run, out = run_to_completion("ingest", "--quiet", str(corpus.folder), db=db)
    assert out.returncode == 0, out.stderr

    # --- ingest: 5 % of the articles edited before each run, so runs both add and update ---
    kills = attempts = 0
    phases: Counter[str] = Counter()
    while kills < KILLS:
        attempts += 1
        assert attempts < KILLS * 3, f"runs kept finishing before the kill (seed {seed})"
        corpus.edit(0.05, edit=attempts)
        generation = meta(db, "content_generation")
        finished = kill_at(("ingest", "--quiet", str(corpus.folder)), db, kill_delay(rng, startup, full_run))
        if finished is not None:  # too late: the run had ended; aim earlier (real runs re-measure upward)
            full_run = (full_run + finished) / 2
            continue
        kills += 1
        phases["ingest killed " + ingest_kill_phase(db, corpus, generation)] += 1
        where = f"ingest kill {kills} (NEWSBOT_CRASH_SEED={seed})"
        real = kills % CLI_EVERY == 0
        check_after_kill(db, corpus, rng, where, real_process=real)
        started = time.perf_counter()
        code, _ = run_newsbot("ingest", "--quiet", str(corpus.folder), db=db, real_process=real)
        if real:  # the machine is shared: follow how long a whole run takes now
            full_run = (full_run + time.perf_counter() - started) / 2
        assert code == 0, where
        assert corpus.stale_bodies(db) == [], f"re-run after {where} left articles behind"
        assert integrity_problems(db) == [] and partial_articles(db) == [], where
    ingest_attempts = attempts

    # --- reindex ---
    reindex_run, out = run_to_completion("reindex", db=db)
    assert out.returncode == 0, out.stderr
    kills = attempts = 0
    while kills < KILLS:
        attempts += 1
        assert attempts < KILLS * 3, f"reindex kept finishing before the kill (seed {seed})"
        index_before = meta(db, "index")
        finished = kill_at(("reindex",), db, kill_delay(rng, startup, reindex_run))
        if finished is not None:
            reindex_run = (reindex_run + finished) / 2
            continue
        kills += 1
        phases["reindex killed " + reindex_kill_phase(db, index_before)] += 1
        where = f"reindex kill {kills} (NEWSBOT_CRASH_SEED={seed})"
        check_after_kill(db, corpus, rng, where, real_process=kills % CLI_EVERY == 0)
        if kills % 5 == 0:  # re-running reindex completes (and tells how long a run takes now)
            spent, out = run_to_completion("reindex", db=db)
            assert out.returncode == 0 and "Traceback" not in out.stderr, (where, out.stderr)
            reindex_run = (reindex_run + spent) / 2
    print(f"crash tests: {KILLS} ingest kills ({ingest_attempts} runs started), {KILLS} reindex kills"
          f" ({attempts} runs started); {ARTICLES} articles; an ingest run takes ~{full_run:.1f} s, a reindex"
          f" ~{reindex_run:.1f} s, Python start-up and imports ~{startup:.1f} s")
    for phase, count in sorted(phases.items()):
        print(f"  {count:2d} x {phase}")


NRT_KILLS = int(os.environ.get("NEWSBOT_CRASH_NRT_KILLS", "8"))


def test_sigkill_during_near_real_time_adds_merges_and_tail_saves(tmp_path: Path, seed: int):
    """A serving process adding and updating articles (segments, deletion marks, tiered merges, tail-file
    saves, background merges into the base) killed at random moments: what it leaves opens, answers every
    committed article exactly once, and scores as a full rebuild of the database does."""
    from .test_nrt_oracle import check_against_rebuild

    rng = random.Random(seed + 2)
    db = tmp_path / "news.db"
    corpus = Corpus(tmp_path / "corpus", 400, seed)
    _, out = run_to_completion("ingest", "--quiet", str(SAMPLE), str(corpus.folder), db=db)
    assert out.returncode == 0, out.stderr
    writer = [sys.executable, "-m", "tests.nrt_writer", str(db), str(corpus.folder)]
    started = time.perf_counter()
    subprocess.run(writer, check=True, cwd=REPO, env=clean_env(), timeout=300)
    full_run = time.perf_counter() - started
    startup = import_seconds()
    kills = attempts = 0
    while kills < NRT_KILLS:
        attempts += 1
        assert attempts < NRT_KILLS * 3, f"runs kept finishing before the kill (seed {seed})"
        corpus.edit(0.05, edit=attempts)
        started = time.perf_counter()
        proc = subprocess.Popen(writer, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=clean_env(),
                                cwd=REPO)
        try:
            proc.wait(timeout=kill_delay(rng, startup, full_run))
            full_run = (full_run + time.perf_counter() - started) / 2
            continue
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        kills += 1
        where = f"near-real-time kill {kills} (NEWSBOT_CRASH_SEED={seed})"
        check_after_kill(db, corpus, rng, where, real_process=False)

        async def oracle() -> None:
            async with await SearchEngine.open(db, RetrievalConfig()) as engine:
                check_against_rebuild(engine)

        asyncio.run(oracle())
    print(f"crash tests: {NRT_KILLS} near-real-time kills ({attempts} runs started), a run ~{full_run:.1f} s")


FRESH_KILLS = 5


def test_sigkill_during_the_first_ingest_into_a_new_database(tmp_path: Path, seed: int):
    """Kills while the database file is being created and migrated, then filled for the first time."""
    rng = random.Random(seed + 1)
    corpus = Corpus(tmp_path / "corpus", 300, seed)
    startup = import_seconds()
    first_run, out = run_to_completion("ingest", "--quiet", str(corpus.folder), db=tmp_path / "measure.db")
    assert out.returncode == 0, out.stderr
    kills = attempts = 0
    fresh_states: Counter[str] = Counter()
    while kills < FRESH_KILLS:
        attempts += 1
        assert attempts < FRESH_KILLS * 3, f"runs kept finishing before the kill (seed {seed})"
        db = tmp_path / f"fresh-{attempts}.db"
        finished = kill_at(("ingest", "--quiet", str(corpus.folder)), db, kill_delay(rng, startup, first_run))
        if finished is not None:  # too late: the run had ended; aim earlier, as the tests above do
            first_run = (first_run + finished) / 2
            continue
        kills += 1
        where = f"fresh-database kill {kills} (NEWSBOT_CRASH_SEED={seed})"
        if db.exists():
            assert integrity_problems(db) == [], where
            with closing(sqlite3.connect(db)) as con:
                version = con.execute("PRAGMA user_version").fetchone()[0]
                tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if version == 0:  # killed before the migration committed: none of it may be there
                assert tables == set(), (where, tables)
                fresh_states["before the schema was committed"] += 1
            else:
                assert partial_articles(db) == [] and corpus.stray_bodies(db) == [], where
                fresh_states["after the schema was committed"] += 1
        else:
            fresh_states["before the database file existed"] += 1
        code, _ = run_newsbot("ingest", "--quiet", str(corpus.folder), db=db, real_process=False)
        assert code == 0 and corpus.stale_bodies(db) == [], where
        assert integrity_problems(db) == [] and partial_articles(db) == [], where
    print(f"crash tests: {FRESH_KILLS} kills of a first ingest into a new database ({attempts} runs started):",
          ", ".join(f"{n} x {state}" for state, n in sorted(fresh_states.items())))


INTERRUPTS = 6


def interrupt_at(args: tuple[str, ...], db: Path, delay: float) -> subprocess.CompletedProcess | float:
    """Start `newsbot args`, send SIGINT (Ctrl-C) after `delay` seconds; its duration if it finished first."""
    started = time.perf_counter()
    proc = subprocess.Popen(newsbot_cmd(*args, db=db), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=clean_env(), cwd=REPO)
    try:
        proc.communicate(timeout=delay)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)  # an interrupted newsbot must still exit, promptly
        return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
    return time.perf_counter() - started


def only_module_level_frames(traceback: str) -> bool:
    """Whether a traceback of the project's code is still in module imports, before `main` runs.

    The outermost project frame, if any, is the command's module being executed; below it there may be other
    modules being imported and whatever they run at import time (a class body, `_load_stopwords`),
    but never `main`, which turns Ctrl-C into the one-line message.
    """
    frames = re.findall(r'File "[^"]*/(?:bot|retrieval)/[^"]*", line \d+, in (\S+)', traceback)
    if not frames:  # still in Python's start-up or runpy, before any of ours
        return True
    return frames[0] == "<module>" and not {"main", "_run_command"} & set(frames)


# Python's own note when Ctrl-C lands inside asyncio's `loop.close()` as `asyncio.run` tears down:
# the loop is left half closed and its `__del__` complains at exit. Nothing of ours runs there.
_ASYNCIO_TEARDOWN_NOTE = re.compile(
    r"Exception ignored in: <function BaseEventLoop\.__del__ at 0x[0-9a-f]+>\n"
    r"Traceback \(most recent call last\):\n(?:  .*\n)+ValueError: Invalid file descriptor: -1\n?$")


def without_asyncio_teardown_note(stderr: str) -> str:
    return _ASYNCIO_TEARDOWN_NOTE.sub("", stderr)


def test_ctrl_c_during_ingest_and_reindex(tmp_path: Path, seed: int):
    """SIGINT instead of SIGKILL: the same guarantees, and a one-line message instead of a traceback."""
    rng = random.Random(seed + 2)
    db = tmp_path / "news.db"
    corpus = Corpus(tmp_path / "corpus", 300, seed)
    startup = import_seconds()
    first, out = run_to_completion("ingest", "--quiet", str(SAMPLE), str(corpus.folder), db=db)
    assert out.returncode == 0, out.stderr
    runs = {"ingest": first, "reindex": 0.8 * first}  # first guesses: the aim adapts below
    outcomes: Counter[str] = Counter()
    attempts = 0
    while sum(outcomes.values()) < INTERRUPTS:
        attempts += 1
        assert attempts < INTERRUPTS * 4, f"runs kept finishing before the interrupt (seed {seed})"
        corpus.edit(0.05, edit=attempts)
        args = ("ingest", "--quiet", str(corpus.folder)) if attempts % 2 else ("reindex",)
        result = interrupt_at(args, db, kill_delay(rng, startup, runs[args[0]]))
        if isinstance(result, float):  # finished first: aim earlier
            runs[args[0]] = (runs[args[0]] + result) / 2
            continue
        where = f"{args[0]} interrupt {attempts} (NEWSBOT_CRASH_SEED={seed})"
        if result.returncode == 130:
            stderr = without_asyncio_teardown_note(result.stderr)
            assert "interrupted" in stderr and "Traceback" not in stderr, (where, result.stderr)
            if stderr == result.stderr:
                outcomes["stopped with the one-line message (exit 130)"] += 1
            else:
                outcomes["stopped with the one-line message, Ctrl-C inside asyncio's loop.close()"] += 1
        elif result.returncode in (0, -signal.SIGINT) and result.stderr == "":
            # the signal came as the run was ending (asyncio already done, or Python shutting down and
            # SIGINT's default action back): the work must then be complete
            assert args[0] == "reindex" or corpus.stale_bodies(db) == [], where
            outcomes["arrived as the run was ending, its work complete"] += 1
        else:  # still importing Python modules: Python's own KeyboardInterrupt, before newsbot runs
            stderr = result.stderr.rstrip()
            # Python 3.11 wraps an exception raised inside a class's __set_name__ (pydantic builds the
            # Settings class that way) in a RuntimeError whose cause is the KeyboardInterrupt.
            wrapped = "\nKeyboardInterrupt\n" in stderr and "Error calling __set_name__" in stderr.splitlines()[-1]
            assert stderr.endswith("KeyboardInterrupt") or wrapped, (where, result.returncode, result.stderr)
            assert only_module_level_frames(result.stderr), (where, result.stderr)
            outcomes["interrupted while Python was still importing"] += 1
        assert integrity_problems(db) == [] and partial_articles(db) == [], where
        assert corpus.stray_bodies(db) == [], where
        assert fresh_engine_problems(db, rng.sample(stored_article_numbers(db), 2)) == [], where
    print(f"crash tests: {INTERRUPTS} Ctrl-C ({attempts} runs started):",
          ", ".join(f"{n} x {what}" for what, n in sorted(outcomes.items())))


# --- the persisted index file damaged in every way a crash or a disk can ---------------------------


def damaged_copies(good: bytes, rng: random.Random) -> dict[str, bytes]:
    n = len(good)
    copies = {"empty": b"", "garbage": rng.randbytes(n), "zip-of-nothing": _empty_zip()}
    for cut in sorted(rng.sample(range(1, n), 40)):
        copies[f"cut-at-{cut}"] = good[:cut]
    for pos in sorted(rng.sample(range(n), 120)):
        flipped = bytearray(good)
        flipped[pos] ^= 1 << rng.randrange(8)
        copies[f"bit-flip-at-{pos}"] = bytes(flipped)
    return copies


def _empty_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w"):
        pass
    return buf.getvalue()


def same_base(a: segmentfile.StoredBase, b: segmentfile.StoredBase) -> bool:
    return (a.vocabulary.ids == b.vocabulary.ids and a.params == b.params and a.log_seq == b.log_seq
            and a.segment.ref_avgdl == b.segment.ref_avgdl
            and all(np.array_equal(getattr(a.segment, f), getattr(b.segment, f)) for f in
                    ("offsets", "doc_ids", "codes", "pair_tf", "pair_dl", "doc_len", "passage_ids", "article_ids",
                     "ref_max", "live")))


def test_damaged_index_file_is_refused_or_identical_never_wrong(tmp_path: Path, seed: int):
    """load_segment on each damaged copy raises OSError/ValueError (what ensure_index catches) or loads the same."""
    rng = random.Random(seed)
    corpus = Corpus(tmp_path / "corpus", 200, seed)
    db = tmp_path / "news.db"
    _, out = run_to_completion("ingest", "--quiet", str(SAMPLE), str(corpus.folder), db=db)
    assert out.returncode == 0, out.stderr
    index_path = db.with_name(db.name + ".index.npz")
    good_bytes = index_path.read_bytes()
    good = segmentfile.load_segment(index_path)
    copies = damaged_copies(good_bytes, rng)
    refused = identical = 0
    for name, data in copies.items():
        index_path.write_bytes(data)
        try:
            loaded = segmentfile.load_segment(index_path)
        except (OSError, ValueError):
            refused += 1
            continue
        assert same_base(loaded, good), f"{name} loaded as a different index (seed {seed})"
        identical += 1
    assert refused + identical == len(copies) and refused > len(copies) // 2
    # And through the engine: a damaged file is rebuilt, answers are right.
    for name in rng.sample(sorted(copies), 8):
        index_path.write_bytes(copies[name])
        assert fresh_engine_problems(db, rng.sample(range(200), 3)) == [], (name, seed)
        assert segmentfile.load_segment(index_path).segment.size == good.segment.size  # rewritten whole


def test_index_file_with_consistent_zip_but_impossible_arrays_is_refused(tmp_path: Path, seed: int):
    corpus = Corpus(tmp_path / "corpus", 50, seed)
    db = tmp_path / "news.db"
    _, out = run_to_completion("ingest", "--quiet", str(SAMPLE), str(corpus.folder), db=db)
    assert out.returncode == 0, out.stderr
    index_path = db.with_name(db.name + ".index.npz")
    with np.load(index_path) as data:
        good = {name: data[name] for name in data.files if name != "checksum"}
    n = good["doc_len"].shape[0]
    tampered = {
        "doc id past the end": {"doc_ids": good["doc_ids"] + n},
        "negative doc id": {"doc_ids": good["doc_ids"] - n},
        "offsets too short": {"offsets": good["offsets"][:-1]},
        "offsets decreasing": {"offsets": good["offsets"][::-1].copy()},
        "missing passage ids": {"passage_ids": good["passage_ids"][:-1]},
        "codes as text": {"codes": np.array(["x"] * good["codes"].shape[0])},
        "code past the table": {"codes": good["codes"] + np.uint32(good["pair_tf"].shape[0])},
        "passage ids out of order": {"passage_ids": good["passage_ids"][::-1].copy()},
    }
    for name, change in tampered.items():
        members = {**good, **change}
        # A correct checksum of impossible content: the consistency check, not the checksum, must refuse it.
        with open(index_path, "wb") as fh:
            np.savez(fh, checksum=np.array([indexfile.content_checksum(members)], dtype=np.int64), **members)
        with pytest.raises(ValueError, match="damaged index file"):
            segmentfile.load_segment(index_path)
        assert fresh_engine_problems(db, [0, 7, 49]) == [], name
