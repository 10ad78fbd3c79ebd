"""How an ingest runs: the garbage collector paused and restored, batches overlapping writes only on several cores."""

from __future__ import annotations

import asyncio
import gc
from pathlib import Path

import pytest

from retrieval import ingest as ingest_module
from retrieval.engine import SearchEngine, _CollectorPause

from .conftest import NEWS, write_jsonl


@pytest.fixture(autouse=True)
def collector_on():
    was = gc.isenabled()
    gc.enable()
    yield
    (gc.enable if was else gc.disable)()


async def test_off_during_an_ingest_and_on_after(tmp_path: Path):
    seen = []
    async with await SearchEngine.open(tmp_path / "db.sqlite") as engine:
        report = await engine.ingest_paths([write_jsonl(tmp_path / "a.jsonl", NEWS)],
                                           lambda files, done: seen.append(gc.isenabled()))
    assert report.added == 3
    assert seen == [False]
    assert gc.isenabled()


async def test_on_again_after_an_ingest_that_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    def broken(*args, **kwargs):
        raise RuntimeError("analysis failed")

    monkeypatch.setattr(ingest_module, "prepare", broken)
    async with await SearchEngine.open(tmp_path / "db.sqlite") as engine:
        with pytest.raises(RuntimeError, match="analysis failed"):
            await engine.ingest_paths([write_jsonl(tmp_path / "a.jsonl", NEWS)])
    assert gc.isenabled()


async def test_on_again_after_an_ingest_that_is_cancelled(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    started = asyncio.Event()
    real_write = ingest_module.store.write_articles

    async def slow_write(*args, **kwargs):
        started.set()
        await asyncio.sleep(30)
        return await real_write(*args, **kwargs)

    monkeypatch.setattr(ingest_module.store, "write_articles", slow_write)
    async with await SearchEngine.open(tmp_path / "db.sqlite") as engine:
        task = asyncio.ensure_future(engine.ingest_paths([write_jsonl(tmp_path / "a.jsonl", NEWS)]))
        await started.wait()
        assert not gc.isenabled()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert gc.isenabled()


def test_left_off_if_it_was_off_and_restored_once_by_the_last_of_overlapping_pauses():
    pause = _CollectorPause()
    gc.disable()
    with pause:
        assert not gc.isenabled()
    assert not gc.isenabled()  # the application had it off: it stays off
    gc.enable()
    pause.__enter__()
    pause.__enter__()  # a second ingest begins while the first runs
    pause.__exit__(None, None, None)
    assert not gc.isenabled()  # one is still running
    pause.__exit__(None, None, None)
    assert gc.isenabled()


@pytest.mark.parametrize("cores", [1, 2])
async def test_batches_are_prepared_during_writes_only_with_more_than_one_core(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cores: int):
    # On one core preparing the next batch while SQLite writes this one cannot overlap: the two
    # threads only take turns (measured ~9% slower); with more cores they overlap.
    writing = []
    prepared_while_writing = []
    real_write, real_prepare = ingest_module._write_batch, ingest_module.prepare

    async def write(*args, **kwargs):
        writing.append(True)
        try:
            await asyncio.sleep(0.05)  # room for the next batch to be prepared meanwhile
            return await real_write(*args, **kwargs)
        finally:
            writing.pop()

    def prepare(*args, **kwargs):
        prepared_while_writing.append(bool(writing))
        return real_prepare(*args, **kwargs)

    monkeypatch.setattr(ingest_module, "_usable_cores", lambda: cores)
    monkeypatch.setattr(ingest_module, "INGEST_BATCH", 1)
    monkeypatch.setattr(ingest_module, "_write_batch", write)
    monkeypatch.setattr(ingest_module, "prepare", prepare)
    async with await SearchEngine.open(tmp_path / "db.sqlite") as engine:
        report = await engine.ingest_paths([write_jsonl(tmp_path / "a.jsonl", NEWS)])
    assert report.added == 3 and len(prepared_while_writing) == 3
    assert any(prepared_while_writing) == (cores > 1)


@pytest.mark.parametrize(("batch", "hops"), [(2, 2), (3, 2), (4, 1)])
async def test_a_short_batch_is_the_last_one_asked_of_a_thread(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, batch: int, hops: int):
    # A batch that comes out shorter than INGEST_BATCH exhausted the records: no thread is asked
    # for a next one only to find nothing (a small add's ~0.1-0.3 ms). A full one may have more.
    async with await SearchEngine.open(tmp_path / "db.sqlite") as engine:
        monkeypatch.setattr(ingest_module, "INGEST_BATCH", batch)
        calls = []
        real_to_thread = asyncio.to_thread

        def to_thread(f, *args, **kwargs):
            calls.append(getattr(f, "__name__", ""))
            return real_to_thread(f, *args, **kwargs)

        monkeypatch.setattr(ingest_module.asyncio, "to_thread", to_thread)
        report = await engine.ingest_paths([write_jsonl(tmp_path / "a.jsonl", NEWS)], rebuild=False)
        monkeypatch.undo()
    assert report.added == 3
    assert calls.count("next_batch") == hops
