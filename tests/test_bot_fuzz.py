"""Hostile messages: 5,000 generated updates through the real handlers and the stand-in Bot API server.

Private texts and commands, group chatter, mentions, replies and forum
topics, forged and stale button data, and inline queries, all built by the
seeded generators of `telegram_stub.hostile`. Every update that calls for a
reply gets exactly one, which the stand-in accepted (Telegram's HTML rules,
4,096 characters, 64-byte button data, known parameters); group chatter gets
deliberate silence; every button press and inline query is answered once;
nothing reaches the error handler.

Telegram's own flood limits (30 messages/s) are lifted and the bot's
per-user limits raised, so that what is measured is the handlers, not the
waiting: those limits have their own tests.
"""

from __future__ import annotations

import logging
import os
import random
import time
from collections import Counter
from dataclasses import dataclass, field

import pytest

from bot import texts

from .telegram_stub.faults import LiftedLimitsHarness, reply_to, unlimited
from .telegram_stub.harness import ADMIN, READER, fixture_articles, started
from .telegram_stub.hostile import HostileText, callback_data, command_text, inline_offset, inline_query_text
from .telegram_stub.server import FakeBotApi, User

SEED = 20261129
# The issue asks for at least 5,000; TG_FUZZ_UPDATES runs more (or fewer while developing).
UPDATES = int(os.environ.get("TG_FUZZ_UPDATES", "5000"))
GROUP_ID, FORUM_ID = -100555, -100556
FUZZERS = [User(9000 + n, f"Fuzz {n}", "en" if n % 3 == 0 else "ar") for n in range(20)]
BOT_COMMANDS = {"start", "help", "ask", "latest", "sources", "reindex", "stats", "delete"}


@dataclass
class Expectations:
    replied: list[tuple[int, int]] = field(default_factory=list)
    silent: list[tuple[int, int]] = field(default_factory=list)
    callbacks: list[str] = field(default_factory=list)
    inline: list[str] = field(default_factory=list)
    kinds: Counter = field(default_factory=Counter)

    def message(self, message: dict, reply: bool, kind: str) -> None:
        (self.replied if reply else self.silent).append((message["chat"]["id"], message["message_id"]))
        self.kinds[kind] += 1


@pytest.fixture
async def fake():
    async with started(FakeBotApi(), ADMIN, READER, *FUZZERS) as server:
        server.group(GROUP_ID, "<b>group</b> & \u202e")
        server.group(FORUM_ID, "forum", forum=True)
        yield server


@pytest.fixture
async def bot(tmp_path, fake):
    harness = LiftedLimitsHarness(tmp_path, fake, rate_limiter=unlimited(), user_rate_limit=100_000,
                                  chat_rate_limit=100_000, follow_up_rate_limit=100_000)
    await harness.start()
    yield harness
    await harness.stop()


def group_command_is_for_bot(text: str, username: str) -> bool:
    head = text.split(maxsplit=1)[0][1:]
    name, _, target = head.partition("@")
    return name.lower() in BOT_COMMANDS and target in ("", username)


async def warm_up(fake: FakeBotApi, bot) -> tuple[list[dict], list[int]]:
    """Real answers to press buttons on, and the question-log ids behind them."""
    messages = []
    for chat, user, text in ((fake.chats[FUZZERS[0].id], FUZZERS[0], "أسعار النفط"),
                             (fake.chats[GROUP_ID], FUZZERS[1], "/ask المحيط الهادئ"),
                             (fake.chats[FUZZERS[2].id], FUZZERS[2], "/latest")):
        mark = fake.mark()
        fake.send(chat, user, text)
        [answer] = await fake.wait_for("sendMessage", since=mark)
        messages.append(fake.message(answer))
    question_ids = [1, 2]  # the two questions asked above, in the order logged
    return messages, question_ids


def generate(fake: FakeBotApi, rng: random.Random, bot_messages: list[dict], question_ids: list[int],
             count: int) -> Expectations:
    text = HostileText(rng)
    username = fake.bot_user["username"]
    article_ids = [a["id"] for a in fixture_articles()]
    group, forum = fake.chats[GROUP_ID], fake.chats[FORUM_ID]
    group_bot_message = bot_messages[1]
    chatter = fake.send(group, FUZZERS[3], "كلام عادي")
    expect = Expectations()
    expect.message(chatter, False, "group chatter")
    while sum(expect.kinds.values()) < count:
        user = rng.choice(FUZZERS)
        roll = rng.random()
        if roll < 0.40:
            expect.message(fake.send(fake.chats[user.id], user, text()), True, "private text")
        elif roll < 0.52:
            expect.message(fake.send(fake.chats[user.id], user, command_text(rng, text, username)), True,
                           "private command")
        elif roll < 0.58:
            expect.message(fake.send(group, user, "ك " + text(400)), False, "group chatter")
        elif roll < 0.63:
            expect.message(fake.send(group, user, f"@{username} {text(400)}"), True, "group mention")
        elif roll < 0.66:
            expect.message(fake.send(group, user, "ك " + text(400), reply_to=group_bot_message), True,
                           "group reply to the bot")
        elif roll < 0.67:
            expect.message(fake.send(group, user, "ك " + text(400), reply_to=chatter), False,
                           "group reply to a member")
        elif roll < 0.69:
            expect.message(fake.send(forum, user, f"@{username} {text(400)}", thread_id=7), True, "forum mention")
        elif roll < 0.74:
            command = command_text(rng, text, username)
            expect.message(fake.send(group, user, command), group_command_is_for_bot(command, username),
                           "group command")
        elif roll < 0.87:
            expect.callbacks.append(fake.press(user, rng.choice(bot_messages),
                                               callback_data(rng, question_ids, article_ids)))
            expect.kinds["button press"] += 1
        else:
            expect.inline.append(fake.inline(user, inline_query_text(rng, text), inline_offset(rng)))
            expect.kinds["inline query"] += 1
    return expect


def quoting_replies(fake: FakeBotApi) -> Counter:
    return Counter((c.params["chat_id"], c.params["reply_parameters"]["message_id"])
                   for c in fake.sent("sendMessage") if "reply_parameters" in c.params)


async def test_hostile_updates_get_valid_replies_or_deliberate_silence(bot, fake, caplog):
    caplog.set_level(logging.WARNING)
    bot_messages, question_ids = await warm_up(fake, bot)
    rng = random.Random(SEED)
    mark = fake.mark()
    started = time.perf_counter()
    expect = generate(fake, rng, bot_messages, question_ids, UPDATES)
    sentinel = fake.send(fake.chats[READER.id], READER, "أسعار النفط")  # updates are handled in order
    await reply_to(fake, READER.id, sentinel["message_id"], within=300)
    await fake.drained()
    seconds = time.perf_counter() - started

    replies = quoting_replies(fake)
    unanswered = [m for m in expect.replied if replies[m] != 1]
    assert unanswered == [], f"{len(unanswered)} messages without exactly one reply: {unanswered[:5]}"
    spoke = [m for m in expect.silent if replies[m]]
    assert spoke == [], f"answered chatter: {spoke[:5]}"
    assert replies[(READER.id, sentinel["message_id"])] == 1

    answered_callbacks = Counter(c.params["callback_query_id"] for c in fake.sent("answerCallbackQuery"))
    assert all(answered_callbacks[q] == 1 for q in expect.callbacks)
    answered_inline = Counter(c.params["inline_query_id"] for c in fake.sent("answerInlineQuery"))
    assert all(answered_inline[q] == 1 for q in expect.inline)

    sent_texts = [fake.message(c)["text"] for c in fake.sent("sendMessage", since=mark)]
    assert not [t for t in sent_texts if texts.AR.error in t]
    assert not [c for c in fake.sent("answerCallbackQuery", since=mark) if c.params.get("text") == texts.AR.error]
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == [], [r.getMessage() for r in errors[:5]]
    assert bot.app.updater.running

    total = sum(expect.kinds.values())
    calls = Counter(c.method for c in fake.calls[mark:])
    print(f"\nhostile updates: {total} in {seconds:.1f} s ({total / seconds:.0f} updates/s) through the stand-in "
          f"server; by kind: {dict(expect.kinds)}; bot calls: {dict(calls)}")
    assert total >= UPDATES
    assert calls["sendMessage"] >= len(expect.replied)
