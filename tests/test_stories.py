"""One result per story: near-duplicate grouping at ingest, kept in SQLite, and `also` in answers."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import numpy as np

from retrieval import stories, storyindex
from retrieval.engine import RetrievalConfig, SearchEngine

from .conftest import write_jsonl
from .test_cli import newsbot

WIRE = ("أعلنت وزارة الصحة في المغرب اليوم الثلاثاء تسجيل أول إصابة بفيروس جدري القردة في مدينة الدار البيضاء، "
        "وقالت الوزارة في بيان إن المريض رجل في الأربعين عاد من رحلة إلى أوروبا وإن حالته مستقرة. "
        "وأضافت أن فرق الرصد تتابع المخالطين وأن الفحوص أجريت في معهد باستور.")
# A light rewrite, as another outlet runs the same wire copy.
REWRITE = ("أعلنت وزارة الصحة المغربية، الثلاثاء، تسجيل أول إصابة بفيروس جدري القردة في مدينة الدار البيضاء. "
           "وقالت الوزارة في بيان إن المريض رجل في الأربعين عاد من رحلة إلى أوروبا، وإن حالته مستقرة. "
           "وأضافت أن فرق الرصد تتابع المخالطين.")
# Same day, same topic, another story.
OTHER = ("قالت وزارة الصحة في المغرب إن حملة التطعيم ضد الإنفلونزا الموسمية تبدأ الأسبوع المقبل في المستشفيات "
         "العمومية، وتستهدف كبار السن والحوامل والمصابين بأمراض مزمنة، مع توفير مليون جرعة من اللقاح.")

ARTICLES = [
    {"id": "w1", "title": "المغرب يسجل أول إصابة بجدري القردة", "source": "skynews", "published": "2022-05-24T10:00",
     "url": "https://example.com/w1", "text": WIRE},
    {"id": "w2", "title": "أول إصابة بجدري القردة في المغرب", "source": "alarabia", "published": "2022-05-24T12:00",
     "url": "https://example.com/w2", "text": REWRITE},
    {"id": "w3", "title": "المغرب يسجل أول إصابة بجدري القردة", "source": "skynews", "published": "2022-05-24T10:00",
     "category": "صحة", "url": "https://example.com/w3", "text": WIRE},  # the same article in another section
    {"id": "o1", "title": "حملة تطعيم ضد الإنفلونزا في المغرب", "source": "skynews", "published": "2022-05-24T11:00",
     "url": "https://example.com/o1", "text": OTHER},
]


def story_rows(db: Path) -> dict[str, str]:
    with sqlite3.connect(db) as con:
        return dict(con.execute("SELECT article_id, story FROM stories"))


async def test_wire_copies_are_one_story_and_other_news_of_the_day_is_not(tmp_path: Path) -> None:
    db = tmp_path / "news.db"
    async with await SearchEngine.open(db, RetrievalConfig()) as engine:
        await engine.ingest_paths([write_jsonl(tmp_path / "a.jsonl", ARTICLES)])
        rows = story_rows(db)
        assert rows["w1"] == rows["w2"] == rows["w3"] == "w1"
        assert rows["o1"] == "o1"

        result = await engine.search("إصابة بجدري القردة في المغرب", k=5)
        ids = [h.article_id for h in result.hits]
        assert len([i for i in ids if i in ("w1", "w2", "w3")]) == 1, ids
        shown = next(h for h in result.hits if h.article_id in ("w1", "w2", "w3"))
        assert {c.article_id for c in shown.also} == {"w1", "w2", "w3"} - {shown.article_id}
        assert {c.source for c in shown.also} <= {"skynews", "alarabia"}

        # Deleting the shown version leaves the story to the others.
        assert await engine.delete_article(shown.article_id)
        again = await engine.search("إصابة بجدري القردة في المغرب", k=5)
        assert len([h for h in again.hits if h.article_id in ("w1", "w2", "w3")]) == 1
        assert shown.article_id not in story_rows(db)


async def test_grouping_survives_a_restart_and_follows_edits(tmp_path: Path) -> None:
    db = tmp_path / "news.db"
    async with await SearchEngine.open(db, RetrievalConfig()) as engine:
        await engine.ingest_paths([write_jsonl(tmp_path / "a.jsonl", ARTICLES[:1])])
    async with await SearchEngine.open(db, RetrievalConfig()) as engine:  # the LSH index is rebuilt from SQLite
        await engine.ingest_paths([write_jsonl(tmp_path / "b.jsonl", ARTICLES[1:2])])
        assert story_rows(db)["w2"] == "w1"
        # w2 edited into another story: it leaves w1's.
        edited = dict(ARTICLES[1], text=OTHER + " وأكدت الوزارة توفر اللقاحات.", title="لقاحات الإنفلونزا")
        await engine.ingest_paths([write_jsonl(tmp_path / "c.jsonl", [edited])])
        assert story_rows(db)["w2"] == "w2"


async def test_articles_stored_without_story_rows_are_grouped_on_open(tmp_path: Path) -> None:
    db = tmp_path / "news.db"
    async with await SearchEngine.open(db, RetrievalConfig()) as engine:
        await engine.ingest_paths([write_jsonl(tmp_path / "a.jsonl", ARTICLES)])
    with sqlite3.connect(db) as con:
        con.execute("DELETE FROM stories")
    async with await SearchEngine.open(db, RetrievalConfig()):
        rows = story_rows(db)
    assert len(rows) == 4 and rows["w1"] == rows["w2"] == rows["w3"] and rows["o1"] == "o1"


def test_signature_estimates_similarity() -> None:
    a = stories.article_signature(ARTICLES[0]["title"], WIRE)
    b = stories.article_signature(ARTICLES[1]["title"], REWRITE)
    c = stories.article_signature(ARTICLES[3]["title"], OTHER)
    assert stories.similarity(a, a) == 1.0
    assert stories.similarity(a, b) >= stories.THRESHOLD > stories.similarity(a, c)
    index = storyindex.StoryIndex()
    index.add("a", a, 0.0, "a")
    assert index.best_match(b, 3600.0)[:2] == ("a", "a")
    assert index.best_match(b, 10 * 86400.0) is None  # ten days later: not the same story
    assert index.best_match(c, 0.0) is None
    index.remove("a")
    assert index.best_match(b, 0.0) is None


def test_also_in_search_jsonl(tmp_path: Path) -> None:
    db = tmp_path / "news.db"
    assert newsbot("ingest", str(write_jsonl(tmp_path / "a.jsonl", ARTICLES)), db=db).returncode == 0
    out = newsbot("search", "--jsonl", db=db, stdin="جدري القردة في المغرب\n")
    [line] = [json.loads(x) for x in out.stdout.splitlines()]
    story = [h for h in line["hits"] if h["article_id"] in ("w1", "w2", "w3")]
    assert len(story) == 1
    also = story[0]["also"]
    assert {a["article_id"] for a in also} == {"w1", "w2", "w3"} - {story[0]["article_id"]}
    assert all(set(a) == {"article_id", "source", "url", "published"} for a in also)
    out = newsbot("ask", "جدري القردة في المغرب", db=db)
    assert "وردت أيضاً في:" in out.stdout


def test_index_after_merges_and_bulk_load_finds_the_same(monkeypatch) -> None:
    monkeypatch.setattr(storyindex, "MERGE_EVERY", 3 * stories.BANDS)  # merge every third article
    texts = [(a["title"], a["text"]) for a in ARTICLES] * 3
    sigs = [stories.article_signature(t, b) for t, b in texts]
    grown = storyindex.StoryIndex(capacity=2)  # and grows its arrays
    for n, sig in enumerate(sigs):
        grown.add(f"a{n}", sig, float(n), f"a{n}")
    grown.remove("a0")
    bulk = storyindex.StoryIndex.bulk([f"a{n}" for n in range(len(sigs))], np.array(sigs),
                                   np.arange(len(sigs), dtype=np.float64), [f"a{n}" for n in range(len(sigs))])
    bulk.remove("a0")
    for sig in sigs:
        assert grown.best_match(sig, 1.0) == bulk.best_match(sig, 1.0)
    assert grown.best_match(sigs[0], 1.0)[0] != "a0"
