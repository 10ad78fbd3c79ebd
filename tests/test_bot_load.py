"""Load: 2,000 questions from 200 users at once through the stand-in server.

All answered (10 questions each is within the bot's default per-user limit
of 10 a minute); one more question from some users gets the polite
rate-limit notice instead, once; memory stays bounded. Throughput and
latency are printed, never asserted. Telegram's flood limit (30
messages/s) is lifted here, so that the figures are the bot's own; a short
burst with the production limiter checks that the bot keeps to it.
"""

from __future__ import annotations

import logging
import statistics
import time
from pathlib import Path

import pytest

from bot import texts

from .telegram_stub.faults import LiftedLimitsHarness, TimedBotApi, reply_to, unlimited
from .telegram_stub.harness import ADMIN, started
from .telegram_stub.server import User

USERS = [User(20_000 + n, f"User {n}", "ar") for n in range(200)]
PER_USER = 10  # the bot's default per-user limit per minute
QUESTIONS = ["أسعار النفط", "من هو وزير الخارجية الإيراني؟", "الغاز المسال والفحم", "قرار مجلس الأمن",
             "المحيط الهادئ والتيارات البحرية", "كم سعر الذهب في بورصة طوكيو", "أوبك خفض الإنتاج",
             "المخزونات الأمريكية", "توقعات الشتاء في أوروبا", "سوريا"]
TELEGRAM_RATE = 30  # messages a second, Telegram's limit for a bot across chats


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


@pytest.fixture
async def fake():
    async with started(TimedBotApi(), ADMIN, *USERS) as server:
        yield server


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def test_2000_questions_from_200_users_are_all_answered(tmp_path, fake, caplog):
    caplog.set_level(logging.WARNING)
    bot = LiftedLimitsHarness(tmp_path, fake, rate_limiter=unlimited())
    await bot.start()
    try:
        rss_before = rss_mib()
        started = time.perf_counter()
        asked = []
        for round_ in range(PER_USER):
            for n, user in enumerate(USERS):
                asked.append((time.perf_counter(), fake.send(fake.chats[user.id], user,
                                                             QUESTIONS[(n + round_) % len(QUESTIONS)])))
        pushed = time.perf_counter() - started
        over = [fake.send(fake.chats[user.id], user, "أسعار النفط") for user in USERS[:20]]
        replies = [await reply_to(fake, q["chat"]["id"], q["message_id"], within=300) for _, q in asked]
        seconds = time.perf_counter() - started
        assert not [r for r in replies if texts.AR.rate_limited in fake.message(r)["text"]]
        arrived = {id(call): t for call, t in zip(fake.calls, fake.times, strict=True)}
        latencies = [arrived[id(reply)] - sent_at for (sent_at, _), reply in zip(asked, replies, strict=True)]
        notices = [await reply_to(fake, q["chat"]["id"], q["message_id"]) for q in over]
        assert all(fake.message(n)["text"] == texts.AR.rate_limited for n in notices)
        rss_after = rss_mib()
        assert bot.app.updater.running
    finally:
        await bot.stop()
    answered = len(latencies)
    print(f"\nload: {answered} questions from {len(USERS)} users (pushed in {pushed:.2f} s) all answered in "
          f"{seconds:.1f} s = {answered / seconds:.0f} answers/s; latency from arrival to answer: median "
          f"{statistics.median(latencies):.2f} s, p95 {percentile(latencies, 0.95):.2f} s, max {max(latencies):.2f} s "
          f"(queueing: PTB handles updates one at a time); {len(notices)} over-limit questions got the notice; "
          f"RSS {rss_before:.0f} -> {rss_after:.0f} MiB")
    # Nothing reached the bot's error handler, nor failed inside PTB.
    errors = [f"{r.name}: {r.getMessage()}" for r in caplog.records
              if r.levelno >= logging.ERROR and r.name.startswith(("bot", "telegram"))]
    assert errors == []
    # Bounded: the stand-in keeps every call and message (a few MB); a leak per question would show.
    assert rss_after - rss_before < 150


async def test_the_production_limiter_keeps_to_telegrams_30_messages_a_second(tmp_path, fake):
    bot = LiftedLimitsHarness(tmp_path, fake)  # the production limiter
    await bot.start()
    try:
        mark = fake.mark()
        asked = [fake.send(fake.chats[user.id], user, QUESTIONS[n % len(QUESTIONS)])
                 for n, user in enumerate(USERS[:60])]
        for q in asked:
            await reply_to(fake, q["chat"]["id"], q["message_id"], within=60)
    finally:
        await bot.stop()
    chat_calls = [t for c, t in zip(fake.calls[mark:], fake.times[mark:], strict=True)
                  if c.method in ("sendMessage", "sendChatAction") and c.ok]
    # A leaky bucket of 30 a second lets a full bucket (30) more through in any one-second window,
    # plus one for the boundary.
    busiest = max(sum(1 for t in chat_calls if start <= t < start + 1) for start in chat_calls)
    span = chat_calls[-1] - chat_calls[0]
    print(f"\nproduction limiter: {len(chat_calls)} chat requests in {span:.1f} s, busiest second {busiest}")
    assert busiest <= 2 * TELEGRAM_RATE + 2
    assert len(chat_calls) - TELEGRAM_RATE <= TELEGRAM_RATE * span + 1
