"""The answer path through the bot: update in → reply out, Telegram's network excluded.

The real bot runs in a child process exactly as `newsbot run` runs it
(`bot.app.serve(settings)`: `SearchEngine.open`, `build_application`, the
production rate limiter, long polling), against the stand-in Bot API server of
`tests/telegram_stub/` on 127.0.0.1 in this process. Questions are fed one at
a time, each from a new user (the per-user limit is 10 a minute) and at least
`--interval-ms` apart (the production limiter allows 30 requests a second and a
question costs two: the typing action and the answer). The stand-in answers a
waiting long poll as soon as an update is queued.

Per question, the latency is the time from the stand-in handing the update
out in a getUpdates answer to the stand-in receiving the reply (sendMessage or
answerInlineQuery), both on the machine's monotonic clock. The bot process
notes (on the same clock) when each handler starts and ends and how long each
part of it took, so the path is broken down into: PTB receiving and
dispatching the update, the typing action, `engine.search`, the question log
write, formatting, and PTB sending the reply.

    .venv/bin/python -m benchmarks.bot_path                        # 100k passages, 1000+200+200 questions
    .venv/bin/python -m benchmarks.bot_path --profile              # + cProfile of the bot process (slower)

The database (≥ `--passages` passages of `--corpus`, repeated under new ids if
needed) is built once through the real ingest path and cached in
`benchmarks/.cache/`; each run works on a copy, since the bot writes its
question log into it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextvars
import cProfile
import functools
import io
import json
import os
import pstats
import random
import shutil
import signal
import sqlite3
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks import eval as quality_eval
from benchmarks import perf
from retrieval.engine import RetrievalConfig

REPO = Path(__file__).resolve().parent.parent
RESULTS_DIR = REPO / "benchmarks" / "results"
TOKEN = "123456:ABC-bench-token_for_the_stub"
FIRST_USER = 500_000
FIRST_GROUP = -1_000_000_000_000


# --- the database -------------------------------------------------------------------------

def cached_database(corpus: Path, passages: int, cache_dir: Path) -> tuple[Path, int]:
    """A database of at least `passages` passages of `corpus`, built once per corpus and pipeline."""
    config = RetrievalConfig()
    key = quality_eval.cache_name("botpath", quality_eval.file_identity(corpus), str(passages),
                                  quality_eval.pipeline_key(config))
    db = cache_dir / f"{key}.db"
    if not db.with_name(db.name + ".done").exists():
        perf.log(f"building a database of {passages:,} passages from {corpus} (cached for later runs)")
        articles = perf.load_articles(corpus)
        chosen, total, passes = perf.sized_corpus(articles, passages, config)
        perf.log(f"  {len(chosen):,} articles, {total:,} passages ({passes} pass(es) over the corpus)")
        cache_dir.mkdir(parents=True, exist_ok=True)
        jsonl = cache_dir / f"{key}.jsonl"
        perf.write_jsonl(chosen, jsonl)
        try:
            asyncio.run(quality_eval.build_db(db, [jsonl], config))
        finally:
            jsonl.unlink(missing_ok=True)
    con = sqlite3.connect(db)
    try:
        # Everything into the main file: runs copy that file alone.
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        count = con.execute("SELECT COUNT(*) FROM passages").fetchone()[0]
    finally:
        con.close()
    return db, count


def copy_database(db: Path, workdir: Path) -> Path:
    target = workdir / "news.db"
    for suffix in ("", ".index.npz"):
        shutil.copy(f"{db}{suffix}", f"{target}{suffix}")
    return target


# --- the bot process ------------------------------------------------------------------------

# The update a handler is working on, so that nested timers can say which question they timed.
_UPDATE: contextvars.ContextVar[int] = contextvars.ContextVar("update", default=-1)


class Timings:
    """Per update: (part, start, end) on the monotonic clock shared by every process."""

    def __init__(self) -> None:
        self.parts: dict[int, list[tuple[str, float, float]]] = defaultdict(list)

    def wrap_async(self, name: str, fn: Callable[..., Any], *, handler: bool = False) -> Callable[..., Any]:
        @functools.wraps(fn)
        async def timed(*args: Any, **kwargs: Any) -> Any:
            token = None
            if handler:
                update = args[0]
                token = _UPDATE.set(update.update_id)
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
    """Timers around the handlers and the parts of the answer path (module attributes the handlers
    look up at call time, patched before `build_application` registers the handlers)."""
    import telegram

    from bot import formatting, handlers
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


def serve_bot(args: argparse.Namespace) -> int:
    """The child process: `bot.app.serve` (what `newsbot run` runs) with timers, until SIGTERM."""
    import logging

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


# --- the stand-in server and the questions ---------------------------------------------------

def stub_classes() -> tuple[type, type]:
    from tests.telegram_stub.server import FakeBotApi, User

    class ReplyWatchingBotApi(FakeBotApi):
        """The stand-in, resolving a future when the reply to a question arrives."""

        def __init__(self) -> None:
            super().__init__(token=TOKEN)
            self.waiting: dict[tuple, asyncio.Future] = {}

        def expect(self, key: tuple) -> asyncio.Future:
            future = asyncio.get_running_loop().create_future()
            self.waiting[key] = future
            return future

        def _record(self, call: Any) -> None:
            super()._record(call)
            key: tuple | None = None
            if call.method == "sendMessage" and "reply_parameters" in call.params:
                key = ("message", call.params["chat_id"], call.params["reply_parameters"].get("message_id"))
            elif call.method == "answerInlineQuery":
                key = ("inline", call.params["inline_query_id"])
            future = self.waiting.pop(key, None) if key else None
            if future is not None and not future.done():
                future.set_result(call)

    return ReplyWatchingBotApi, User


async def ask_all(fake: Any, user_cls: type, plan: Sequence[tuple[str, str]], interval: float,
                  reply_within: float, first: int = 0) -> list[dict]:
    """Feed each (kind, question) alone and wait for its reply; returns one record per question."""
    out = []
    for n, (kind, question) in enumerate(plan, start=first):
        pushed = time.perf_counter()
        user = user_cls(FIRST_USER + n, f"Reader {n}", "ar")
        if kind == "inline":
            query_id = fake.inline(user, question)
            key: tuple = ("inline", query_id)
        else:
            if kind == "private":
                chat = fake.private_chat(user)
                text = question
            else:
                chat = fake.group(FIRST_GROUP - n, f"group {n}")
                text = f"/ask {question}"
            message = fake.send(chat, user, text)
            key = ("message", chat.id, message["message_id"])
        update_id = fake._updates[-1]["update_id"] if fake._updates else None
        reply = await asyncio.wait_for(fake.expect(key), reply_within)
        if update_id is None:
            raise RuntimeError("the update was fetched before it could be noted")
        delivered = fake.delivered[update_id]
        text = reply.params.get("text", "")
        out.append({"kind": kind, "update_id": update_id, "delivered": delivered, "replied": reply.arrived,
                    "latency_ms": (reply.arrived - delivered) * 1000, "ok": reply.ok,
                    "answered": bool(reply.params.get("results")) if kind == "inline" else "<b>" in text})
        await asyncio.sleep(max(0.0, pushed + interval - time.perf_counter()))
    return out


def question_plan(questions: Sequence[str], private: int, group: int, inline: int,
                  seed: int = 7) -> list[tuple[str, str]]:
    kinds = ["private"] * private + ["group"] * group + ["inline"] * inline
    random.Random(seed).shuffle(kinds)
    return [(kind, questions[i % len(questions)]) for i, kind in enumerate(kinds)]


async def run_benchmark(db: Path, plan: list[tuple[str, str]], warmup: list[tuple[str, str]],
                        args: argparse.Namespace, workdir: Path) -> dict:
    stub_cls, user_cls = stub_classes()
    fake = stub_cls()
    await fake.start()
    timings_file = workdir / "timings.json"
    profile_file = workdir / "bot.prof" if args.profile else None
    cmd = [sys.executable, "-m", "benchmarks.bot_path", "--serve", "--db", str(db), "--api-url", fake.base_url,
           "--token", TOKEN, "--timings-out", str(timings_file)]
    if profile_file:
        cmd += ["--profile-out", str(profile_file)]
    started = time.perf_counter()
    child = await asyncio.create_subprocess_exec(*cmd, cwd=REPO)
    try:
        while not any(c.method == "getUpdates" for c in fake.calls):
            if child.returncode is not None:
                raise RuntimeError(f"the bot exited with {child.returncode} before polling")
            await asyncio.sleep(0.02)
        ready_s = time.perf_counter() - started
        perf.log(f"bot polling after {ready_s:.2f} s; {len(warmup)} warm-up questions")
        await ask_all(fake, user_cls, warmup, args.interval_ms / 1000, args.timeout)
        perf.log(f"{len(plan)} questions, one at a time, at least {args.interval_ms} ms apart")
        records = await ask_all(fake, user_cls, plan, args.interval_ms / 1000, args.timeout, first=len(warmup))
    finally:
        fake.end_long_polls()
        if child.returncode is None:
            child.send_signal(signal.SIGTERM)
        await asyncio.wait_for(child.wait(), 60)
        await fake.stop()
    if child.returncode != 0:
        raise RuntimeError(f"the bot exited with {child.returncode}")
    if fake.errors:
        raise RuntimeError(f"the stand-in server saw bad requests: {fake.errors[:5]}")
    parts = {int(k): v for k, v in json.loads(timings_file.read_text(encoding="utf-8")).items()}
    profile = top_functions(profile_file, args.profile_lines) if profile_file else None
    return {"ready_s": ready_s, "records": records, "parts": parts, "profile": profile}


def top_functions(profile_file: Path, lines: int) -> str:
    out = io.StringIO()
    stats = pstats.Stats(str(profile_file), stream=out)
    stats.sort_stats("tottime").print_stats(lines)
    return out.getvalue()


# --- figures -----------------------------------------------------------------------------------

def pct(values: Sequence[float]) -> dict[str, float]:
    a = np.asarray(values, dtype=float)
    return {"n": int(a.size), "p50": float(np.percentile(a, 50)), "p95": float(np.percentile(a, 95)),
            "p99": float(np.percentile(a, 99)), "max": float(a.max())}


# Parts of the handler, in the order they happen; "other" is the handler's own time between them.
PARTS = ("typing action", "engine.search", "question log", "format answer")


def breakdown(records: list[dict], parts: dict[int, list]) -> dict[str, dict[str, float]]:
    """Per question, where its milliseconds went (ms, medians and means over the questions)."""
    rows: dict[str, list[float]] = defaultdict(list)
    for r in records:
        spans = parts.get(r["update_id"], [])
        handler = [s for s in spans if s[0] == "handler"]
        send = [s for s in spans if s[0] == "send reply"]
        if not handler or not send:
            continue
        _, h_start, h_end = handler[0]
        send_start = send[0][1]
        rows["PTB: getUpdates answer → handler starts"].append((h_start - r["delivered"]) * 1000)
        inside = 0.0
        for part in PARTS:
            ms = sum(e - s for name, s, e in spans if name == part) * 1000
            rows[part].append(ms)
            inside += ms
        rows["handler, other"].append((send_start - h_start) * 1000 - inside)
        rows["PTB: reply sent → stand-in receives it"].append((r["replied"] - send_start) * 1000)
        rows["total (stand-in clock)"].append(r["latency_ms"])
        del h_end
    return {name: {"p50": statistics.median(v), "mean": statistics.fmean(v), "n": len(v)}
            for name, v in rows.items()}


def report_text(result: dict, passages: int, args: argparse.Namespace) -> str:
    records = result["records"]
    lines = [f"Answer path through the bot at {passages:,} passages ({len(records)} questions,"
             f" one at a time, ≥ {args.interval_ms} ms apart; load average {os.getloadavg()[0]:.1f}):", "",
             "| questions | n | answered | p50 ms | p95 ms | p99 ms | max ms |", "|---|---:|---:|---:|---:|---:|---:|"]
    for kind in ("all", "private", "group", "inline"):
        chosen = [r for r in records if kind == "all" or r["kind"] == kind]
        if not chosen:
            continue
        s = pct([r["latency_ms"] for r in chosen])
        answered = sum(r["answered"] for r in chosen)
        label = {"all": "all", "private": "private chat", "group": "group `/ask`", "inline": "inline query"}[kind]
        lines.append(f"| {label} | {s['n']} | {answered} | {s['p50']:.2f} | {s['p95']:.2f} | {s['p99']:.2f}"
                     f" | {s['max']:.2f} |")
    for kind, label in (("private", "private chat and group `/ask`"), ("inline", "inline queries")):
        chosen = [r for r in records if (r["kind"] == "inline") == (kind == "inline")]
        b = breakdown(chosen, result["parts"])
        if not b:
            continue
        lines += ["", f"Where the time goes, {label} (ms per question):", "", "| part | median | mean |",
                  "|---|---:|---:|"]
        lines += [f"| {name} | {v['p50']:.2f} | {v['mean']:.2f} |" for name, v in b.items()]
    return "\n".join(lines)


# --- entry point --------------------------------------------------------------------------------

def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Update in → reply out through the real bot and the stand-in Bot API.")
    p.add_argument("--corpus", type=Path, default=perf.DEFAULT_CORPUS,
                   help="JSONL(.gz) articles (default: %(default)s)")
    p.add_argument("--passages", type=int, default=100_000, help="database size in passages (default: %(default)s)")
    p.add_argument("--questions", type=int, default=1000, help="private-chat questions (default: %(default)s)")
    p.add_argument("--group", type=int, default=200, help="group /ask questions (default: %(default)s)")
    p.add_argument("--inline", type=int, default=200, help="inline queries (default: %(default)s)")
    p.add_argument("--warmup", type=int, default=20,
                   help="questions asked first and not counted (default: %(default)s)")
    p.add_argument("--interval-ms", type=float, default=75.0,
                   help="least time between two questions: keeps under the production limiter's 30 requests/s"
                        " (default: %(default)s)")
    p.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for one reply (default: %(default)s)")
    p.add_argument("--cache-dir", type=Path, default=quality_eval.DEFAULT_CACHE)
    p.add_argument("--profile", action="store_true", help="run the bot process under cProfile and print its top"
                   " functions (inflates every figure: for where the time goes, not for the latency)")
    p.add_argument("--profile-lines", type=int, default=30)
    p.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)  # the child process
    p.add_argument("--db", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--api-url", help=argparse.SUPPRESS)
    p.add_argument("--token", help=argparse.SUPPRESS)
    p.add_argument("--timings-out", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--profile-out", type=Path, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.serve:
        return serve_bot(args)
    if not args.corpus.exists():
        p.error(f"corpus not found: {args.corpus} (point --corpus at a JSONL or JSONL.gz of articles)")

    started = datetime.now(UTC).isoformat(timespec="seconds")
    load_at_start = os.getloadavg()[0]
    cached, passages = cached_database(args.corpus, args.passages, args.cache_dir)
    perf.log(f"database: {passages:,} passages ({cached.name})")
    # Questions about articles the database holds (the first passes of the corpus).
    articles, _, _ = perf.sized_corpus(perf.load_articles(args.corpus), args.passages, RetrievalConfig())
    questions = perf.make_questions(articles, args.questions + args.group + args.inline + args.warmup)
    del articles
    warmup = [("private", q) for q in questions[:args.warmup]]
    plan = question_plan(questions[args.warmup:], args.questions, args.group, args.inline)
    with tempfile.TemporaryDirectory(prefix="newsbot-botpath-") as tmp:
        workdir = Path(tmp)
        db = copy_database(cached, workdir)
        result = asyncio.run(run_benchmark(db, plan, warmup, args, workdir))
    text = report_text(result, passages, args)
    print(text)
    if result["profile"]:
        print("\ncProfile of the bot process (tottime; every figure above is inflated by profiling):\n")
        print(result["profile"])
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    out = RESULTS_DIR / f"bot-path-{started.replace(':', '').replace('+0000', 'Z')}.json"
    out.write_text(json.dumps({"started": started, "machine": perf.machine(), "passages": passages,
                               "load_average": {"start": load_at_start, "end": os.getloadavg()[0]},
                               "command": "python -m benchmarks.bot_path " + " ".join(
                                   argv if argv is not None else sys.argv[1:]),
                               "ready_s": result["ready_s"], "records": result["records"]},
                              ensure_ascii=False, indent=1), encoding="utf-8")
    perf.log(f"results written to {out.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
