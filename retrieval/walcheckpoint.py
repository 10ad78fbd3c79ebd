"""The WAL checkpoint taken off the add: run in the background after a write instead of inside its commit.

SQLite in WAL mode copies the log back into the database file (a checkpoint) from inside the
COMMIT that takes the log past `wal_autocheckpoint` pages (1000 by default): about one add of
~100 passages in 20 paid ~110 ms for it (1000 pages of 16 KiB written and synced), ten times
the add itself. The engine's writer raises its own threshold to `BACKSTOP_PAGES`, and once an
ingest (or a batch of a long one) brings the passages written since the last checkpoint to
`CHECKPOINT_PASSAGES`, `WalCheckpointer.kick` starts a PASSIVE checkpoint on a connection of its
own in a worker thread: it copies what is committed without taking the write lock or waiting for
readers, so writes and questions go on meanwhile, and with two cores it runs beside them.

Why this keeps the guarantees:
- Crash safety is SQLite's: a checkpoint only copies committed pages and the log stays the
  authority until a later writer restarts it, so a SIGKILL at any point of one leaves a file
  that opens with every commit in it (tests/test_crash.py kills ingests at random points).
- The log cannot grow without bound: at most one checkpoint runs at a time and writes past the
  threshold start another once it ends, so the log holds what was written since the last one
  began plus fewer than `CHECKPOINT_PASSAGES` passages; if checkpoints cannot run at all (a
  failure, logged), the writer's own automatic checkpoint at `BACKSTOP_PAGES` (128 MiB of log)
  still bounds it. Other connections (the bot's, another process's `newsbot ingest`) keep
  SQLite's default threshold.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from pathlib import Path

import aiosqlite

log = logging.getLogger(__name__)

# The writer's own automatic checkpoint: reached only if the background ones fall behind or fail.
BACKSTOP_PAGES = 8000
# Passages written before a checkpoint is worth starting (~250 pages of log, ~4 MiB): the adds of single
# articles share one instead of each paying a checkpoint (and a restart of the log) of its own.
CHECKPOINT_PASSAGES = 400


class WalCheckpointer:
    """Background PASSIVE checkpoints of one database file, at most one at a time."""

    def __init__(self, db_path: str | Path) -> None:
        self.db_path = str(db_path)
        self._con: sqlite3.Connection | None = None
        self._task: asyncio.Future[None] | None = None
        self._again = False  # a write came while a checkpoint ran: another follows it
        self._pending = 0  # passages written since the last checkpoint started
        self._closed = False
        self.runs = 0  # checkpoints run (tests, benchmarks)
        self.last: tuple[int, int, int] | None = None  # (busy, log frames, frames checkpointed) of the last

    @property
    def enabled(self) -> bool:
        return self.db_path != ":memory:"

    async def attach(self, writer: aiosqlite.Connection) -> None:
        """Move the writer's automatic checkpoint out of the way of its commits (see the module's docstring)."""
        if self.enabled:
            await writer.execute(f"PRAGMA wal_autocheckpoint={BACKSTOP_PAGES}")

    def wrote(self, passages: int) -> None:
        """Count passages committed (written or deleted) towards the next checkpoint."""
        self._pending += passages

    def kick(self) -> None:
        """Checkpoint what was committed in the background (after the running one, if any), once
        `CHECKPOINT_PASSAGES` were written since the last one started."""
        if not self.enabled or self._closed or self._pending < CHECKPOINT_PASSAGES:
            return
        self._pending = 0
        if self._task is not None and not self._task.done():
            self._again = True
            return
        self._task = asyncio.ensure_future(self._run())

    async def _run(self) -> None:
        while True:
            self._again = False
            try:
                self.last = await asyncio.to_thread(self._checkpoint)
                self.runs += 1
            except Exception:  # only an optimisation: the writer's backstop still checkpoints
                log.exception("background WAL checkpoint failed")
                return
            if not self._again or self._closed:
                return

    def _checkpoint(self) -> tuple[int, int, int]:
        if self._con is None:
            # Autocommit; its own busy timeout: a PASSIVE checkpoint never waits on the write lock, only
            # briefly on another checkpointer (another process's automatic one).
            self._con = sqlite3.connect(self.db_path, isolation_level=None, check_same_thread=False)
            self._con.execute("PRAGMA busy_timeout=1000")
        busy, frames, done = self._con.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        return int(busy), int(frames), int(done)

    async def settled(self) -> None:
        """Wait for the checkpoints in flight (benchmarks, tests)."""
        while self._task is not None and not self._task.done():
            await asyncio.wait([self._task])

    async def close(self) -> None:
        """Let a running checkpoint finish (its thread holds the connection), then close the connection."""
        self._closed = True
        await self.settled()
        if self._con is not None:
            self._con.close()
            self._con = None
