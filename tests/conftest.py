"""Shared fixtures: small article collections built in the test, never ../shared."""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from retrieval.engine import RetrievalConfig, SearchEngine

REPO = Path(__file__).resolve().parent.parent
SAMPLE_DIR = REPO / "data" / "articles"
SAMPLE = next(SAMPLE_DIR.glob("*.txt"))


def run_in_threads(work: Callable[[], None], threads: int = 4) -> None:
    """`work` in several threads at once, until all have finished (for code that must be thread-safe)."""
    started = [threading.Thread(target=work) for _ in range(threads)]
    for t in started:
        t.start()
    for t in started:
        t.join()


def write_jsonl(path: Path, articles: list[dict]) -> Path:
    path.write_text("\n".join(json.dumps(a, ensure_ascii=False) for a in articles) + "\n", encoding="utf-8")
    return path


NEWS = [
    {"id": "n1", "title": "ارتفاع أسعار النفط", "source": "bbc", "category": "economy",
     "url": "https://example.com/n1", "published": "2018-03-01T10:00:00",
     "text": "ارتفعت أسعار النفط في الأسواق العالمية اليوم بعد قرار منظمة أوبك خفض الإنتاج.\n"
             "وقال محللون إن الأسعار قد تواصل الصعود خلال الأسابيع المقبلة."},
    {"id": "n2", "title": "فوز المنتخب المغربي", "source": "skynews", "category": "sport",
     "url": "https://example.com/n2", "published": "2018-06-15T20:00:00",
     "text": "فاز المنتخب المغربي لكرة القدم على نظيره الإيراني في مباراة ودية أقيمت في الرباط.\n"
             "وسجل اللاعب حكيم زياش هدف الفوز في الدقيقة الثمانين."},
    {"id": "n3", "title": "إطلاق هاتف جديد", "source": "cnn", "category": "technology",
     "url": "https://example.com/n3", "published": "2018-09-12T18:00:00",
     "text": "أعلنت شركة أبل عن إطلاق هاتف آيفون الجديد بكاميرا محسنة وبطارية تدوم أطول.\n"
             "ويبدأ بيع الهاتف في الأسواق الشهر المقبل بسعر 999 دولارا."},
]


@pytest.fixture
def sample_dir(tmp_path: Path) -> Path:
    d = tmp_path / "data"
    d.mkdir()
    shutil.copy(SAMPLE, d / SAMPLE.name)
    return d


@pytest.fixture
async def sample_engine(tmp_path: Path, sample_dir: Path):
    engine = await SearchEngine.open(tmp_path / "news.db", RetrievalConfig())
    await engine.ingest_paths([sample_dir])
    yield engine
    await engine.close()


@pytest.fixture
async def fake():
    """A running stand-in Bot API server with the admin's and a reader's private chats.

    Test modules with other users or chats define their own `fake`.
    """
    from .telegram_stub.harness import ADMIN, READER, started
    from .telegram_stub.server import FakeBotApi

    async with started(FakeBotApi(), ADMIN, READER) as server:
        yield server
