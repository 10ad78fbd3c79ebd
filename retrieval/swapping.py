"""The swap of a new base beside the event loop: a thread of its own at low priority, short GIL turns.

`IndexUpkeep` (retrieval/upkeep.py) loads and applies a merged base here while questions keep being
answered on the loop's thread.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import os
import sys
import threading
from collections.abc import Callable, Iterator
from typing import TypeVar

from . import indexer

T = TypeVar("T")

# While a new base is loaded and applied in a worker thread, the interpreter hands the GIL over
# every millisecond rather than every 5: each time a question needs the GIL back (after each
# SQLite hop, each kernel call that released it) it waits at most that long for the loading thread.
SWAP_SWITCH_INTERVAL = 0.001
_short_switch_users = 0
_normal_switch_interval = 0.0


async def in_swap_thread(fn: Callable[[], T]) -> T:
    """`fn()` in a thread of its own at the build child's niceness (Linux: a thread's own priority).

    Loading and warming a new base is ~0.5 s of work beside the event loop; on a busy core (or one
    it shares with the build child) the loop's thread, at normal priority, then preempts it as soon
    as a question comes instead of waiting out its time slice.
    """
    def lower() -> None:
        if sys.platform == "linux":  # elsewhere PRIO_PROCESS with a thread id would name a process
            me = threading.get_native_id()
            with contextlib.suppress(OSError):  # never raised above what the process has
                os.setpriority(os.PRIO_PROCESS, me, max(os.getpriority(os.PRIO_PROCESS, me), indexer.CHILD_NICENESS))

    pool = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="index-swap", initializer=lower)
    try:
        return await asyncio.get_running_loop().run_in_executor(pool, fn)
    finally:
        pool.shutdown(wait=False)


@contextlib.contextmanager
def short_switches() -> Iterator[None]:
    """`SWAP_SWITCH_INTERVAL` for the duration; nested or concurrent uses restore it once, at the last exit."""
    global _short_switch_users, _normal_switch_interval
    if _short_switch_users == 0:
        _normal_switch_interval = sys.getswitchinterval()
        sys.setswitchinterval(min(_normal_switch_interval, SWAP_SWITCH_INTERVAL))
    _short_switch_users += 1
    try:
        yield
    finally:
        _short_switch_users -= 1
        if _short_switch_users == 0:
            sys.setswitchinterval(_normal_switch_interval)
