"""Evaluation data: SQuAD-format QA files and JSON Lines news corpora.

Everything here turns public data into the two things an evaluation needs:
articles to ingest (plain dicts in the JSONL layout `newsbot ingest` reads)
and questions with the id of the article that answers them.
"""

from __future__ import annotations

import gzip
import json
import random
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class Question:
    text: str
    gold: str  # id of the article that answers it


def load_squad(path: Path, id_prefix: str = "qa") -> tuple[list[dict], list[Question]]:
    """Distinct paragraphs as articles (Wikipedia title as title) and the answerable questions.

    A paragraph that appears under several entries is one article; questions
    marked impossible or without answers are left out (they have no gold).
    """
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        entries = doc["data"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise SystemExit(f"{path}: not a SQuAD-format QA file ({exc})") from exc
    article_of: dict[str, str] = {}
    articles: list[dict] = []
    questions: list[Question] = []
    for entry in entries:
        title = str(entry.get("title", "")).replace("_", " ").strip()
        for para in entry.get("paragraphs", []):
            context = para["context"].strip()
            if not context:
                continue
            aid = article_of.get(context)
            if aid is None:
                aid = article_of[context] = f"{id_prefix}-{len(articles):05d}"
                articles.append({"id": aid, "title": title, "text": context, "source": id_prefix})
            for qa in para.get("qas", []):
                if qa.get("is_impossible") or not qa.get("answers"):
                    continue
                text = qa["question"].strip()
                if text:
                    questions.append(Question(text, aid))
    return articles, questions


def load_corpus(path: Path, limit: int | None = None, seed: int = 13) -> list[dict]:
    """News articles of a JSONL(.gz) corpus, optionally a seeded random sample of `limit`."""
    opener = gzip.open if path.name.endswith(".gz") else open
    try:
        with opener(path, "rt", encoding="utf-8") as fh:
            lines = [line for line in fh if line.strip()]
    except OSError as exc:
        raise SystemExit(f"{path}: cannot read corpus ({exc})") from exc
    if limit is not None and limit < len(lines):
        picked = sorted(random.Random(seed).sample(range(len(lines)), limit))
        lines = [lines[i] for i in picked]
    articles = []
    for lineno, line in enumerate(lines, start=1):
        try:
            obj = json.loads(line)
        except ValueError as exc:
            raise SystemExit(f"{path}:{lineno}: invalid JSON ({exc})") from exc
        if not isinstance(obj, dict) or not str(obj.get("text") or "").strip():
            continue
        obj.setdefault("id", f"news-{lineno:06d}")
        obj["id"] = str(obj["id"])
        articles.append(obj)
    return articles


def known_items(articles: list[dict], n: int, seed: int = 29) -> list[Question]:
    """A seeded sample of titles as questions, each answered by its own article."""
    titled = [a for a in articles if str(a.get("title") or "").strip()]
    picked = random.Random(seed).sample(titled, min(n, len(titled)))
    return [Question(a["title"].strip(), a["id"]) for a in picked]


def without_titles(articles: list[dict]) -> list[dict]:
    return [{**a, "title": ""} for a in articles]


def write_jsonl(path: Path, articles: list[dict]) -> Path:
    with open(path, "w", encoding="utf-8") as fh:
        for a in articles:
            fh.write(json.dumps(a, ensure_ascii=False) + "\n")
    return path


def sample(questions: list[Question], n: int | None, seed: int = 41) -> list[Question]:
    if n is None or n >= len(questions):
        return questions
    return random.Random(seed).sample(questions, n)
