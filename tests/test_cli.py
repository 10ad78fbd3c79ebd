"""`newsbot` as a user runs it: a real process, a real database file."""

import json
import os
import subprocess
import sys
from pathlib import Path

from .conftest import NEWS, SAMPLE_DIR, write_jsonl


def newsbot(*args: str, db: Path, stdin: str | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("NEWSBOT_", "TELEGRAM_"))}
    environ.update(env or {})
    return subprocess.run([sys.executable, "-m", "bot.cli", *args, "--db", str(db)], input=stdin,
                          capture_output=True, text=True, env=environ, timeout=120, cwd=db.parent)


def test_ingest_ask_search_stats(tmp_path: Path):
    db = tmp_path / "news.db"
    out = newsbot("ingest", str(SAMPLE_DIR), str(write_jsonl(tmp_path / "n.jsonl", NEWS)), db=db)
    assert out.returncode == 0, out.stderr
    assert "4 added, 0 updated, 0 unchanged, 0 skipped" in out.stdout

    out = newsbot("ask", "ما رقم قرار مجلس الأمن بشأن المساعدة الإنسانية في سوريا؟", db=db)
    assert out.returncode == 0
    assert "2585" in out.stdout and "المدن · عرب وعالم · 2021-11-22" in out.stdout

    out = newsbot("search", "--jsonl", "-k", "2", db=db, stdin="أسعار النفط\n\nمن هو في\n")
    lines = [json.loads(line) for line in out.stdout.splitlines()]
    assert [line["query"] for line in lines] == ["أسعار النفط", "من هو في"]
    hit = lines[0]["hits"][0]
    assert set(hit) == {"article_id", "passage_id", "score", "title", "source", "published", "url", "excerpt",
                        "outside_filters", "also"}
    assert set(lines[0]) == {"query", "filters", "hits", "confidence"}
    assert (hit["article_id"], hit["url"]) == ("n1", "https://example.com/n1")
    assert lines[1]["hits"] == []

    out = newsbot("stats", db=db)
    assert "articles: 4" in out.stdout and "sources:  4" in out.stdout and "index:" in out.stdout

    # One more article: a segment over the base, not a rebuild; searchable by the next process.
    extra = tmp_path / "extra.jsonl"
    extra.write_text(json.dumps({"id": "late", "text": "خبر متأخر عن الكسوف الشمسي " * 20}, ensure_ascii=False) + "\n",
                     encoding="utf-8")
    assert newsbot("ingest", "--quiet", str(extra), db=db).returncode == 0
    out = newsbot("stats", db=db)
    assert "articles: 5" in out.stdout and "segments: 1 (1 passages), 0.0% deleted" in out.stdout, out.stdout
    out = newsbot("ask", "الكسوف الشمسي", db=db)
    assert out.returncode == 0 and "خبر متأخر" in out.stdout, out.stdout


def test_analyze_prints_the_terms_of_each_line_in_both_modes(tmp_path: Path):
    from retrieval import analysis

    lines = ["والانتخابات اللبنانية؟", "ماذا قال علي خامنئي عن الوزارة", "", "covid-19 ٢٠٢٤"]
    stdin = "\n".join(lines) + "\n"
    out = newsbot("analyze", "--jsonl", db=tmp_path / "none.db", stdin=stdin)
    assert out.returncode == 0, out.stderr
    rows = [json.loads(line) for line in out.stdout.splitlines()]
    assert rows == [{"text": t, "terms": analysis.analyze(t)} for t in lines]
    assert rows[0]["terms"] == analysis.analyze("انتخابات لبنان")  # one term per word family
    assert "علي" in rows[1]["terms"] and "ماذا" in rows[1]["terms"]  # the name Ali is no stopword

    out = newsbot("analyze", "--query", "--jsonl", db=tmp_path / "none.db", stdin=stdin)
    query_rows = [json.loads(line) for line in out.stdout.splitlines()]
    assert query_rows == [{"text": t, "terms": analysis.analyze_query(t)} for t in lines]
    assert query_rows[1]["terms"] == [t for t in rows[1]["terms"] if t not in ("ماذا", "قال")]  # the frame ماذا قال

    out = newsbot("analyze", db=tmp_path / "none.db", stdin=stdin)
    assert out.stdout.split("\n")[:-1] == [" ".join(analysis.analyze(t)) for t in lines]
    assert not (tmp_path / "none.db").exists()  # analysing needs no database


def test_ingest_exit_code_when_nothing_could_be_ingested(tmp_path: Path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text("{oops\n", encoding="utf-8")
    out = newsbot("ingest", str(bad), str(tmp_path / "missing"), db=tmp_path / "news.db")
    assert out.returncode == 1
    assert "bad.jsonl:1: invalid JSON" in out.stderr
    assert "missing: no such file or folder" in out.stderr
    assert "0 added" in out.stdout


def test_prompt_reads_questions_until_end_of_input(tmp_path: Path):
    db = tmp_path / "news.db"
    newsbot("ingest", str(SAMPLE_DIR), db=db)
    out = newsbot("start", db=db, stdin="من هو وزير الخارجية الإيراني؟\nمن في\n")
    assert out.returncode == 0
    assert "عبد اللهيان" in out.stdout
    assert "لم أجد في سؤالك كلمات" in out.stdout
    assert "TELEGRAM_BOT_TOKEN is not set" in out.stderr


def test_invalid_setting_is_named(tmp_path: Path):
    out = newsbot("stats", db=tmp_path / "news.db", env={"NEWSBOT_BM25_K1": "fast"})
    assert out.returncode == 2
    assert "NEWSBOT_BM25_K1" in out.stderr


def test_ctrl_c_while_reading_settings_gives_the_one_line_message(monkeypatch, capsys):
    from bot import cli

    def interrupted(**_: object):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "load_settings", interrupted)
    assert cli.main(["stats"]) == 130
    err = capsys.readouterr().err
    assert "interrupted" in err and "Traceback" not in err


def test_ingest_shows_a_progress_bar_on_a_terminal_and_none_in_a_pipe(tmp_path):
    import fcntl
    import pty
    import struct
    import termios

    data = write_jsonl(tmp_path / "news.jsonl", NEWS)
    piped = newsbot("ingest", str(data), db=tmp_path / "piped.db")
    assert piped.returncode == 0 and "articles/s" not in piped.stderr
    primary, secondary = pty.openpty()
    fcntl.ioctl(secondary, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    proc = subprocess.run([sys.executable, "-m", "bot.cli", "ingest", "--db", str(tmp_path / "tty.db"), str(data)],
                          stdin=secondary, stdout=secondary, stderr=secondary, timeout=60)
    os.close(secondary)
    out = b""
    while True:
        try:
            chunk = os.read(primary, 4096)
        except OSError:  # the terminal's other end closed: everything was read
            break
        if not chunk:
            break
        out += chunk
    os.close(primary)
    text = out.decode()
    assert proc.returncode == 0
    assert f"{len(NEWS)} articles [" in text and "articles/s" in text and "ingest: " in text
