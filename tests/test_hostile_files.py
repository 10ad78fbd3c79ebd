"""Hostile files through `SearchEngine.ingest_bytes` (the upload path) and `newsbot ingest`.

Every file here is refused or has its bad records skipped, with a reason
naming what was wrong; nothing of a refused file lands, earlier data is
byte-for-byte intact, SQLite's integrity check passes, and no file appears
anywhere but the database's own files. All inputs are generated here.
"""

from __future__ import annotations

import gzip
import json
import os
import random
import zlib
from functools import cache
from pathlib import Path

import pytest

from bot.cli import main as cli_main
from retrieval.engine import RetrievalConfig, SearchEngine
from retrieval.jsonrecords import MAX_ID_CHARS
from retrieval.readers import Skipped, read_bytes

from .conftest import NEWS, SAMPLE, write_jsonl
from .dbcheck import files_under, integrity_problems, partial_articles, snapshot
from .test_cli import newsbot

SEED = 20261129
ARABIC = ("أعلنت وزارة الخارجية الروسية أن الوفد زار طهران يوم السبت لبحث الوضع في سوريا "
          "مع المسؤولين الإيرانيين، وقال المتحدث إن المحادثات ستستمر الأسبوع المقبل في موسكو.")
DIACRITICS = "\u064b\u064c\u064d\u064e\u064f\u0650\u0651\u0652"


def line(**fields: object) -> str:
    return json.dumps(fields, ensure_ascii=True)


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@cache
def gzip_bomb(inflated: int = 64 * 1024**2) -> bytes:
    """`inflated` zero bytes in a gzip stream of a few tens of KiB, built without holding them."""
    comp = zlib.compressobj(9, zlib.DEFLATED, 31)  # wbits 31: gzip container
    block = b"\0" * (1024**2)
    parts = [comp.compress(block) for _ in range(inflated // len(block))]
    return b"".join(parts) + comp.flush()


def seeded_bytes(n: int, low: int = 0, high: int = 256, seed: int = SEED) -> bytes:
    rng = random.Random(seed)
    return bytes(rng.randrange(low, high) for _ in range(n))


def valid_jsonl(n: int, prefix: str) -> bytes:
    return "\n".join(line(id=f"{prefix}{i}", title=f"خبر {i}", text=f"{ARABIC} رقم {i}")
                     for i in range(n)).encode()


# (file name, content, what the reason must say, how many records it holds)
HOSTILE: list[tuple[str, bytes | None, str, int]] = [
    # malformed JSON Lines: every line bad in its own way
    ("malformed.jsonl", "\n".join([
        "{oops", '{"id": "x1", "text": "نص"', "[]", "null", '"just a string"', "42",
        '{"id": "x2"}', '{"id": "x3", "text": 5}', '{"id": ["x4"], "text": "نص"}',
        '{"id": "x5", "text": "نص"} trailing', '{"id": "x6", "text": "نص", "title": {"a": 1}}',
        "\ufeff{}", '{"text": "\u0000"}'.replace("\u0000", "\\u0000"),
    ]).encode(), "", 13),
    ("malformed.json", b'{"articles": [1, 2', "invalid JSON", 1),
    ("wrong-shape.json", b'{"articles": [1, "two", null, []]}', "expected a JSON object", 4),
    # encodings: Latin-1, other code pages, random high bytes
    ("latin1.txt", ("Le ministère a déclaré que la délégation était arrivée à Téhéran. " * 3).encode("latin-1"),
     "not UTF-8", 1),
    ("russian-cp1251.jsonl", line(text="x").encode() + "\nМинистерство иностранных дел России заявило".encode(
        "cp1251"), "not UTF-8", 1),
    ("russian-koi8.txt", ("Министерство иностранных дел России заявило, что делегация посетила Тегеран " * 3)
     .encode("koi8_r"), "not UTF-8", 1),
    ("chinese-gbk.txt", "俄罗斯外交部宣布，代表团周六访问德黑兰，讨论叙利亚局势。会谈将于下周在莫斯科继续进行。"
     .encode("gbk"), "not UTF-8", 1),
    ("korean-euckr.jsonl", "러시아 외무부는 대표단이 토요일 테헤란을 방문해 시리아 상황을 논의했다고 밝혔다."
     .encode("euc_kr"), "not UTF-8", 1),
    ("high-bytes.txt", seeded_bytes(4000, 0x80, 0x100), "not UTF-8", 1),
    # one Latin-1 line after 50 good UTF-8 lines: the file is refused whole, naming the byte, not half-read
    ("mostly-utf8.jsonl", valid_jsonl(50, "mixed-") + b'\n{"id": "x", "text": "caf\xe9"}',
     "not UTF-8 (invalid byte at offset", 1),
    ("broken-utf16.txt", b"\xff\xfe" + "نص".encode("utf-16-le") + b"\x00\xd8", "invalid UTF-16", 1),
    # binary data under text names
    ("binary.txt", seeded_bytes(5000), "binary", 1),
    ("image.json", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + seeded_bytes(2000), "binary", 1),
    ("program.jsonl", b"\x7fELF\x02\x01\x01\x00" + seeded_bytes(2000), "binary", 1),
    ("late-nul.txt", ("عنوان\n" + "نص " * 3000 + "\x00\x01\x02").encode(), "U+0000, a NUL", 1),
    # empty files
    ("empty.txt", b"", "empty", 1),
    ("empty.jsonl", b"", "empty", 1),
    ("empty.json", b"", "empty", 1),
    ("blank.jsonl", b"\n  \n\t\n", "empty", 1),
    ("empty-array.json", b"[]", "empty", 1),
    ("empty.txt.gz", gzip.compress(b""), "empty", 1),
    ("copyright-only.txt", "©جميع الحقوق محفوظة".encode(), "empty", 1),
    # gzip: a bomb (refused by ratio under the default 2 GiB limit), truncated, corrupt, not gzip
    ("bomb.jsonl.gz", None, "gzip bomb", 1),
    ("truncated.jsonl.gz", gzip.compress(valid_jsonl(200, "trunc-"))[:1500], "not a valid gzip file", 1),
    ("not-gzip.json.gz", b"PK\x03\x04 this is a zip, not gzip", "not a valid gzip file", 1),
    # deeply nested and huge JSON values
    ("deep.jsonl", nested(100_000).encode(), "nested too deeply", 1),
    ("deep.json", ('{"text": "نص", "title": ' + nested(50_000) + "}").encode(), "nested too deeply", 1),
    ("deep-field.jsonl", ('{"text": "نص", "title": ' + nested(500) + "}").encode(), "must be a string", 1),
    ("huge-int.json", ('{"id": ' + "7" * 5000 + ', "text": "نص"}').encode(), "invalid JSON", 1),
    ("huge-int.jsonl", ('{"id": ' + "7" * 5000 + ', "text": "نص"}').encode(), "", 1),
    ("long-id.jsonl", line(id="ك" * (MAX_ID_CHARS + 1), text="نص").encode(), "longer than", 1),
    # characters that must never reach the database
    ("nul.jsonl", line(id="nul", text="نص\u0000خبر").encode(), "U+0000, a NUL character", 1),
    ("nul-title.jsonl", line(id="nul2", title="\u0000", text="نص").encode(), "field 'title' contains U+0000", 1),
    ("surrogate.jsonl", b'{"id": "s1", "text": "\\ud800 \xd9\x86\xd8\xb5"}', "lone surrogate", 1),
    ("surrogate-title.json", b'{"id": "s2", "title": "\\udfff", "text": "\xd9\x86\xd8\xb5"}', "lone surrogate", 1),
    ("surrogate-utf16.txt", b"\xff\xfe" + "نص".encode("utf-16-le") + b"\x00\xdc" + "نص".encode("utf-16-le"),
     "invalid UTF-16", 1),
    # text with nothing to search
    ("whitespace.jsonl", line(id="w", text=" \t\n\u00a0\u3000 ").encode(), "'text'", 1),
    ("diacritics.jsonl", line(id="d", text=DIACRITICS * 5 + " " + DIACRITICS).encode(), "no letters or digits", 1),
    ("diacritics.txt", f"{DIACRITICS}\n\n{DIACRITICS * 3}\n{DIACRITICS}".encode(), "no letters or digits", 1),
    ("invisible.jsonl", line(id="z", text="\u200b\u200f\u200e\u2066\u0640\u0640").encode(), "no letters", 1),
    ("controls-only.jsonl", line(id="cc", text="\u001b[\u0007\u0085\u009b").encode(), "no letters", 1),
    ("punctuation.jsonl", line(id="p", text="...!!! ؟؟ ،، «» — ***").encode(), "no letters or digits", 1),
    # not an article format at all
    ("article.pdf", b"%PDF-1.4", "unsupported file type", 1),
    ("archive.tar.gz", gzip.compress(b"x"), "unsupported file type", 1),
    ("no-suffix", ARABIC.encode(), "unsupported file type", 1),
]


def content(name: str, data: bytes | None) -> bytes:
    return gzip_bomb() if data is None else data


@pytest.fixture
async def engine(tmp_path: Path):
    """An engine holding earlier data (the sample article and three news items)."""
    engine = await SearchEngine.open(tmp_path / "db" / "news.db", RetrievalConfig())
    await engine.ingest_bytes(SAMPLE.read_bytes(), SAMPLE.name)
    await engine.ingest_bytes(json.dumps(NEWS, ensure_ascii=False).encode(), "news.json")
    yield engine
    await engine.close()


def assert_untouched(engine: SearchEngine, before, files_before: set[Path], root: Path) -> None:
    assert snapshot(engine.db_path) == before
    assert integrity_problems(engine.db_path) == []
    assert partial_articles(engine.db_path) == []
    new_files = {f for f in files_under(root) - files_before if f.parts[0] != "db"}
    assert new_files == set()


@pytest.mark.parametrize(("name", "data", "reason", "records"), HOSTILE, ids=[h[0] for h in HOSTILE])
async def test_hostile_upload_is_refused_and_changes_nothing(engine: SearchEngine, tmp_path: Path, name: str,
                                                             data: bytes | None, reason: str, records: int):
    before, files_before = snapshot(engine.db_path), files_under(tmp_path)
    report = await engine.ingest_bytes(content(name, data), name)
    assert (report.added, report.updated, report.unchanged) == (0, 0, 0), report
    assert len(report.skipped) == records, report.skipped
    for skipped in report.skipped:
        assert skipped.location.startswith(name)
        assert reason in skipped.reason and len(skipped.reason) > 10, skipped
    assert_untouched(engine, before, files_before, tmp_path)
    result = await engine.search("ما رقم قرار مجلس الأمن بشأن المساعدة الإنسانية في سوريا؟")
    assert "2585" in result.hits[0].excerpt  # earlier data still answers


async def test_malformed_lines_are_skipped_and_good_lines_of_the_same_file_land(engine: SearchEngine):
    before = snapshot(engine.db_path)
    data = "\n".join([line(id="good-1", text=ARABIC), "{broken", line(id="bad", text=DIACRITICS),
                      line(id="good-2", text=ARABIC + " ثانية"), '{"id": "trunc", "text": "نص']).encode()
    report = await engine.ingest_bytes(data, "mixed.jsonl")
    assert report.added == 2
    assert [s.location for s in report.skipped] == ["mixed.jsonl:2", "mixed.jsonl:3", "mixed.jsonl:5"]
    after = snapshot(engine.db_path)
    assert set(after.articles) - set(before.articles) == {a for a in after.articles if a[0] in ("good-1", "good-2")}
    assert set(before.articles) <= set(after.articles)
    assert integrity_problems(engine.db_path) == [] and partial_articles(engine.db_path) == []


async def test_windows_1256_is_decoded_correctly_and_searchable(engine: SearchEngine):
    title = "وزير الخارجية يزور موسكو"
    text = "\n".join([title, "المدن - عرب وعالم", "الإثنين 2021/11/22", ARABIC, "©جميع الحقوق محفوظة"])
    report = await engine.ingest_bytes(text.encode("cp1256"), "cp1256-article.txt")
    assert report.added == 1, report.skipped
    article = await engine.article("cp1256-article")
    assert article is not None and (article.title, article.body) == (title, ARABIC)
    jsonl = json.dumps({"id": "w1256", "title": title, "text": ARABIC}, ensure_ascii=False)
    report = await engine.ingest_bytes(jsonl.encode("cp1256"), "cp1256.jsonl")
    assert report.added == 1 and (await engine.article("w1256")).body == ARABIC
    result = await engine.search("متى زار الوفد الروسي طهران؟")
    # The same text twice is one story: one is shown, the other listed under it.
    found = {h.article_id for h in result.hits} | {c.article_id for h in result.hits for c in h.also}
    assert found >= {"cp1256-article", "w1256"}


async def test_the_sample_article_in_windows_1256_reads_as_in_utf8():
    utf8 = next(r for r in read_bytes(SAMPLE.read_bytes(), "s.txt"))
    cp1256 = next(r for r in read_bytes(SAMPLE.read_text(encoding="utf-8").encode("cp1256"), "s.txt"))
    assert cp1256 == utf8


async def test_valid_but_unusual_unicode_is_accepted(engine: SearchEngine):
    text = f"{ARABIC} 😀 \u200fمرحبا\u200e ok\u2066 ١٢٣"
    report = await engine.ingest_bytes(b'{"id": "pair", "text": "\\ud83d\\ude00 ' + text.encode() + b'"}', "u.jsonl")
    assert report.added == 1, report.skipped
    assert (await engine.article("pair")).body.startswith("😀")


async def test_huge_values_are_stored_or_refused_without_harm(engine: SearchEngine, tmp_path: Path):
    """A 2 MB word, a 1 MB title, a 0.5 MB text of words: stored, searchable, excerpts stay short."""
    docs = [{"id": "one-word", "text": "بداية " + "ك" * 1_000_000 + " مفاوضات"},
            {"id": "big-title", "title": "عنوان " * 200_000, "text": ARABIC},
            {"id": "long-text", "text": (ARABIC + "\n") * 3_000 + "كلمةنادرةجدا في النهاية"}]
    data = "\n".join(json.dumps(d, ensure_ascii=False) for d in docs).encode()
    report = await engine.ingest_bytes(data, "huge.jsonl")
    assert report.added == 3, report.skipped
    assert integrity_problems(engine.db_path) == [] and partial_articles(engine.db_path) == []
    for question, article_id in (("مفاوضات", "one-word"), ("كلمةنادرةجدا", "long-text")):
        result = await engine.search(question)
        assert result.hits and result.hits[0].article_id == article_id
        assert len(result.hits[0].excerpt) <= 400


async def test_over_the_size_limit_is_refused_plain_and_gzipped(tmp_path: Path):
    limit = 64 * 1024
    async with await SearchEngine.open(tmp_path / "news.db", RetrievalConfig(max_input_bytes=limit)) as engine:
        await engine.ingest_bytes(SAMPLE.read_bytes(), SAMPLE.name)
        before = snapshot(engine.db_path)
        big = valid_jsonl(600, "big-")
        assert len(big) > limit
        for name, data, reason in (("big.jsonl", big, "larger than the 65,536 byte limit"),
                                   ("big.jsonl.gz", gzip.compress(big), "decompresses to more than the 65,536"),
                                   ("bomb.txt.gz", gzip_bomb(8 * 1024**2), "65,536 byte limit")):
            report = await engine.ingest_bytes(data, name)
            assert report.ingested == 0 and len(report.skipped) == 1
            assert reason in report.skipped[0].reason, report.skipped
        assert snapshot(engine.db_path) == before
        ok = await engine.ingest_bytes(valid_jsonl(10, "fits-"), "fits.jsonl")
        assert ok.added == 10  # the limit is on size, not on ingesting at all


PATH_NAMES = ["../../escape.txt", "/tmp/newsbot-absolute-{u}.txt", "..\\..\\windows.txt", "a/b/../../c.txt",
              "./././dot.txt", "~/home.txt", "%2e%2e%2fencoded.txt", "sub/dir/\u202etxt.exe.txt",
              "new\nline.txt", "nul\x00.txt"]


async def test_names_with_paths_only_select_the_format(engine: SearchEngine, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch):
    cwd = tmp_path / "cwd" / "deeper"
    cwd.mkdir(parents=True)
    monkeypatch.chdir(cwd)
    unique = tmp_path.name
    before = files_under(tmp_path)
    article = "\n".join(["عنوان الخبر", ARABIC]).encode()
    ids = []
    for i, name in enumerate(PATH_NAMES):
        name = name.format(u=unique)
        report = await engine.ingest_bytes(article + f" {i}".encode(), name)
        assert report.added == 1, (name, report.skipped)
        ids.append(await _last_added_id(engine))
    assert ids == ["escape", f"newsbot-absolute-{unique}", "windows", "c", "dot", "home", "%2e%2e%2fencoded",
                   "txt.exe", "newline", "nul"]
    # the upload name selects the format: the same name with '..' cannot smuggle in another one
    for name in ("../x.jsonl/..", "evil.txt/..", "..", "/", "", "\\", "x.txt\x00.png", "x.txt/"):
        report = await engine.ingest_bytes(article, name)
        assert report.ingested == 0 and "unsupported file type" in report.skipped[0].reason, name
    assert files_under(tmp_path) - before <= {Path("db") / f for f in
                                                        ("news.db", "news.db-wal", "news.db-shm",
                                                         "news.db.index.npz", "news.db.index.npz.tmp")}
    assert entries_named_like(Path("/tmp"), unique) == []
    assert files_under(cwd) == set()
    assert integrity_problems(engine.db_path) == [] and partial_articles(engine.db_path) == []


def entries_named_like(folder: Path, part: str) -> list[Path]:
    return [p for p in folder.iterdir() if part in p.name]


async def _last_added_id(engine: SearchEngine) -> str:
    async with engine._reader.execute("SELECT id, origin FROM articles ORDER BY rowid DESC LIMIT 1") as cur:
        article_id, origin = await cur.fetchone()
    assert "/" not in origin and "\\" not in origin and "\n" not in origin and "\x00" not in origin
    return article_id


def test_every_hostile_case_has_a_distinct_name():
    names = [h[0] for h in HOSTILE]
    assert len(names) == len(set(names)) and len(names) >= 40


ESCAPES = "\u001b[2J\u001b]0;pwned\u0007\u009b31m\u0085\u007f\u0008"


async def test_terminal_escapes_and_other_controls_are_removed_not_stored(engine: SearchEngine):
    """Invisible in text, interpreted by terminals and chat clients: stripped from every field."""
    data = "\n".join([line(id="esc", title=f"عنوان{ESCAPES}", source=f"وكالة{ESCAPES}", text=f"{ARABIC}{ESCAPES} خبر"),
                      line(id="tab", text=f"{ARABIC}\tمع\fفواصل\r\nعادية")]).encode()
    report = await engine.ingest_bytes(data, "controls.jsonl")
    assert report.added == 2, report.skipped
    esc = await engine.article("esc")
    assert (esc.title, esc.source, esc.body) == ("عنوان[2J]0;pwned31m", "وكالة[2J]0;pwned31m",
                                                 f"{ARABIC}[2J]0;pwned31m خبر")
    assert "\t" in (await engine.article("tab")).body  # ordinary whitespace controls stay
    txt = await engine.ingest_bytes(f"عنوان{ESCAPES}\n{ARABIC}{ESCAPES}".encode(), "plain.txt")
    plain = await engine.article("plain")
    assert txt.added == 1 and (plain.title, plain.body) == ("عنوان[2J]0;pwned31m", f"{ARABIC}[2J]0;pwned31m")


def test_reader_never_raises_on_random_mutations_of_valid_files():
    """Seeded byte-level mutations of valid files: records or reasons, never an exception."""
    rng = random.Random(SEED)
    seeds = {"a.jsonl": valid_jsonl(5, "m-"), "a.json": json.dumps(NEWS, ensure_ascii=False).encode(),
             "a.txt": SAMPLE.read_bytes()[:3000], "a.jsonl.gz": gzip.compress(valid_jsonl(5, "g-"))}
    tried = 0
    for name, original in seeds.items():
        for _ in range(250):
            data = bytearray(original)
            for _ in range(rng.randint(1, 8)):
                pos = rng.randrange(len(data))
                op = rng.random()
                if op < 0.5:
                    data[pos] = rng.randrange(256)
                elif op < 0.75:
                    del data[pos:pos + rng.randint(1, 40)]
                else:
                    data[pos:pos] = rng.choice([b"\x00", b"\\u0000", b"\\ud800", b"[" * 3000, b"\xff\xfe",
                                                b'"', b"\n", "\u064e".encode()])
            for record in read_bytes(bytes(data), name):
                assert isinstance(record, Skipped) or (record.body.strip() and record.id)
            tried += 1
    assert tried == 1000


# --- the same through `newsbot ingest`, a real process ---------------------------------------------


def write_hostile_files(folder: Path) -> list[Path]:
    folder.mkdir()
    paths = []
    for name, data, _, _ in HOSTILE:
        if name in ("bomb.jsonl.gz",):
            continue  # the 2 GiB default limit makes the CLI test slow; see the size-limit test below
        path = folder / name
        path.write_bytes(content(name, data))
        paths.append(path)
    return paths


def test_cli_refuses_each_hostile_file_with_its_reason_and_keeps_earlier_data(tmp_path: Path):
    db = tmp_path / "db" / "news.db"
    db.parent.mkdir()
    assert newsbot("ingest", str(SAMPLE), db=db).returncode == 0
    before = snapshot(db)
    paths = write_hostile_files(tmp_path / "hostile")
    files_before = files_under(tmp_path)

    out = newsbot("ingest", *map(str, paths), db=db)
    assert out.returncode == 1, out.stderr  # nothing at all could be ingested
    assert "Traceback" not in out.stderr
    for path in paths:
        assert f"skipped {path}" in out.stderr, path.name
    assert snapshot(db) == before
    assert integrity_problems(db) == [] and partial_articles(db) == []

    good = write_jsonl(tmp_path / "good.jsonl", NEWS)
    out = newsbot("ingest", str(tmp_path / "hostile"), str(good), db=db)
    assert out.returncode == 0 and "3 added" in out.stdout, out.stdout + out.stderr
    after = snapshot(db)
    assert {a[0] for a in after.articles} == {a[0] for a in before.articles} | {"n1", "n2", "n3"}
    assert files_under(tmp_path) - files_before <= {Path("good.jsonl")} | {
        Path("db") / f for f in ("news.db-wal", "news.db-shm", "news.db.index.npz")}
    out = newsbot("ask", "ما رقم قرار مجلس الأمن بشأن المساعدة الإنسانية في سوريا؟", db=db)
    assert out.returncode == 0 and "2585" in out.stdout


def test_cli_size_limit_and_gzip_bomb(tmp_path: Path):
    db = tmp_path / "news.db"
    assert newsbot("ingest", str(SAMPLE), db=db).returncode == 0
    before = snapshot(db)
    big = tmp_path / "big.jsonl"
    big.write_bytes(valid_jsonl(600, "big-"))
    bomb = tmp_path / "bomb.jsonl.gz"
    bomb.write_bytes(gzip_bomb())
    out = newsbot("ingest", str(big), str(bomb), db=db, env={"NEWSBOT_MAX_INPUT_BYTES": "65536"})
    assert out.returncode == 1
    assert f"skipped {big}: file is larger than the 65,536 byte limit" in out.stderr
    assert f"skipped {bomb}: decompresses to more than the 65,536 byte limit" in out.stderr
    out = newsbot("ingest", str(bomb), db=db)  # default limit: refused by its compression ratio
    assert out.returncode == 1 and "gzip bomb" in out.stderr
    assert snapshot(db) == before and integrity_problems(db) == []


def test_cli_passes_over_pipes_and_devices_instead_of_hanging(tmp_path: Path):
    folder = tmp_path / "data"
    folder.mkdir()
    os.mkfifo(folder / "pipe.jsonl")  # opening it for reading would block for ever
    (folder / "device.txt").symlink_to("/dev/zero")  # reading it would never end
    write_jsonl(folder / "good.jsonl", NEWS)
    db = tmp_path / "news.db"
    out = newsbot("ingest", str(folder), "/dev/null", db=db)
    assert out.returncode == 0 and "3 added" in out.stdout, out.stderr
    for name in (folder / "pipe.jsonl", folder / "device.txt", Path("/dev/null")):
        assert f"skipped {name}: not a regular file" in out.stderr
    assert integrity_problems(db) == []


def test_cli_names_a_damaged_database_file_instead_of_a_traceback(tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]):
    db = tmp_path / "news.db"
    assert cli_main(["ingest", "--quiet", str(SAMPLE), "--db", str(db)]) == 0  # closing checkpoints the WAL
    whole = db.read_bytes()
    for name, damaged in (("truncated.db", whole[:len(whole) // 2]), ("text.db", b"these are not the pages"),
                          ("flipped.db", whole[:4096] + seeded_bytes(len(whole) - 4096))):
        target = tmp_path / name
        target.write_bytes(damaged)
        for args in (["ask", "سوريا"], ["ingest", str(SAMPLE)], ["stats"]):
            capsys.readouterr()
            code = cli_main([*args, "--db", str(target)])  # the code of a `newsbot` process
            err = capsys.readouterr().err
            assert code == 2 and f"newsbot: {target}: " in err, (name, args, err)
