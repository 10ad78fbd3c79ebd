"""Where each update's time goes: an optional hook on the application.

`build_application(..., timings=sink)` adds two handlers of python-telegram-bot's
own kind: a `TypeHandler` in group `FIRST_GROUP`, which runs before any other
handler and gives the update's context a `PartTimer`, and one in group
`LAST_GROUP`, which runs after the update's handlers have returned and hands the
timer's spans to `sink(update_id, spans)`. Each span is (part, start, end) on
`time.perf_counter`, the monotonic clock every process of the machine shares,
so a process feeding the bot updates can line them up with its own clock.

The handlers mark their parts (`with context.timer.part("search"):`); without a
sink they get `NO_TIMER`, whose parts cost a method call each. The parts the
answer path marks are listed in `ANSWER_PARTS`; "handler" spans from the first
group to the last. `newsbot run` at log level DEBUG logs each update's parts
(`log_sink`); `benchmarks/bot_path.py` collects them to break the answer time down.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterator

from telegram import Update
from telegram.ext import Application, TypeHandler

log = logging.getLogger(__name__)

Span = tuple[str, float, float]
TimingSink = Callable[[int, list[Span]], None]

FIRST_GROUP = -1_000  # before every handler group the bot uses
LAST_GROUP = 1_000  # after them
HANDLER = "handler"
ANSWER_PARTS = ("typing action", "search", "question log", "format answer", "send reply")


class PartTimer:
    """The spans of one update's parts, in the order they ended."""

    def __init__(self, update_id: int) -> None:
        self.update_id = update_id
        self.started = time.perf_counter()
        self.spans: list[Span] = []

    @contextlib.contextmanager
    def part(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.spans.append((name, start, time.perf_counter()))


class _NoTimer(PartTimer):
    """Times nothing: the timer of every update when no sink is installed."""

    def __init__(self) -> None:
        super().__init__(-1)

    @contextlib.contextmanager
    def part(self, name: str) -> Iterator[None]:
        yield


NO_TIMER: PartTimer = _NoTimer()


def install(app: Application, sink: TimingSink) -> None:
    """Time every update `app` handles from now on and pass its spans to `sink`.

    A handler added with `block=False` runs beside the update queue: its parts end after the last
    group has run, so they are not seen (the answer path's handlers all block).
    """

    async def open_timer(update: object, context: object) -> None:
        if isinstance(update, Update):
            context.timer = PartTimer(update.update_id)  # type: ignore[attr-defined]

    async def close_timer(update: object, context: object) -> None:
        timer: PartTimer | None = getattr(context, "timer", None)
        if timer is None or timer is NO_TIMER:
            return
        timer.spans.append((HANDLER, timer.started, time.perf_counter()))
        try:
            sink(timer.update_id, timer.spans)
        except Exception:  # a broken observer must not break the bot
            log.exception("the timing sink failed")

    app.add_handler(TypeHandler(Update, open_timer), group=FIRST_GROUP)
    app.add_handler(TypeHandler(Update, close_timer), group=LAST_GROUP)


def log_sink(update_id: int, spans: list[Span]) -> None:
    """Log one line per update: each part's milliseconds (at DEBUG)."""
    if log.isEnabledFor(logging.DEBUG):
        parts = ", ".join(f"{name} {1000 * (end - start):.1f} ms" for name, start, end in spans)
        log.debug("update %d: %s", update_id, parts)
