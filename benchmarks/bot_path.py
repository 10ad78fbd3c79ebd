"""The answer path through the bot: update in → reply out, Telegram's network excluded.

The real bot runs in a child process (`benchmarks/bot_serve.py`) exactly as
`newsbot run` runs it (`bot.app.serve(settings)`: `SearchEngine.open`,
`build_application`, the production rate limiter, long polling), against the
stand-in Bot API server of `tests/telegram_stub/` on 127.0.0.1 in this
process (imported from the tests on purpose: one stand-in for the tests and
this benchmark; the bot process itself imports only the product). Questions
are fed one at a time, each from a new user (the per-user limit is 10 a
minute; group questions each in a new group), at least
`--interval-ms` apart (the production limiter allows 30 requests a second and
a private question costs two: the typing action and the answer). The
stand-in answers a waiting long poll as soon as an update is queued.

Per question, the latency is the time from the stand-in handing the update
out in a getUpdates answer to the stand-in receiving the reply (sendMessage or
answerInlineQuery), both on the machine's monotonic clock. The bot process
notes (on the same clock) when each handler starts and ends and how long each
part of it took, so the path is broken down into: PTB receiving and
dispatching the update, the search (`NewsDesk.ask`), the question log write, formatting,
PTB sending the reply (and the typing action's round trip).

    .venv/bin/python -m benchmarks.bot_path                        # 100k passages, 1000+200+200 questions
    .venv/bin/python -m benchmarks.bot_path --profile              # + cProfile of the bot process (slower)
    git archive main | tar -x -C /tmp/main-code                    # A/B against another checkout:
    .venv/bin/python -m benchmarks.bot_path --baseline-code /tmp/main-code [--baseline-python VENV/bin/python]

The database (≥ `--passages` passages of `--corpus`, repeated under new ids if
needed) is built once through the real ingest path and cached in
`benchmarks/.cache/`; each run works on a copy, since the bot writes its
question log into it.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import pstats
import random
import shutil
import signal
import sqlite3
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks import eval as quality_eval
from benchmarks import perf
from benchmarks.bot_path_report import report_text
from retrieval.engine import RetrievalConfig

REPO = Path(__file__).resolve().parent.parent
RESULTS_DIR = REPO / "benchmarks" / "results"
SERVE_SCRIPT = Path(__file__).resolve().with_name("bot_serve.py")
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


# --- the stand-in server and the questions ---------------------------------------------------

def stub_classes() -> tuple[type, type]:
    from tests.telegram_stub.server import FakeBotApi, User

    class ReplyWatchingBotApi(FakeBotApi):
        """The stand-in, resolving a future when the reply to a question arrives.

        With `delay` > 0 it answers every call but getUpdates that much later, as a
        network round trip to Telegram would (arrival times are still noted on arrival).
        """

        def __init__(self, delay: float = 0.0) -> None:
            super().__init__(token=TOKEN)
            self.waiting: dict[tuple, asyncio.Future] = {}
            self.delay = delay

        async def _api(self, request: Any) -> Any:
            response = await super()._api(request)
            if self.delay and request.match_info["method"] != "getUpdates":
                await asyncio.sleep(self.delay)
            return response

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


async def bot_session(fake: Any, user_cls: type, code: Path, python: str, db: Path, plan: list[tuple[str, str]],
                      warmup: list[tuple[str, str]], args: argparse.Namespace, workdir: Path,
                      first_user: int) -> dict:
    """Start the bot (from the checkout at `code`), ask the warm-up then `plan`, stop it."""
    tag = f"{first_user}"
    timings_file = workdir / f"timings-{tag}.json"
    profile_file = workdir / f"bot-{tag}.prof" if args.profile else None
    cmd = [python, str(SERVE_SCRIPT), "--db", str(db), "--api-url", fake.base_url, "--token", TOKEN,
           "--timings-out", str(timings_file)]
    if profile_file:
        cmd += ["--profile-out", str(profile_file)]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(code), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep))
    started = time.perf_counter()
    calls_before = len(fake.calls)
    child = await asyncio.create_subprocess_exec(*cmd, cwd=code, env=env)
    try:
        while not any(c.method == "getUpdates" for c in fake.calls[calls_before:]):
            if child.returncode is not None:
                raise RuntimeError(f"the bot exited with {child.returncode} before polling")
            await asyncio.sleep(0.02)
        ready_s = time.perf_counter() - started
        perf.log(f"  bot ({code}) polling after {ready_s:.2f} s; {len(warmup)} warm-up questions,"
                 f" then {len(plan)} one at a time, at least {args.interval_ms} ms apart")
        await ask_all(fake, user_cls, warmup, args.interval_ms / 1000, args.timeout, first=first_user)
        records = await ask_all(fake, user_cls, plan, args.interval_ms / 1000, args.timeout,
                                first=first_user + len(warmup))
    finally:
        # The poll in flight is not cut short: answering polls at once lets PTB's last
        # getUpdates (the one confirming the updates) find its one connection busy.
        if child.returncode is None:
            child.send_signal(signal.SIGTERM)
        await asyncio.wait_for(child.wait(), 60)
    if child.returncode != 0:
        raise RuntimeError(f"the bot exited with {child.returncode}")
    parts = {int(k): v for k, v in json.loads(timings_file.read_text(encoding="utf-8")).items()}
    return {"ready_s": ready_s, "records": records, "parts": parts, "profile": profile_file}


async def run_benchmark(db: Path, plan: list[tuple[str, str]], warmup: list[tuple[str, str]],
                        args: argparse.Namespace, workdir: Path) -> dict[str, dict]:
    """Each version of the code answers the same questions; with a baseline, the two take turns
    over `--rounds` slices of the questions, so that both see the same load on the machine."""
    versions = [("current", REPO, sys.executable)]
    if args.baseline_code:
        versions.append(("baseline", args.baseline_code.resolve(), str(args.baseline_python or sys.executable)))
    rounds = args.rounds if len(versions) > 1 else 1
    slices = [plan[i::rounds] for i in range(rounds)]
    stub_cls, user_cls = stub_classes()
    fake = stub_cls(args.api_delay_ms / 1000)
    await fake.start()
    results: dict[str, dict] = {label: {"ready_s": [], "records": [], "parts": {}, "profiles": []}
                                for label, _, _ in versions}
    try:
        users = 0
        for r, chunk in enumerate(slices):
            for label, code, python in (versions if r % 2 == 0 else versions[::-1]):
                perf.log(f"round {r + 1}/{rounds}: {label}")
                session = await bot_session(fake, user_cls, code, python, db, chunk, warmup, args, workdir, users)
                users += len(warmup) + len(chunk)
                out = results[label]
                out["ready_s"].append(session["ready_s"])
                out["records"] += session["records"]
                out["parts"].update(session["parts"])
                if session["profile"]:
                    out["profiles"].append(session["profile"])
    finally:
        await fake.stop()
    if fake.errors:
        raise RuntimeError(f"the stand-in server saw bad requests: {fake.errors[:5]}")
    for out in results.values():
        out["profile"] = top_functions(out.pop("profiles"), args.profile_lines) if args.profile else None
    return results


def top_functions(profile_files: list[Path], lines: int) -> str:
    out = io.StringIO()
    stats = pstats.Stats(*map(str, profile_files), stream=out)
    stats.sort_stats("tottime").print_stats(lines)
    return out.getvalue()


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
                   help="questions asked first after each start of the bot, not counted (default: %(default)s)")
    p.add_argument("--interval-ms", type=float, default=75.0,
                   help="least time between two questions: keeps under the production limiter's 30 requests/s"
                        " (default: %(default)s)")
    p.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for one reply (default: %(default)s)")
    p.add_argument("--api-delay-ms", type=float, default=0.0,
                   help="the stand-in answers every call but getUpdates this much later, like a network round"
                        " trip to Telegram: shows what the code waits for (default: %(default)s)")
    p.add_argument("--baseline-code", type=Path,
                   help="another checkout of the project (e.g. `git archive main | tar -x -C DIR`): its bot answers"
                        " the same questions, taking turns with this one")
    p.add_argument("--baseline-python", type=Path,
                   help="the interpreter for the baseline's bot (a venv with the baseline's dependencies;"
                        " default: this one)")
    p.add_argument("--rounds", type=int, default=4,
                   help="with --baseline-code, slices of the questions the two versions take turns over"
                        " (default: %(default)s)")
    p.add_argument("--cache-dir", type=Path, default=quality_eval.DEFAULT_CACHE)
    p.add_argument("--profile", action="store_true", help="run the bot process under cProfile and print its top"
                   " functions (inflates every figure: for where the time goes, not for the latency)")
    p.add_argument("--profile-lines", type=int, default=30)
    args = p.parse_args(argv)
    if not args.corpus.exists():
        p.error(f"corpus not found: {args.corpus} (point --corpus at a JSONL or JSONL.gz of articles)")
    if args.baseline_code and not (args.baseline_code / "bot" / "app.py").exists():
        p.error(f"--baseline-code {args.baseline_code} holds no bot/app.py")

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
        results = asyncio.run(run_benchmark(db, plan, warmup, args, workdir))
    print(report_text(results, passages, args))
    for version, result in results.items():
        if result["profile"]:
            print(f"\ncProfile of the {version} bot process (tottime; profiling inflates every figure):\n")
            print(result["profile"])
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    out = RESULTS_DIR / f"bot-path-{started.replace(':', '').replace('+0000', 'Z')}.json"
    out.write_text(json.dumps({"started": started, "machine": perf.machine(), "passages": passages,
                               "load_average": {"start": load_at_start, "end": os.getloadavg()[0]},
                               "command": "python -m benchmarks.bot_path " + " ".join(
                                   argv if argv is not None else sys.argv[1:]),
                               "versions": {v: {"ready_s": r["ready_s"], "records": r["records"]}
                                            for v, r in results.items()}},
                              ensure_ascii=False), encoding="utf-8")
    perf.log(f"results written to {out.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
