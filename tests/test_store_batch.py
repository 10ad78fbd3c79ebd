"""Batched article writes: one lookup and a few executemany per batch, same outcome as one by one."""

import sqlite3
from pathlib import Path

from bot import schema
from retrieval import db as db_module
from retrieval import store
from retrieval.articles import Article


def prepared(aid: str, body: str) -> store.PreparedArticle:
    article = Article(id=aid, body=body, title=f"t-{aid}")
    return store.PreparedArticle(article, article.fingerprint(), "test",
                                 [(0, 0, len(body), body.lower())])


def table(db: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(db) as con:
        return con.execute(sql).fetchall()


async def test_batch_with_new_unchanged_updated_and_repeated_ids(tmp_path: Path):
    path = tmp_path / "news.db"
    db = await store.connect(path)
    try:
        assert await store.write_articles(db, [prepared("a", "one"), prepared("b", "two")]) == \
            {"added": 2, "updated": 0, "unchanged": 0}
        counts = await store.write_articles(db, [
            prepared("a", "one"),        # unchanged
            prepared("b", "two v2"),     # updated
            prepared("c", "three"),      # new ...
            prepared("c", "three v2"),   # ... then edited within the same batch
            prepared("b", "two v2"),     # a repeat of the update: unchanged
        ])
        assert counts == {"added": 1, "updated": 2, "unchanged": 2}
        assert await store.content_generation(db) == 2
        unchanged = await store.write_articles(db, [prepared("a", "one")])
        assert unchanged == {"added": 0, "updated": 0, "unchanged": 1}
        assert await store.content_generation(db) == 2  # nothing written, index still current
    finally:
        await db.close()
    final = [("a", "one"), ("b", "two v2"), ("c", "three v2")]
    assert table(path, "SELECT id, body FROM articles ORDER BY id") == final
    assert table(path, 'SELECT a.id, substr(a.body, p.start + 1, p."end" - p.start) FROM passages p'
                       " JOIN articles a ON a.id = p.article_id ORDER BY a.id") == final


async def test_a_failing_batch_leaves_nothing_behind(tmp_path: Path):
    path = tmp_path / "news.db"
    db = await store.connect(path)
    try:
        bad = prepared("x", "ok")
        # Two passages with the same order number break UNIQUE (article_id, ord) mid-batch.
        bad = store.PreparedArticle(bad.article, bad.content_hash, "test", [*bad.passages, *bad.passages])
        try:
            await store.write_articles(db, [prepared("a", "one"), bad])
        except sqlite3.IntegrityError:
            pass
        else:
            raise AssertionError("the duplicate passage was accepted")
    finally:
        await db.close()
    assert table(path, "SELECT COUNT(*) FROM articles") == [(0,)]
    assert table(path, "SELECT COUNT(*) FROM passages") == [(0,)]


async def test_rollback_after_a_completed_commit_is_quiet(tmp_path):
    # What a Ctrl-C during COMMIT leaves: the commit done, the error path rolling back.
    from retrieval import store

    db = await store.connect(tmp_path / "news.db")
    try:
        await db.execute("BEGIN IMMEDIATE")
        await db.execute("COMMIT")
        await store.rollback(db)  # nothing to roll back: no error
        await db.execute("BEGIN IMMEDIATE")
        await db.execute("INSERT INTO meta (key, value) VALUES ('x', '1')")
        await store.rollback(db)
        assert await store.get_meta(db, "x", "absent") == "absent"
    finally:
        await db.close()


async def test_new_databases_get_16k_pages_and_older_ones_keep_theirs(tmp_path: Path):
    fresh = tmp_path / "new.db"
    db = await store.connect(fresh)
    await store.write_articles(db, [prepared("a", "نص " * 4000)])  # a body larger than a 4 KiB page
    await db.close()
    assert table(fresh, "PRAGMA page_size") == [(store.PAGE_SIZE,)]

    older = tmp_path / "old.db"
    with sqlite3.connect(older) as con:  # as a version before 16 KiB pages created it
        con.execute("PRAGMA page_size=4096")
        con.execute("PRAGMA journal_mode=WAL")
    db = await store.connect(older)
    await store.write_articles(db, [prepared("a", "one"), prepared("b", "نص " * 4000)])
    await db.close()
    assert table(older, "PRAGMA page_size") == [(4096,)]
    assert table(older, "SELECT id, length(body) FROM articles ORDER BY id") == [("a", 3), ("b", 12000)]


def test_fingerprint_is_stable_and_tells_fields_apart():
    article = Article(id="a1", body="نص المقال", title="عنوان", source="المصدر", section="سياسة",
                      published="2021-11-22", url="https://example.com/a1", author="كاتب")
    assert article.fingerprint() == "2:a26a10c0a2bc5290e86dbf749bc3b4afe5876e05"
    # Text moved from one field to the next is another article.
    assert Article(id="a", body="bc").fingerprint() != Article(id="ab", body="c").fingerprint()
    assert Article(id="a", body="b", title="").fingerprint() != Article(id="a", body="", title="b").fingerprint()


async def test_only_a_changed_or_cleared_hash_rewrites_an_article(tmp_path: Path):
    path = tmp_path / "news.db"
    db = await store.connect(path)
    try:
        await store.write_articles(db, [prepared("a", "one"), prepared("b", "two"), prepared("c", "three")])
        before = dict(table(path, "SELECT id, updated_at FROM articles"))
        counts = await store.write_articles(db, [prepared("a", "one"), prepared("b", "two v2")])
        assert counts == {"added": 0, "updated": 1, "unchanged": 1}
        assert table(path, "SELECT body FROM articles WHERE id = 'b'") == [("two v2",)]
        assert dict(table(path, "SELECT id, updated_at FROM articles"))["a"] == before["a"]
        # A hash cleared by a pipeline change never matches.
        await db.execute("UPDATE articles SET content_hash = '' WHERE id = 'c'")
        assert await store.write_articles(db, [prepared("c", "three")]) == {"added": 0, "updated": 1, "unchanged": 0}
    finally:
        await db.close()


def test_fingerprint_streams_long_fields_as_the_joined_definition():
    import hashlib

    from retrieval.articles import _HASHED_FIELDS

    for body in ("قصير", "نص طويل " * 100, "x" * 255, "y" * 256, "😀" * 300):
        article = Article(id="a" * 300, body=body, title="عنوان " * 60, url="")
        joined = "\x00".join(f"{len(v)}\x00{v}" for v in (getattr(article, n) for n in _HASHED_FIELDS))
        assert article.fingerprint() == "2:" + hashlib.sha1(joined.encode("utf-8")).hexdigest()
    # Every field non-empty and distinct, so a field spelled out of its place would show.
    values = {name: f"{name} قيمة {i}" * (i + 1) for i, name in enumerate(_HASHED_FIELDS)}
    article = Article(**values)
    joined = "\x00".join(f"{len(v)}\x00{v}" for v in (values[n] for n in _HASHED_FIELDS))
    assert article.fingerprint() == "2:" + hashlib.sha1(joined.encode("utf-8")).hexdigest()


def test_a_cancelled_connect_leaves_no_thread_reporting_to_a_closed_loop(tmp_path: Path, monkeypatch):
    import asyncio
    import threading
    import time

    real_connect = sqlite3.connect

    def slow_connect(*args, **kwargs):  # the file takes a while to open (a loaded machine)
        time.sleep(0.3)
        return real_connect(*args, **kwargs)

    monkeypatch.setattr(sqlite3, "connect", slow_connect)
    errors: list[BaseException] = []
    monkeypatch.setattr(threading, "excepthook", lambda args: errors.append(args.exc_value))

    async def ctrl_c_while_opening() -> None:
        opening = asyncio.ensure_future(store.connect(tmp_path / "news.db"))
        await asyncio.sleep(0.05)
        opening.cancel()
        try:
            await opening
        except asyncio.CancelledError:
            return
        raise AssertionError("connect was not cancelled")

    asyncio.run(ctrl_c_while_opening())  # closes the loop right after
    time.sleep(0.5)
    assert errors == []
    assert not [t for t in threading.enumerate() if "_connection_worker_thread" in t.name]


async def test_terms_given_as_utf8_are_stored_as_the_same_text(tmp_path: Path):
    # Ingest hands a passage's terms over as UTF-8 bytes (written by the C chain); SQLite must
    # store exactly what binding the str stores: TEXT, the same bytes, NUL included.
    body = "أحمد\x00 é 😀 \u2028x ١٢"
    as_str = prepared("s", body)
    as_utf8 = store.PreparedArticle(Article(id="u", body=body, title="t-u"), "h", "test",
                                    [(o, s, e, terms.encode()) for o, s, e, terms in as_str.passages])
    path = tmp_path / "news.db"
    db = await store.connect(path)
    try:
        await store.write_articles(db, [as_str, as_utf8])
    finally:
        await db.close()
    rows = table(path, "SELECT typeof(terms), terms, hex(terms) FROM passages ORDER BY article_id")
    assert rows[0] == rows[1]
    assert rows[0] == ("text", body.lower(), body.lower().encode().hex().upper())


async def test_a_database_that_stored_passage_texts_drops_them_and_keeps_its_passages(tmp_path: Path):
    path = tmp_path / "old.db"
    body = "الفقرة الأولى\n\nالفقرة الثانية"
    with sqlite3.connect(path) as con:  # as schema version 2 left it: each passage's text stored too
        con.executescript(store.MIGRATIONS[0])
        con.executescript(schema.MIGRATIONS[0])
        con.execute("PRAGMA user_version = 2")
        con.execute("INSERT INTO articles (id, body, content_hash, ingested_at, updated_at)"
                    " VALUES ('a', ?, 'h', 't', 't')", (body,))
        con.executemany('INSERT INTO passages (article_id, ord, start, "end", text, terms) VALUES (?,?,?,?,?,?)',
                        [("a", 0, 0, 13, body[0:13], "فقر اول"), ("a", 1, 15, 29, body[15:29], "فقر ثان")])
    db = await store.connect(path)
    try:
        got = await store.passages_by_id(db, [1, 2])
    finally:
        await db.close()
    assert [got[i].text for i in (1, 2)] == ["الفقرة الأولى", "الفقرة الثانية"]
    assert table(path, "PRAGMA user_version") == [(db_module.USER_VERSION,)]
    assert table(path, "SELECT name, version FROM schema_versions ORDER BY name") == [
        ("bot", 1), ("retrieval", store.SCHEMA_VERSION)]  # the bot's tables wait for the bot to open the file
    assert "text" not in [c[1] for c in table(path, "PRAGMA table_info(passages)")]
    assert table(path, 'SELECT article_id, ord, start, "end", terms FROM passages ORDER BY id') == \
        [("a", 0, 0, 13, "فقر اول"), ("a", 1, 15, 29, "فقر ثان")]
