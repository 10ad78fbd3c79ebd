"""`newsbot run` as a real process: polls the stand-in server, answers, stops cleanly, never logs the token."""

from __future__ import annotations

import asyncio
import os
import signal
import sys

from .telegram_stub.harness import ADMIN, READER, write_fixture_data


async def newsbot(*args: str, env: dict[str, str]) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", *args, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)


async def test_newsbot_run_answers_then_stops_on_sigterm_without_logging_the_token(tmp_path, fake):
    data = write_fixture_data(tmp_path / "data")
    env = {**os.environ, "TELEGRAM_BOT_TOKEN": fake.token, "NEWSBOT_BOT_API_URL": fake.base_url,
           "NEWSBOT_DB": str(tmp_path / "news.db"), "NEWSBOT_ADMIN_IDS": str(ADMIN.id),
           "NEWSBOT_DATA_DIR": str(data), "NEWSBOT_LOG_LEVEL": "DEBUG"}
    ingest = await newsbot("ingest", "--quiet", str(data), env=env)
    assert await ingest.wait() == 0
    run = await newsbot("run", env=env)
    try:
        fake.send(fake.chats[READER.id], READER, "أسعار النفط")
        [answer] = await fake.wait_for("sendMessage", chat_id=READER.id, within=20)
        assert "النفط والأسواق" in fake.message(answer)["text"]
        assert fake.sent("setMyCommands")
    finally:
        fake.end_long_polls()
        run.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(run.communicate(), 20)
    log = stderr.decode()
    assert run.returncode == 0, log
    assert "running" in log and "sendMessage" in log  # DEBUG logging was on
    assert fake.token not in log and fake.token.split(":")[1] not in log


async def test_newsbot_run_without_a_token_says_so(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "TELEGRAM_BOT_TOKEN"}
    env["NEWSBOT_DB"] = str(tmp_path / "news.db")
    run = await newsbot("run", env=env)
    _, stderr = await asyncio.wait_for(run.communicate(), 20)
    assert run.returncode == 2 and b"TELEGRAM_BOT_TOKEN is not set" in stderr


async def test_a_rejected_token_is_reported_without_printing_it(tmp_path, fake):
    env = {**os.environ, "TELEGRAM_BOT_TOKEN": "999:WRONG-token_value", "NEWSBOT_BOT_API_URL": fake.base_url,
           "NEWSBOT_DB": str(tmp_path / "news.db"), "NEWSBOT_LOG_LEVEL": "DEBUG"}
    run = await newsbot("run", env=env)
    _, stderr = await asyncio.wait_for(run.communicate(), 20)
    log = stderr.decode()
    assert run.returncode == 1, log
    assert "Telegram refused to start the bot" in log and "rejected" in log
    assert "WRONG-token_value" not in log
