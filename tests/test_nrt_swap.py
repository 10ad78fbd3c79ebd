"""What a merged base's swap leaves off the event loop: the vocabulary read in pieces, derived
structures built before the snapshot is swapped in, the rebuild child at a lower priority."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from retrieval import indexer, rerank, segmentfile, swapping
from retrieval.engine import RetrievalConfig, SearchEngine

TERM = st.text(alphabet=st.characters(blacklist_characters="\n", blacklist_categories=("Cs",)), max_size=12)


@settings(max_examples=200, deadline=None)
@given(terms=st.lists(TERM, max_size=60), chunk=st.integers(1, 40))
def test_split_terms_equals_one_decode_and_split(terms: list[str], chunk: int) -> None:
    raw = "\n".join(terms).encode()
    old = segmentfile._TERMS_CHUNK
    segmentfile._TERMS_CHUNK = chunk  # pieces of a few bytes: every boundary case, a multi-byte letter at a cut
    try:
        assert segmentfile.split_terms(raw) == (raw.decode().split("\n") if raw else [])
    finally:
        segmentfile._TERMS_CHUNK = old


def test_split_terms_rejects_damaged_utf8() -> None:
    raw = "كلمة\nأخرى".encode()
    damaged = raw[:3] + b"\xff" + raw[4:]
    try:
        segmentfile.split_terms(damaged)
    except UnicodeDecodeError:
        return
    raise AssertionError("damaged UTF-8 decoded")


def test_swapped_in_index_has_its_article_layout(tmp_path: Path) -> None:
    """After a rebuild and after a refresh, every view's article layout is already derived (not by a question)."""
    async def run() -> None:
        async with await SearchEngine.open(tmp_path / "news.db", RetrievalConfig()) as engine:
            for i in range(3):
                text = "\n\n".join(f"خبر رقم {i} عن الاقتصاد والسياسة في المنطقة " * 8 for _ in range(2))
                await engine.ingest_bytes(json.dumps({"id": f"a{i}", "text": text}).encode(), "a.json")
            await engine.rebuild_index()
            for view in engine.index.views:
                assert view.kept("article_layout") is not None
            await engine.ingest_bytes(json.dumps({"id": "new", "text": "مقال جديد " * 70}).encode(), "b.json")
            live = engine.index
            assert len(live.views) >= 1
            for view in live.views:
                layout = view.kept("article_layout")
                assert layout is not None
                assert (layout.order == rerank.ArticleLayout.of(view).order).all()

    asyncio.run(run())


def test_the_index_child_runs_at_a_lower_priority() -> None:
    # The module run as the engine runs it (`python -m retrieval.indexer`), on a database that does
    # not exist: the build fails, and the process then reports the niceness it was left with.
    script = ("import os, runpy, sys\n"
              "sys.argv = ['retrieval.indexer', '/nonexistent/news.db', '/nonexistent/out.npz', '{}']\n"
              "try:\n    runpy.run_module('retrieval.indexer', run_name='__main__')\n"
              "except BaseException:\n    pass\n"
              "print(os.nice(0))\n")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         cwd=Path(__file__).resolve().parent.parent, check=True)
    assert int(out.stdout.strip().splitlines()[-1]) == min(os.nice(0) + indexer.CHILD_NICENESS, 19)


def test_read_members_equals_np_load(tmp_path: Path) -> None:
    arrays = {"ints": np.arange(1000, dtype=np.int64), "flags": np.arange(7) % 2 == 0,
              "empty": np.empty(0, dtype=np.float32), "scalar": np.array(3.5),
              "text": np.frombuffer("كلمة".encode(), np.uint8),
              "matrix": np.asfortranarray(np.arange(12, dtype=np.uint32).reshape(3, 4))}
    path = tmp_path / "x.npz"
    np.savez(path, **arrays)
    got = segmentfile.read_members(path)
    assert got.keys() == arrays.keys()
    for name, want in arrays.items():
        assert got[name].dtype == want.dtype and got[name].shape == want.shape
        assert np.array_equal(got[name], want)


def test_read_members_refuses_a_header_larger_than_its_member(tmp_path: Path) -> None:
    path = tmp_path / "x.npz"
    np.savez(path, a=np.arange(10, dtype=np.int64))
    data = path.read_bytes()
    # The .npy header's shape says 10 elements: claim 90 within the same member size.
    path.write_bytes(data.replace(b"(10,)", b"(90,)", 1))
    with pytest.raises(ValueError, match="does not match its size"):
        segmentfile.read_members(path)


def test_short_switches_restore_the_interval_once_at_the_last_exit() -> None:
    normal = sys.getswitchinterval()
    first, second = swapping.short_switches(), swapping.short_switches()
    first.__enter__()
    assert sys.getswitchinterval() == min(normal, swapping.SWAP_SWITCH_INTERVAL)
    second.__enter__()
    first.__exit__(None, None, None)  # interleaved: the other swap is still loading
    assert sys.getswitchinterval() == min(normal, swapping.SWAP_SWITCH_INTERVAL)
    second.__exit__(None, None, None)
    assert sys.getswitchinterval() == normal


def test_a_rebuild_leaves_the_switch_interval_as_it_was(tmp_path: Path) -> None:
    normal = sys.getswitchinterval()

    async def run() -> None:
        async with await SearchEngine.open(tmp_path / "news.db", RetrievalConfig()) as engine:
            await engine.ingest_bytes(json.dumps({"id": "a", "text": "خبر عن الاقتصاد " * 40}).encode(), "a.json")
            await engine.rebuild_index()
            assert engine.index.n_passages >= 1

    asyncio.run(run())
    assert sys.getswitchinterval() == normal
