"""`newsbot feeds ...` and `newsbot watch` as an operator runs them, against a local news site;
and a SIGKILL in the middle of a poll."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import sys
from contextlib import closing
from pathlib import Path

import pytest

from bot.cli import main

from .dbcheck import integrity_problems, partial_articles
from .news_site import Item, NewsSite, Route, article_page, rss2
from .test_feeds import LONG_HTML, PARAS

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
async def site():
    async with NewsSite() as s:
        yield s


@pytest.fixture
def cli_env(monkeypatch, tmp_path):
    monkeypatch.setenv("NEWSBOT_FETCH_ALLOW_HOSTS", "127.0.0.1")
    monkeypatch.setenv("NEWSBOT_HOST_DELAY_SECONDS", "0")
    monkeypatch.setenv("NEWSBOT_FETCH_TIMEOUT_SECONDS", "3")
    monkeypatch.chdir(tmp_path)  # no .env of the developer's
    return tmp_path / "news.db"


async def newsbot(capsys, *argv: str) -> tuple[int, str, str]:
    """Run the real CLI in a thread (it runs its own event loop; the site keeps serving in ours)."""
    code = await asyncio.to_thread(main, list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def processes_with_env(entry: str) -> list[int]:
    """Pids of live processes (not zombies) whose environment holds `entry`."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if entry.encode() in (proc / "environ").read_bytes().split(b"\0") and \
                    "\nState:\tZ" not in (proc / "status").read_text():
                found.append(int(proc.name))
        except OSError:
            continue
    return found


def feed_count(db: Path) -> int:
    with closing(sqlite3.connect(db)) as con:
        return con.execute("SELECT COUNT(*) FROM feeds").fetchone()[0]


async def test_feeds_commands_end_to_end(site, cli_env, capsys, tmp_path):
    db = str(cli_env)
    site.routes["/rss"] = Route(rss2("الجزيرة نت", [
        Item("زيتون", site.url("/n/1"), content=LONG_HTML, date="Sat, 05 Dec 2026 14:30:00 +0300")]))
    site.routes["/page"] = Route(b"<html><body><p>not a feed</p></body></html>", content_type="text/html")
    site.routes["/down"] = Route(status=500)

    code, _, err = await newsbot(capsys, "feeds", "add", "javascript:alert(1)", "--db", db)
    assert code == 1 and "only http:// and https://" in err
    code, _, err = await newsbot(capsys, "feeds", "add", site.url("/page"), "--db", db)
    assert code == 1 and "not a feed" in err and "HTML page" in err
    code, _, err = await newsbot(capsys, "feeds", "add", "http://10.0.0.1/rss", "--db", db)
    assert code == 1 and "private address" in err
    assert feed_count(cli_env) == 0  # nothing stored for a refused feed

    code, out, _ = await newsbot(capsys, "feeds", "add", site.url("/rss"), "--db", db)
    assert code == 0 and "(الجزيرة نت)" in out
    assert len(site.hits("/rss")) == 1
    code, out, _ = await newsbot(capsys, "feeds", "list", "--jsonl", "--db", db)
    [row] = [json.loads(line) for line in out.splitlines()]
    assert row == {"url": site.url("/rss"), "name": "الجزيرة نت", "status": "new", "last_fetch": "",
                   "articles": 0, "errors": 0, "last_error": ""}
    with closing(sqlite3.connect(cli_env)) as con:
        assert con.execute("SELECT COUNT(*) FROM articles").fetchone()[0] == 0  # add ingests nothing

    opml = tmp_path / "feeds.opml"
    opml.write_text(f"""<?xml version="1.0" encoding="UTF-8"?><opml version="1.0"><head><title>x</title></head>
<body><outline text="أخبار"><outline text="عربي"><outline type="rss" text="معطل" xmlUrl="{site.url('/down')}"/>
</outline><outline type="rss" text="مكرر" xmlUrl="{site.url('/rss')}"/></outline>
<outline type="rss" text="سيء" xmlUrl="file:///etc/passwd"/></body></opml>""", encoding="utf-8")
    code, out, _ = await newsbot(capsys, "feeds", "import", str(opml), "--db", db)
    assert code == 0 and "import: 1 added, 1 already followed, 1 refused" in out and "file:///etc/passwd" in out

    code, out, _ = await newsbot(capsys, "watch", "--once", "--db", db)
    assert code == 0  # ran, though one feed failed
    lines = dict(line.split(" ", 1) for line in out.splitlines())
    assert set(lines) == {"new", "failed"}
    assert lines["new"].startswith(site.url("/rss") + ": 1 items, 1 new")
    assert lines["failed"] == f"{site.url('/down')}: HTTP 500"
    code, out, _ = await newsbot(capsys, "watch", "--once", "--db", db)
    assert "skipped " + site.url("/down") + ": backing off after 1 errors" in out
    assert "unchanged " + site.url("/rss") in out

    code, out, _ = await newsbot(capsys, "feeds", "list", "--db", db)
    rows = [line.split("\t") for line in out.splitlines()]
    assert [r[2] for r in rows] == ["ok", "failing"] and rows[0][4] == "1" and rows[1][6] == "HTTP 500"

    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "search", "--jsonl", "--db", db, stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE, cwd=REPO)
    stdout, _ = await proc.communicate("زراعة مليون شجرة زيتون\n".encode())
    [hit] = json.loads(stdout)["hits"][:1]
    assert hit["source"] == "الجزيرة نت" and hit["url"] == site.url("/n/1")
    assert hit["published"] == "2026-12-05T14:30:00+03:00"

    code, out, _ = await newsbot(capsys, "feeds", "pause", site.url("/rss"), "--db", db)
    assert code == 0 and out.startswith("paused ")
    code, out, _ = await newsbot(capsys, "watch", "--once", "--db", db)
    assert f"skipped {site.url('/rss')}: paused" in out
    code, out, _ = await newsbot(capsys, "feeds", "list", "--jsonl", "--db", db)
    assert json.loads(out.splitlines()[0])["status"] == "paused"
    code, out, _ = await newsbot(capsys, "feeds", "resume", site.url("/rss"), "--db", db)
    assert code == 0 and out.startswith("resumed ")
    code, _, err = await newsbot(capsys, "feeds", "pause", site.url("/nope"), "--db", db)
    assert code == 1 and "not followed" in err

    code, out, _ = await newsbot(capsys, "feeds", "export", "--db", db)
    assert out.startswith('<?xml version="1.0" encoding="UTF-8"?>') and f'xmlUrl="{site.url("/down")}"' in out
    code, out, _ = await newsbot(capsys, "feeds", "remove", site.url("/rss"), "--db", db)
    assert code == 0 and feed_count(cli_env) == 1
    code, _, err = await newsbot(capsys, "feeds", "remove", site.url("/rss"), "--db", db)
    assert code == 1 and "not followed" in err
    with closing(sqlite3.connect(cli_env)) as con:
        assert con.execute("SELECT COUNT(*) FROM articles").fetchone()[0] == 1  # its articles stay


async def test_sigkill_during_a_poll_leaves_whole_articles_and_the_next_poll_has_no_duplicates(site, cli_env):
    n_feeds, n_items = 4, 12
    for f in range(n_feeds):
        items = [Item(f"خبر {f}-{i}", site.url(f"/p/{f}/{i}"), summary="ملخص") for i in range(n_items)]
        site.routes[f"/feed{f}"] = Route(rss2(f"مصدر {f}", items), etag=f'"{f}"')
        for i in range(n_items):
            text = [f"{p} رقم {f} {i}." for p in PARAS]
            site.routes[f"/p/{f}/{i}"] = Route(article_page(f"خبر {f}-{i}", text), content_type="text/html",
                                               delay=0.02 * f)
    db = cli_env
    env = {**os.environ, "NEWSBOT_DB": str(db), "PYTHONPATH": str(REPO)}
    body = "".join(f'<outline type="rss" text="مصدر {f}" xmlUrl="{site.url(f"/feed{f}")}"/>' for f in range(n_feeds))
    opml = db.parent / "feeds.opml"
    opml.write_text(f'<opml version="2.0"><body>{body}</body></opml>', encoding="utf-8")
    add = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "feeds", "import", str(opml), stdout=asyncio.subprocess.DEVNULL,
        env=env, cwd=db.parent)
    assert await add.wait() == 0

    # Killed once the first feed's articles are written, while the others are still fetching pages.
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "watch", "--once", stdout=asyncio.subprocess.DEVNULL, env=env,
        cwd=db.parent)
    for _ in range(1000):
        await asyncio.sleep(0.01)
        with closing(sqlite3.connect(db, timeout=5)) as con:
            if con.execute("SELECT COUNT(*) FROM articles").fetchone()[0]:
                break
    proc.send_signal(signal.SIGKILL)
    await proc.wait()
    # Its parsing/extraction worker notices and exits instead of lingering as an orphan.
    for _ in range(60):
        if not processes_with_env(f"NEWSBOT_DB={db}"):
            break
        await asyncio.sleep(0.1)
    assert processes_with_env(f"NEWSBOT_DB={db}") == []
    assert integrity_problems(db) == [] and partial_articles(db) == []
    with closing(sqlite3.connect(db)) as con:
        after_kill = con.execute("SELECT COUNT(*) FROM articles").fetchone()[0]
    assert 0 < after_kill < n_feeds * n_items

    again = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "watch", "--once", stdout=asyncio.subprocess.PIPE, env=env, cwd=db.parent)
    out, _ = await again.communicate()
    assert again.returncode == 0 and "failed" not in out.decode()
    assert integrity_problems(db) == [] and partial_articles(db) == []
    with closing(sqlite3.connect(db)) as con:
        urls = [r[0] for r in con.execute("SELECT url FROM articles")]
        bodies = [r[0] for r in con.execute("SELECT body FROM articles")]
    assert len(urls) == len(set(urls)) == n_feeds * n_items and len(set(bodies)) == len(bodies)


async def test_watch_polls_due_feeds_until_stopped(site, cli_env):
    site.routes["/rss"] = Route(rss2("وكالة", [Item("زيتون", site.url("/n/1"), content=LONG_HTML)]), etag='"a"')
    db = cli_env
    env = {**os.environ, "NEWSBOT_DB": str(db), "NEWSBOT_FEED_INTERVAL_SECONDS": "0.3"}
    assert await asyncio.to_thread(main, ["feeds", "add", site.url("/rss"), "--db", str(db)]) == 0
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "watch", stdout=asyncio.subprocess.PIPE, env=env, cwd=REPO)
    try:
        first = await asyncio.wait_for(proc.stdout.readline(), 20)
        assert first.decode().startswith(f"new {site.url('/rss')}: 1 items, 1 new")
        second = await asyncio.wait_for(proc.stdout.readline(), 5)  # polled again after the interval
        assert second.decode().startswith(f"unchanged {site.url('/rss')}: not modified (304)")
    finally:
        proc.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(proc.wait(), 10)
    assert code == 0
    with closing(sqlite3.connect(db)) as con:
        assert con.execute("SELECT COUNT(*) FROM articles").fetchone()[0] == 1
