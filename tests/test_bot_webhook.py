"""With a webhook URL configured the bot registers it with a secret token and takes updates over HTTP."""

from __future__ import annotations

import socket

import aiohttp

from .telegram_stub.harness import READER, BotHarness


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_webhook_mode_registers_the_secret_and_rejects_posts_without_it(tmp_path, fake):
    port = free_port()
    bot = BotHarness(tmp_path, fake, webhook_url="https://bot.example.com/tg/hook", webhook_secret="s3cret_ABC",
                     webhook_listen="127.0.0.1", webhook_port=port)
    await bot.start()
    try:
        assert fake.webhook["url"] == "https://bot.example.com/tg/hook"
        assert fake.webhook["secret_token"] == "s3cret_ABC"
        assert fake.sent("getUpdates") == [] and fake.sent("deleteWebhook") == []
        fake.send(fake.chats[READER.id], READER, "أسعار النفط")
        [update] = fake.take_updates()
        url = f"http://127.0.0.1:{port}/tg/hook"
        async with aiohttp.ClientSession() as session:
            async with session.post(url, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": "wrong"}) as r:
                assert r.status == 403
            async with session.post(url, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": "s3cret_ABC"}) as r:
                assert r.status == 200
        [answer] = await fake.wait_for("sendMessage", chat_id=READER.id)
        assert "النفط والأسواق" in fake.message(answer)["text"]
        assert len(fake.sent("sendMessage")) == 1
    finally:
        await bot.stop()
