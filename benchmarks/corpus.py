"""What the benchmarks build on: the news corpus, databases of a given size, questions, the machine.

Shared by `benchmarks.perf`, `nrt`, `bot_path`, `feeds_poll` and the A/B scripts, so that each measures
on the same articles and the same kind of questions.
"""

from __future__ import annotations

import json
import os
import platform
import random
import re
import sqlite3
import sys
import time
from collections.abc import Sequence
from dataclasses import replace
from importlib.metadata import version
from pathlib import Path

import bm25s
import numpy as np

from retrieval.articles import Article
from retrieval.engine import RetrievalConfig
from retrieval.passages import split_passages
from retrieval.readers import read_path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_CORPUS = REPO.parent / "shared" / "corpora" / "ant-multisource.jsonl.gz"


# --- machine ---------------------------------------------------------------------------

def machine() -> dict:
    cpu = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem_kib = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                   if line.startswith("MemTotal"))
    return {"nproc": os.cpu_count(), "cpu": cpu, "ram_gib": round(mem_kib / 1024**2, 1),
            "python": platform.python_version(), "numpy": np.__version__, "sqlite": sqlite3.sqlite_version,
            "rank_bm25": version("rank-bm25"), "bm25s": bm25s.__version__}


# --- corpus and questions --------------------------------------------------------------

def load_articles(path: Path) -> list[Article]:
    articles = [a for a in read_path(path) if isinstance(a, Article)]
    if not articles:
        raise SystemExit(f"perf: no articles could be read from {path}")
    return articles


# The corpus's last articles, never part of a benchmark's database: what its adds take, as a feed brings
# stories the database does not hold (past ~124k passages every other article is stored many times over,
# and a copy joins its story at the story lookup's first key).
HELD_OUT = 2500


def held_out(articles: Sequence[Article]) -> tuple[Sequence[Article], Sequence[Article]]:
    """(the articles a database is built of, the HELD_OUT ones kept out of it for its adds)."""
    return articles[:-HELD_OUT], articles[-HELD_OUT:]


def unseen(db: Path, articles: Sequence[Article]) -> list[Article]:
    """The articles of `articles` that the database does not hold, by URL (a repeated article's URL carries
    its pass: `sized_corpus`)."""
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        stored = {url for (url,) in con.execute("SELECT url FROM articles")}
    finally:
        con.close()
    return [a for a in articles if a.url and a.url not in stored]


def passage_count(article: Article, config: RetrievalConfig) -> int:
    """How many passages ingest makes of the article."""
    return len(split_passages(article.body, target_chars=config.passage_target_chars,
                              max_chars=config.passage_max_chars))


def sized_corpus(articles: Sequence[Article], passages: int, config: RetrievalConfig) -> tuple[list[Article], int, int]:
    """Articles adding up to at least `passages` passages, repeating the corpus under new ids.

    Returns (articles, their passage count, how many passes over the corpus).
    """
    out: list[Article] = []
    total = 0
    rep = 0
    while total < passages:
        for a in articles:
            if total >= passages:
                break
            out.append(a if rep == 0 else replace(a, id=f"{a.id}~r{rep}", url=f"{a.url}#r{rep}" if a.url else ""))
            total += passage_count(a, config)
        rep += 1
    return out, total, rep


def write_jsonl(articles: Sequence[Article], path: Path) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        for a in articles:
            fh.write(json.dumps({"id": a.id, "title": a.title, "text": a.body, "source": a.source,
                                 "category": a.section, "url": a.url, "published": a.published,
                                 "author": a.author}, ensure_ascii=False))
            fh.write("\n")


_QUESTION_OPENERS = ("ما", "ماذا حدث في", "متى", "كيف", "لماذا", "هل", "من", "أين", "ما هي تفاصيل", "ما آخر أخبار")
_WORD = re.compile(r"\S+")


def make_questions(articles: Sequence[Article], n: int, seed: int = 2024) -> list[str]:
    """Questions a reader might type: a question word, then words of a title or of a first sentence."""
    rng = random.Random(seed)
    questions: list[str] = []
    pool = [a for a in articles if a.title or a.body]
    while len(questions) < n:
        a = rng.choice(pool)
        if rng.random() < 0.5 and a.title:
            words = _WORD.findall(a.title)
        else:
            first = re.split(r"[.!؟?\n]", a.body.strip(), maxsplit=1)[0]
            words = _WORD.findall(first)
            if len(words) > 4:
                span = rng.randint(4, min(10, len(words)))
                start = rng.randint(0, len(words) - span)
                words = words[start:start + span]
        if len(words) < 2:
            continue
        questions.append(f"{rng.choice(_QUESTION_OPENERS)} {' '.join(words)}؟")
    return questions


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)
