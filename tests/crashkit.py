"""Generated corpora and a fresh-engine check for the crash tests.

Articles are small, Arabic, and each carries one made-up word found in no
other article, so a question of that word has exactly one right answer.
"""

from __future__ import annotations

import asyncio
import json
import random
import sqlite3
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

from retrieval.engine import RetrievalConfig, SearchEngine

WORDS = ("الحكومة الوزير الاقتصاد السوق الأسعار المدينة الشركة المشروع الاجتماع البرلمان القرار المجلس "
         "الانتخابات الرئيس المنطقة الجامعة الطلاب المستشفى الصحة التعليم الطاقة النفط الغاز الزراعة المياه "
         "الطرق النقل أعلن قال أكد أشار أوضح ناقش بحث افتتح وقع أطلق زار استقبل رفض دعا طالب توقع ارتفع "
         "انخفض جديد كبير عام دولي محلي وطني اقتصادي سياسي رسمي مهم الأول الثاني الماضي المقبل اليوم أمس "
         "خلال بعد قبل").split()
# Letters no light stemmer strips, so a made-up word is its own single term.
_CODE_LETTERS = "بجدحخزشصضطظعغفقكرس"
SAMPLE_QUESTION = "ما رقم قرار مجلس الأمن بشأن المساعدة الإنسانية في سوريا؟"


def unique_word(i: int) -> str:
    """A word only article i contains; any two differ in at least two letters (so no spelling-variant match)."""
    code = ""
    for _ in range(4):
        i, r = divmod(i, len(_CODE_LETTERS))
        code += _CODE_LETTERS[r]
    return "ز" + code + code[::-1]


@dataclass
class Corpus:
    """Articles c0..c{n-1} in a few JSONL files; edits bump an article's version."""

    folder: Path
    n: int
    seed: int
    files: int = 4
    versions: dict[str, list[str]] = field(default_factory=dict)  # id → every body written so far
    _rng: random.Random = field(init=False)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)
        self.folder.mkdir(parents=True, exist_ok=True)
        for i in range(self.n):
            self.versions[f"c{i}"] = [self._body(i)]
        self.write()

    def _body(self, i: int, edit: int = 0) -> str:
        rng = self._rng
        paragraphs = []
        for _ in range(rng.randint(1, 4)):
            sentences = [" ".join(rng.choice(WORDS) for _ in range(rng.randint(6, 14))) + rng.choice(".،؟")
                         for _ in range(rng.randint(1, 3))]
            paragraphs.append(" ".join(sentences))
        paragraphs[rng.randrange(len(paragraphs))] += f" {unique_word(i)}."
        if edit:
            paragraphs.append(f"تحديث رقم {edit}.")
        return "\n".join(paragraphs)

    def edit(self, share: float, edit: int) -> int:
        """Give a random share of the articles a new body; returns how many."""
        chosen = self._rng.sample(range(self.n), int(self.n * share))
        for i in chosen:
            self.versions[f"c{i}"].append(self._body(i, edit))
        self.write()
        return len(chosen)

    def write(self) -> None:
        for f in range(self.files):
            lines = [json.dumps({"id": f"c{i}", "title": f"خبر {i}", "source": "وكالة",
                                 "text": self.versions[f"c{i}"][-1]}, ensure_ascii=False)
                     for i in range(f, self.n, self.files)]
            (self.folder / f"part{f}.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")

    def stray_bodies(self, db: Path) -> list[str]:
        """Stored corpus articles whose body is not one of the versions ever written (a torn write)."""
        with closing(sqlite3.connect(db)) as con:
            rows = con.execute("SELECT id, body FROM articles WHERE id LIKE 'c%'").fetchall()
        return [aid for aid, body in rows if body not in self.versions.get(aid, ())]

    def stale_bodies(self, db: Path) -> list[str]:
        """Corpus articles missing or not at their latest version."""
        with closing(sqlite3.connect(db)) as con:
            stored = dict(con.execute("SELECT id, body FROM articles WHERE id LIKE 'c%'"))
        return [aid for aid, bodies in self.versions.items() if stored.get(aid) != bodies[-1]]


def stored_article_numbers(db: Path) -> list[int]:
    with closing(sqlite3.connect(db)) as con:
        return [int(r[0][1:]) for r in con.execute("SELECT id FROM articles WHERE id LIKE 'c%'")]


def passage_ids(db: Path) -> set[int]:
    with closing(sqlite3.connect(db)) as con:
        return {r[0] for r in con.execute("SELECT id FROM passages")}


def fresh_engine_problems(db: Path, probe: list[int]) -> list[str]:
    """Open the database as a restarted process would and ask questions with known answers.

    The index the engine ends up serving must cover exactly the passages in
    the database (a stale or half-written index file is detected and rebuilt),
    the sample question must find resolution 2585, and each probed article's
    made-up word must find that article first.
    """
    async def run() -> list[str]:
        problems = []
        async with await SearchEngine.open(db, RetrievalConfig()) as engine:
            index = engine.index
            if index is None or set(index.live_passage_ids().tolist()) != passage_ids(db):
                problems.append("served index does not match the passages in the database")
            result = await engine.search(SAMPLE_QUESTION)
            if not result.hits or "2585" not in result.hits[0].excerpt:
                problems.append(f"sample question answered wrongly: {result.hits[:1]}")
            for i in probe:
                result = await engine.search(unique_word(i))
                if not result.hits or result.hits[0].article_id != f"c{i}":
                    problems.append(f"question for c{i} answered with {[h.article_id for h in result.hits]}")
        return problems

    return asyncio.run(run())
