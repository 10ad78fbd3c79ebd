"""End to end through SearchEngine: the sample article, ingestion, the index lifecycle."""

import gzip
import sqlite3
from pathlib import Path

import pytest

from retrieval import db as db_module
from retrieval import store
from retrieval.engine import RetrievalConfig, SearchEngine

from .conftest import NEWS, SAMPLE, write_jsonl


def rows(db: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(db) as con:
        return con.execute(sql).fetchall()


# --- the sample article -------------------------------------------------------

async def test_resolution_number_question_returns_the_2585_passage(sample_engine):
    result = await sample_engine.search("ما رقم قرار مجلس الأمن بشأن المساعدة الإنسانية في سوريا؟")
    assert result.no_answer is None
    top = result.hits[0]
    assert "2585" in top.excerpt
    assert top.title.startswith("الحوار الروسي الايراني")
    assert (top.source, top.section, top.published) == ("المدن", "عرب وعالم", "2021-11-22")


async def test_iranian_foreign_minister_question_finds_abdollahian(sample_engine):
    result = await sample_engine.search("من هو وزير الخارجية الإيراني؟")
    assert "عبد اللهيان" in result.hits[0].excerpt


@pytest.mark.parametrize("spelling", ["لافرينتييف", "لافرنتييف", "لافرنتيف"])
async def test_every_spelling_of_lavrentiev_finds_him(sample_engine, spelling):
    result = await sample_engine.search(f"ماذا قال {spelling} عن سوريا؟")
    assert result.hits, spelling
    assert "لافرينتييف" in result.hits[0].excerpt or "لافرنتييف" in result.hits[0].excerpt


async def test_fully_diacritised_question(sample_engine):
    result = await sample_engine.search("مَا رَقْمُ قَرَارِ مَجْلِسِ الأَمْنِ بِشَأْنِ المُسَاعَدَةِ الإِنْسَانِيَّةِ؟")
    assert "2585" in result.hits[0].excerpt


async def test_arabic_indic_digits_find_ascii_digits(sample_engine):
    result = await sample_engine.search("القرار ٢٥٨٥")
    assert result.hits and "2585" in result.hits[0].excerpt
    assert any(result.hits[0].excerpt[s:e] == "2585" for s, e in result.hits[0].highlights)


async def test_stopwords_only_question_gets_explicit_no_answer(sample_engine):
    result = await sample_engine.search("من هو في على إلى؟")
    assert result.hits == () and result.no_answer == "no_terms"


async def test_question_about_something_absent_gets_no_answer(sample_engine):
    result = await sample_engine.search("كم سعر الذهب في بورصة طوكيو")
    assert result.hits == () and result.no_answer in ("unknown_terms", "weak")


async def test_highlights_mark_the_matched_words(sample_engine):
    hit = (await sample_engine.search("قرار مجلس الأمن")).hits[0]
    marked = {hit.excerpt[s:e] for s, e in hit.highlights}
    assert {"قرار", "مجلس", "الأمن"} <= marked
    assert len(hit.excerpt) <= 310


# --- ingestion --------------------------------------------------------------------

async def test_each_format_and_gz_is_ingested(tmp_path: Path):
    d = tmp_path / "in"
    (d / "nested").mkdir(parents=True)
    write_jsonl(d / "news.jsonl", NEWS[:1])
    (d / "nested" / "more.jsonl.gz").write_bytes(gzip.compress(
        write_jsonl(tmp_path / "tmp.jsonl", NEWS[1:2]).read_bytes()))
    (d / "one.json").write_text('{"id": "j1", "title": "خبر", "text": "نص خبر عن الانتخابات"}', encoding="utf-8")
    (d / "sample.txt.gz").write_bytes(gzip.compress(SAMPLE.read_bytes()))
    (d / "README.md").write_text("not an article")
    async with await SearchEngine.open(tmp_path / "db.sqlite") as engine:
        report = await engine.ingest_paths([d])
        assert (report.added, report.skipped) == (4, [])
        assert (await engine.search("مباراة المنتخب المغربي")).hits[0].article_id == "n2"
    ids = {r[0] for r in rows(tmp_path / "db.sqlite", "SELECT id FROM articles")}
    assert ids == {"n1", "n2", "j1", "sample"}


async def test_reingest_is_idempotent_and_edit_replaces_passages(tmp_path: Path):
    src = write_jsonl(tmp_path / "a.jsonl", NEWS)
    db = tmp_path / "db.sqlite"
    async with await SearchEngine.open(db) as engine:
        first = await engine.ingest_paths([src])
        again = await engine.ingest_paths([src])
        assert (first.added, again.added, again.unchanged) == (3, 0, 3)
        before = rows(db, "SELECT COUNT(*) FROM passages")[0][0]
        edited = [dict(NEWS[0], text="تراجعت أسعار الذهب بشكل حاد اليوم في البورصات العالمية."), *NEWS[1:]]
        report = await engine.ingest_paths([write_jsonl(src, edited)])
        assert (report.updated, report.unchanged) == (1, 2)
        assert rows(db, "SELECT COUNT(*) FROM articles")[0][0] == 3
        texts = " ".join(r[0] for r in rows(db, 'SELECT substr(a.body, p.start + 1, p."end" - p.start) FROM passages p'
                                               " JOIN articles a ON a.id = p.article_id WHERE a.id = 'n1'"))
        assert "الذهب" in texts and "أوبك" not in texts
        assert rows(db, "SELECT COUNT(*) FROM passages")[0][0] <= before + 1
        assert (await engine.search("أسعار الذهب")).hits[0].article_id == "n1"
        assert (await engine.search("منظمة أوبك خفض الإنتاج")).hits == ()


async def test_malformed_line_is_skipped_and_rest_lands(tmp_path: Path):
    src = tmp_path / "mixed.jsonl"
    good = write_jsonl(tmp_path / "g.jsonl", NEWS).read_text(encoding="utf-8").splitlines()
    src.write_text("\n".join([good[0], '{"id": "broken", "text": ', good[1], good[2]]) + "\n", encoding="utf-8")
    async with await SearchEngine.open(tmp_path / "db.sqlite") as engine:
        report = await engine.ingest_paths([src])
    assert report.added == 3
    assert [str(s) for s in report.skipped] == [f"{src}:2: invalid JSON (Expecting value at column 26)"]


async def test_wrong_encoding_and_empty_file_change_nothing(tmp_path: Path):
    db = tmp_path / "db.sqlite"
    async with await SearchEngine.open(db) as engine:
        await engine.ingest_paths([write_jsonl(tmp_path / "a.jsonl", NEWS)])
        snapshot = rows(db, "SELECT id, content_hash FROM articles ORDER BY id")
        (tmp_path / "latin.txt").write_bytes("Titre\n\nUn texte français très accentué à l'été".encode("latin-1"))
        (tmp_path / "empty.jsonl").write_bytes(b"")
        report = await engine.ingest_paths([tmp_path / "latin.txt", tmp_path / "empty.jsonl"])
        assert report.ingested == 0 and len(report.skipped) == 2
        assert "UTF-8" in report.skipped[0].reason and "empty" in report.skipped[1].reason
    assert rows(db, "SELECT id, content_hash FROM articles ORDER BY id") == snapshot


async def test_windows_1256_file_is_ingested_readably(tmp_path: Path):
    src = tmp_path / "cp.txt"
    src.write_bytes(SAMPLE.read_text(encoding="utf-8").encode("cp1256", errors="strict"))
    async with await SearchEngine.open(tmp_path / "db.sqlite") as engine:
        assert (await engine.ingest_paths([src])).added == 1
        assert "2585" in (await engine.search("قرار مجلس الأمن 2585")).hits[0].excerpt


async def test_failure_mid_batch_leaves_no_half_article(tmp_path: Path, monkeypatch):
    db = tmp_path / "db.sqlite"
    async with await SearchEngine.open(db) as engine:
        await engine.ingest_paths([write_jsonl(tmp_path / "a.jsonl", NEWS[:1])])
        original = engine._writer.executemany
        calls = 0

        async def failing(sql, params):
            nonlocal calls
            calls += 1
            if calls == 2:  # passages of the second article of the batch
                raise KeyboardInterrupt
            return await original(sql, params)

        monkeypatch.setattr(engine._writer, "executemany", failing)
        with pytest.raises(KeyboardInterrupt):
            await engine.ingest_paths([write_jsonl(tmp_path / "b.jsonl", NEWS[1:])])
    assert rows(db, "SELECT id FROM articles") == [("n1",)]
    assert rows(db, "SELECT DISTINCT article_id FROM passages") == [("n1",)]
    assert rows(db, "PRAGMA integrity_check") == [("ok",)]


# --- index lifecycle ---------------------------------------------------------------

async def test_index_is_persisted_and_reloaded_without_rebuild(tmp_path: Path, monkeypatch):
    db = tmp_path / "db.sqlite"
    async with await SearchEngine.open(db) as engine:
        await engine.ingest_paths([write_jsonl(tmp_path / "a.jsonl", NEWS)])
        built = (await engine.stats()).index
    assert engine.index_path.exists()

    async def no_rebuild(self):
        raise AssertionError("index rebuilt although the persisted one is current")

    monkeypatch.setattr(SearchEngine, "rebuild_index", no_rebuild)
    async with await SearchEngine.open(db) as engine:
        assert (await engine.stats()).index == built
        assert (await engine.search("هاتف آيفون")).hits[0].article_id == "n3"


async def test_stale_index_is_rebuilt_on_open(tmp_path: Path):
    db = tmp_path / "db.sqlite"
    async with await SearchEngine.open(db) as engine:
        await engine.ingest_paths([write_jsonl(tmp_path / "a.jsonl", NEWS[:2])], rebuild=False)
    async with await SearchEngine.open(db) as engine:
        assert (await engine.search("مباراة المنتخب")).hits[0].article_id == "n2"


async def test_changed_analysis_settings_rederive_every_article_on_open(tmp_path: Path, monkeypatch):
    db = tmp_path / "db.sqlite"
    news = write_jsonl(tmp_path / "a.jsonl", NEWS)
    async with await SearchEngine.open(db) as engine:
        await engine.ingest_paths([SAMPLE, news])
    hashes = rows(db, "SELECT id, content_hash FROM articles")
    before = rows(db, "SELECT article_id, terms FROM passages ORDER BY article_id, ord")
    monkeypatch.setattr("retrieval.ingest.INGEST_BATCH", 2)  # several batches: every article is reached
    smaller = RetrievalConfig(passage_target_chars=200, passage_max_chars=300, title_weight=1)
    async with await SearchEngine.open(db, smaller) as engine:
        assert rows(db, 'SELECT MAX("end" - start) FROM passages')[0][0] <= 300
        after = rows(db, "SELECT article_id, terms FROM passages ORDER BY article_id, ord")
        rederived = {aid for aid, _ in after} - {aid for aid, _ in set(after) & set(before)}
        assert rederived == {aid for aid, _ in hashes}  # one title copy instead of two, in every article
        # The content is the same: hashes unchanged, a re-ingest is still a no-op.
        assert rows(db, "SELECT id, content_hash FROM articles") == hashes
        assert (await engine.ingest_paths([SAMPLE, news])).unchanged == 4
        assert "2585" in (await engine.search("ما رقم قرار مجلس الأمن بشأن المساعدة الإنسانية؟")).hits[0].excerpt


async def test_delete_removes_article_and_its_passages(tmp_path: Path):
    db = tmp_path / "db.sqlite"
    async with await SearchEngine.open(db) as engine:
        await engine.ingest_paths([write_jsonl(tmp_path / "a.jsonl", NEWS)])
        assert await engine.delete_article("n3")
        assert not await engine.delete_article("n3")
        assert (await engine.search("هاتف آيفون")).hits == ()
    assert rows(db, "SELECT COUNT(*) FROM passages WHERE article_id = 'n3'") == [(0,)]


async def test_paging_never_repeats_an_article(tmp_path: Path):
    many = [dict(NEWS[0], id=f"o{i}", url=f"https://example.com/o{i}",
                 text=NEWS[0]["text"] + f" تقرير رقم {i}.") for i in range(7)]
    # Copies of one text: grouped as one story unless answers list every article (what this tests).
    async with await SearchEngine.open(tmp_path / "db.sqlite", RetrievalConfig(one_per_story=False)) as engine:
        await engine.ingest_paths([write_jsonl(tmp_path / "a.jsonl", many)])
        seen = []
        offset = 0
        while True:
            page = await engine.search("أسعار النفط", k=3, offset=offset)
            seen += [h.article_id for h in page.hits]
            if not page.has_more:
                break
            offset += 3
        assert sorted(seen) == sorted(f"o{i}" for i in range(7))


async def test_latest_and_sources(tmp_path: Path):
    async with await SearchEngine.open(tmp_path / "db.sqlite") as engine:
        await engine.ingest_paths([write_jsonl(tmp_path / "a.jsonl", NEWS)])
        assert [a.id for a in await engine.latest(2)] == ["n3", "n2"]
        assert await engine.sources() == [("bbc", 1), ("cnn", 1), ("skynews", 1)]


async def test_newer_schema_is_refused(tmp_path: Path):
    db = tmp_path / "db.sqlite"
    with sqlite3.connect(db) as con:
        con.execute(f"PRAGMA user_version = {db_module.USER_VERSION + 1}")
    with pytest.raises(store.SchemaError, match="newer"):
        await SearchEngine.open(db, RetrievalConfig())


async def test_index_file_from_an_older_build_is_not_served(tmp_path: Path):
    """An orphaned build finishing late may put an older index file in place: it is rebuilt, not served."""
    db = tmp_path / "db.sqlite"
    src = write_jsonl(tmp_path / "a.jsonl", NEWS)
    async with await SearchEngine.open(db) as engine:
        await engine.ingest_paths([src])
        old = engine.index_path.read_bytes()
        # Same passage count, different words: only the generation tells the files apart.
        edited = [dict(NEWS[0], text=NEWS[0]["text"].replace("أوبك", "المنتجين")), *NEWS[1:]]
        await engine.ingest_paths([write_jsonl(src, edited)])
        index_path = engine.index_path
    index_path.write_bytes(old)
    async with await SearchEngine.open(db) as engine:
        assert (await engine.search("قرار المنتجين خفض الإنتاج")).hits[0].article_id == "n1"
        assert (await engine.search("أوبك")).hits == ()


async def test_a_database_from_before_fingerprints_re_ingests_as_unchanged_after_opening(tmp_path: Path):
    db = tmp_path / "db.sqlite"
    src = write_jsonl(tmp_path / "a.jsonl", NEWS)
    async with await SearchEngine.open(db) as engine:
        await engine.ingest_paths([src])
        signature = engine.config.pipeline_signature
    # As a version before fingerprints left it: an older pipeline, and hashes
    # in the older scheme (40 bare hex digits of SHA-1 over the fields' JSON).
    older_pipeline = "5" + signature[signature.index(":"):]
    with sqlite3.connect(db) as con:
        con.execute("UPDATE meta SET value = ? WHERE key = 'pipeline'", (older_pipeline,))
        con.execute("UPDATE articles SET content_hash = substr(hex(randomblob(20)), 1, 40)")
    async with await SearchEngine.open(db) as engine:  # re-derives every article
        assert (await engine.search("أوبك")).hits
    assert all(h.startswith("2:") for (h,) in rows(db, "SELECT content_hash FROM articles"))
    snapshot = rows(db, "SELECT id, content_hash, updated_at FROM articles ORDER BY id")
    async with await SearchEngine.open(db) as engine:
        report = await engine.ingest_paths([src])
    assert (report.added, report.updated, report.unchanged) == (0, 0, len(NEWS))
    assert rows(db, "SELECT id, content_hash, updated_at FROM articles ORDER BY id") == snapshot
