"""The thread that loads a merged base beside the event loop runs at the build child's niceness."""

from __future__ import annotations

import asyncio
import os
import sys
import threading

import pytest

from retrieval import indexer, swapping


def niceness() -> int:
    return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())


@pytest.mark.skipif(sys.platform != "linux", reason="a thread's own priority is Linux's")
def test_the_swap_thread_is_niced_and_the_loop_is_not() -> None:
    before = niceness()

    async def run() -> tuple[int, int, str]:
        got = await swapping.in_swap_thread(lambda: (niceness(), threading.get_native_id(),
                                                    threading.current_thread().name))
        return got[0], got[1], got[2]

    nice, tid, name = asyncio.run(run())
    assert tid != threading.get_native_id() and name.startswith("index-swap")
    assert nice == max(before, indexer.CHILD_NICENESS)
    assert niceness() == before


def test_an_error_in_the_swap_thread_reaches_the_caller() -> None:
    def fail() -> None:
        raise ValueError("damaged index file")

    with pytest.raises(ValueError, match="damaged index file"):
        asyncio.run(swapping.in_swap_thread(fail))
