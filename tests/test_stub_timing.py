"""The stand-in Bot API notes when it hands an update out and when each request arrives
(what `benchmarks/bot_path.py` measures between)."""

from __future__ import annotations

import asyncio
import time

import aiohttp

from .telegram_stub.harness import READER


async def call(fake, method: str, **params) -> dict:
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{fake.base_url}{fake.token}/{method}", data=params) as response:
            return await response.json()


async def test_delivery_and_arrival_times_are_noted_once_on_the_shared_clock(fake):
    before = time.perf_counter()
    fake.send(fake.chats[READER.id], READER, "سؤال")
    [update] = (await call(fake, "getUpdates"))["result"]
    first = fake.delivered[update["update_id"]]
    assert before <= first <= time.perf_counter()
    await call(fake, "getUpdates")  # handed out again (not confirmed): the first time is kept
    assert fake.delivered[update["update_id"]] == first
    await call(fake, "sendMessage", chat_id=str(READER.id), text="جواب")
    [sent] = fake.sent("sendMessage")
    assert first < sent.arrived <= time.perf_counter()


async def test_a_waiting_long_poll_is_answered_as_soon_as_an_update_is_queued(fake):
    poll = asyncio.create_task(call(fake, "getUpdates", timeout="10"))
    await asyncio.sleep(0.1)
    assert not poll.done()
    queued = time.perf_counter()
    fake.send(fake.chats[READER.id], READER, "سؤال")
    [update] = (await asyncio.wait_for(poll, 2))["result"]
    assert fake.delivered[update["update_id"]] - queued < 0.5
