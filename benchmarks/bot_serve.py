"""The bot process of `benchmarks/bot_path.py`: `bot.app.serve` with timers, until SIGTERM.

Run as a script (`python benchmarks/bot_serve.py ...`), not as `-m`: it imports
only `bot`, `retrieval` and `telegram`, so `PYTHONPATH` can point it at another
checkout of the code (the A/B comparison of `bot_path.py --baseline-code`).

It runs exactly what `newsbot run` runs (`bot.app.serve(settings)`: the
engine, `build_application`, the production rate limiter, long polling), with
the product's own timing hook (`bot.timing`: the handlers note, per update,
each part's start and end on the monotonic clock shared by every process of
the machine) collecting into `Timings`; they are written as JSON when the bot
stops.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import inspect
import json
import logging
import sys
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path


class Timings:
    """Per update: (part, start, end) on the monotonic clock, as `bot.timing` hands them over."""

    def __init__(self) -> None:
        self.parts: dict[int, list[tuple[str, float, float]]] = defaultdict(list)

    def __call__(self, update_id: int, spans: list[tuple[str, float, float]]) -> None:
        self.parts[update_id].extend(spans)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="The bot, timed (run by benchmarks/bot_path.py).")
    p.add_argument("--db", type=Path, required=True)
    p.add_argument("--api-url", required=True)
    p.add_argument("--token", required=True)
    p.add_argument("--timings-out", type=Path, required=True)
    p.add_argument("--profile-out", type=Path)
    args = p.parse_args(argv)

    from bot.app import serve
    from bot.settings import load_settings

    logging.basicConfig(level=logging.WARNING)
    settings = load_settings(telegram_bot_token=args.token, bot_api_url=args.api_url, db=args.db,
                             data_dir=args.db.parent, log_level="WARNING")
    timings = Timings()
    # A checkout from before the timing hook (an A/B baseline) runs untimed: latencies only.
    timed = "timings" in inspect.signature(serve).parameters
    profiler = cProfile.Profile() if args.profile_out else None
    if profiler:
        profiler.enable()
    try:
        asyncio.run(serve(settings, timings=timings) if timed else serve(settings))
    finally:
        if profiler:
            profiler.disable()
            profiler.dump_stats(args.profile_out)
        args.timings_out.write_text(json.dumps({str(k): v for k, v in timings.parts.items()}), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
