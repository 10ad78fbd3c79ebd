"""The worker process that parses feeds and extracts articles, away from the bot's event loop.

In threads of the bot's process, parsing and extraction would compete with the event loop for the GIL
(docs/feeds.md: questions asked during a poll waited p99 ~1.3 s that way, ~21 ms with this process).
"""

from __future__ import annotations

import asyncio
import atexit
import multiprocessing
import os
import threading
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from .extract import worker_init

# One worker process for parsing and extraction (two on machines with more than two cores), shared by
# every poller of the process and started on first use. Spawned, not forked: the bot's process has
# threads (SQLite connections, PTB) that a fork would copy in whatever state they were.
_POOL: ProcessPoolExecutor | None = None
_POOL_LOCK = threading.Lock()
WORKERS = 1 if (os.cpu_count() or 1) <= 2 else 2


def _pool() -> ProcessPoolExecutor:
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            _POOL = ProcessPoolExecutor(WORKERS, mp_context=multiprocessing.get_context("spawn"),
                                        max_tasks_per_child=2000, initializer=worker_init,
                                        initargs=(os.getpid(),))
        return _POOL


def _drop_pool(broken: ProcessPoolExecutor | None = None) -> None:
    global _POOL
    with _POOL_LOCK:
        if broken is not None and _POOL is not broken:
            return  # already replaced
        pool, _POOL = _POOL, None
    if pool is not None:
        pool.shutdown(wait=False, cancel_futures=True)


atexit.register(_drop_pool)


async def in_worker(fn: Callable, *args: object) -> object:
    """`fn(*args)` in the worker process; a worker that died (a page that crashed lxml, the OOM
    killer) is replaced, and the job is retried once in the new one."""
    for attempt in (1, 2):
        pool = _pool()
        try:
            return await asyncio.get_running_loop().run_in_executor(pool, fn, *args)
        except BrokenProcessPool:
            _drop_pool(pool)
            if attempt == 2:
                raise
    raise AssertionError("unreachable")
