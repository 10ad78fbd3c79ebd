"""The bot process of `benchmarks/bot_path.py`: `bot.app.serve` with timers, until SIGTERM.

Run as a script (`python benchmarks/bot_serve.py ...`), not as `-m`: it imports
only `bot`, `retrieval` and `telegram`, so `PYTHONPATH` can point it at another
checkout of the code (the A/B comparison of `bot_path.py --baseline-code`).

It runs exactly what `newsbot run` runs (`bot.app.serve(settings)`: the
engine, `build_application`, the production rate limiter, long polling) after
wrapping the handlers and the parts of the answer path in timers that note,
per update, each part's start and end on the monotonic clock shared by every
process of the machine; they are written as JSON when the bot stops.
"""

from __future__ import annotations

import argparse
import asyncio
import contextvars
import cProfile
import functools
import json
import logging
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

# The update a handler is working on, so that nested timers can say which question they timed.
_UPDATE: contextvars.ContextVar[int] = contextvars.ContextVar("update", default=-1)


class Timings:
    """Per update: (part, start, end) on the monotonic clock (`time.perf_counter`)."""

    def __init__(self) -> None:
        self.parts: dict[int, list[tuple[str, float, float]]] = defaultdict(list)

    def wrap_async(self, name: str, fn: Callable[..., Any], *, handler: bool = False) -> Callable[..., Any]:
        @functools.wraps(fn)
        async def timed(*args: Any, **kwargs: Any) -> Any:
            token = _UPDATE.set(args[0].update_id) if handler else None
            start = time.perf_counter()
            try:
                return await fn(*args, **kwargs)
            finally:
                self.parts[_UPDATE.get()].append((name, start, time.perf_counter()))
                if token is not None:
                    _UPDATE.reset(token)
        return timed

    def wrap(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.parts[_UPDATE.get()].append((name, start, time.perf_counter()))
        return timed


def instrument(timings: Timings) -> None:
    """Timers on the module attributes the handlers look up at call time (patched before
    `build_application` registers the handlers, so the registered ones are the timed ones)."""
    import telegram

    from bot import formatting
    from bot import reader_handlers as handlers
    from retrieval.engine import SearchEngine

    for name in ("private_text", "ask_command", "inline_query"):
        setattr(handlers, name, timings.wrap_async("handler", getattr(handlers, name), handler=True))
    SearchEngine.search = timings.wrap_async("engine.search", SearchEngine.search)
    handlers.show_typing = timings.wrap_async("typing action", handlers.show_typing)
    handlers.log_question = timings.wrap_async("question log", handlers.log_question)
    formatting.answer_text = timings.wrap("format answer", formatting.answer_text)
    handlers.answer_keyboard = timings.wrap("format answer", handlers.answer_keyboard)
    handlers.hit_result = timings.wrap("format answer", handlers.hit_result)
    telegram.Message.reply_text = timings.wrap_async("send reply", telegram.Message.reply_text)
    telegram.InlineQuery.answer = timings.wrap_async("send reply", telegram.InlineQuery.answer)


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
    instrument(timings)
    profiler = cProfile.Profile() if args.profile_out else None
    if profiler:
        profiler.enable()
    try:
        asyncio.run(serve(settings))
    finally:
        if profiler:
            profiler.disable()
            profiler.dump_stats(args.profile_out)
        args.timings_out.write_text(json.dumps({str(k): v for k, v in timings.parts.items()}), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
