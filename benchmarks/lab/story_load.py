"""The story index's memory: loading it from a database, and the first article added after.

Python's allocations (tracemalloc; numpy reports its arrays to it) while `StoryKeeper` loads the
LSH index of every stored signature, as a serving engine does when it opens, then while it groups
one stored article again (an edit, as an add would): what the index keeps, the peak of loading
above that, and the peak of the add. The add writes a story row: the script works on a copy.

    .venv/bin/python -m benchmarks.lab.story_load --db /tmp/newsbot-ingest-ab/ab-this.db
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Sequence
from pathlib import Path
from zoneinfo import ZoneInfo

from retrieval import newsstore, store, storygroups


async def measure(db: Path) -> dict:
    con = await store.connect(db)
    try:
        keeper = storygroups.StoryKeeper(ZoneInfo("Asia/Riyadh"))
        row = (await con.execute_fetchall("SELECT id, title, body, published FROM articles LIMIT 1"))[0]
        tracemalloc.start()
        cpu = time.process_time()
        await keeper.load(con)
        cpu = time.process_time() - cpu
        kept, peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        await keeper.update(con, [tuple(row)])
        _, add_peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        return {"articles": await newsstore.story_count(con), "load_cpu_s": cpu, "kept_mib": kept / 2**20,
                "load_peak_above_kept_mib": (peak - kept) / 2**20, "add_peak_above_kept_mib": (add_peak - kept) / 2**20}
    finally:
        await con.close()


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="The story index's memory: load, and the first add after.")
    p.add_argument("--db", type=Path, required=True, help="a database with story rows (it is copied, not changed)")
    args = p.parse_args(argv)
    if not args.db.exists():
        p.error(f"--db {args.db}: no such file")
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "news.db"
        shutil.copyfile(args.db, copy)
        wal = Path(f"{args.db}-wal")
        if wal.exists():
            shutil.copyfile(wal, Path(f"{copy}-wal"))
        out = asyncio.run(measure(copy))
    print(f"{out['articles']:,} articles: load {out['load_cpu_s']:.2f} s CPU, the index keeps {out['kept_mib']:.1f} MiB"
          f" (allocated; its spare room is not resident until used), loading peaks"
          f" {out['load_peak_above_kept_mib']:.1f} MiB above that, the first add"
          f" {out['add_peak_above_kept_mib']:.2f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
