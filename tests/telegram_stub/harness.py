"""The real bot (`bot.app.build_application`) running against `FakeBotApi`, on fixture articles."""

from __future__ import annotations

import json
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

from telegram.ext import Application

from bot.app import build_application, start_application, stop_application
from bot.settings import Settings, load_settings
from bot.timing import TimingSink
from retrieval.engine import SearchEngine

from .server import FakeBotApi, User

REPO = Path(__file__).resolve().parents[2]
SAMPLE = next((REPO / "data" / "articles").glob("*.txt"))

ADMIN = User(1001, "Admin", "ar", "site_admin")
ENGLISH_ADMIN = User(ADMIN.id, "Admin", "en", "site_admin")  # the same admin, its client set to English
READER = User(2002, "Reader", "ar", "reader1")
ENGLISH_READER = User(3003, "Reader EN", "en", "reader_en")
STRANGER = User(4004, "Stranger", "ar", "stranger")

Api = TypeVar("Api", bound=FakeBotApi)


@asynccontextmanager
async def started(server: Api, *users: User) -> AsyncIterator[Api]:
    """`server` listening, with a private chat for each of `users`.

    On exit it is stopped, and the test fails if the bot made any call the
    Bot API would have rejected.
    """
    await server.start()
    try:
        for user in users:
            server.private_chat(user)
        yield server
    finally:
        await server.stop()
    assert server.errors == []


TRICKY_TITLE = "أسعار <النفط> & الغاز > التوقعات"
LONG_PARAGRAPH = ("وتحدث التقرير عن المحيط الهادئ والتيارات البحرية الدافئة وأثرها على المناخ في المنطقة، "
                  "وأشار العلماء إلى أن درجات الحرارة ارتفعت خلال العقد الماضي بشكل ملحوظ. ") * 5


def fixture_articles() -> list[dict[str, Any]]:
    """Five oil articles (more than one page), a tricky title, and one long article."""
    # Five different reports (worded apart, so each is its own story: answers show one result per story).
    oil_texts = [
        "ارتفعت أسعار النفط الخام في التداولات رقم {i} بعد قرار أوبك خفض الإنتاج.\n"
        "وقال محللون إن سوق النفط تترقب بيانات المخزونات الأمريكية للأسبوع {i}.",
        "صعدت أسعار النفط الخام مع بداية جلسة التداولات رقم {i} إثر إعلان أوبك عزمها خفض الإنتاج الشهر المقبل.\n"
        "ويرى متعاملون أن الأسعار ستتأثر بتراجع مخزونات الخام في الولايات المتحدة هذا الأسبوع.",
        "واصلت أسعار النفط الخام مكاسبها في التداولات رقم {i} عقب قرار أوبك خفض الإنتاج وسط طلب قوي من آسيا.\n"
        "وتنتظر سوق النفط أرقام المخزونات الأمريكية للأسبوع {i} لتحديد الاتجاه.",
        "سجلت أسعار النفط الخام أعلى مستوى منذ شهور خلال التداولات رقم {i} بدعم من قرار أوبك خفض الإنتاج.\n"
        "وأشار خبراء في سوق النفط إلى أن المخزونات الأمريكية للأسبوع {i} جاءت أقل من التوقعات.",
        "تراجعت أسعار النفط الخام قليلا في التداولات رقم {i} رغم قرار أوبك خفض الإنتاج بسبب مخاوف الركود.\n"
        "وقالت مصادر في سوق النفط إن المخزونات الأمريكية للأسبوع {i} ارتفعت على غير المتوقع.",
    ]
    oil = [{"id": f"oil{i}", "title": f"النفط والأسواق {i}", "source": "رويترز", "category": "اقتصاد",
            "url": f"https://example.com/oil{i}", "published": f"2024-01-0{i}T10:00:00",
            "text": oil_texts[i - 1].format(i=i)}
           for i in range(1, 6)]
    tricky = {"id": "tricky", "title": TRICKY_TITLE, "source": "A&B <news>", "category": "طاقة & <اقتصاد>",
              "url": "https://example.com/a?x=1&y=<2>", "published": "2024-02-01",
              "text": "تقرير عن أسعار الغاز المسال & الفحم <مع> توقعات الشتاء القارس في أوروبا."}
    long = {"id": "long1", "title": "تقرير طويل عن المحيط", "source": "الجزيرة", "category": "علوم",
            "published": "2023-12-31", "text": "\n".join(f"{LONG_PARAGRAPH} فقرة {n}." for n in range(1, 13))}
    return [*oil, tricky, long]


def write_fixture_data(data_dir: Path) -> Path:
    data_dir.mkdir(parents=True, exist_ok=True)
    shutil.copy(SAMPLE, data_dir / SAMPLE.name)
    lines = (json.dumps(a, ensure_ascii=False) for a in fixture_articles())
    (data_dir / "news.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return data_dir


class BotHarness:
    """Starts, restarts and stops the bot; the database survives restarts."""

    def __init__(self, tmp_path: Path, fake: FakeBotApi, *, timings: TimingSink | None = None,
                 **overrides: Any) -> None:
        self.fake = fake
        self.timings = timings
        self.data_dir = write_fixture_data(tmp_path / "data")
        self.settings: Settings = load_settings(
            telegram_bot_token=fake.token, bot_api_url=fake.base_url, db=tmp_path / "news.db",
            data_dir=self.data_dir, admin_ids=frozenset({ADMIN.id}), **overrides)
        self.engine: SearchEngine | None = None
        self.app: Application | None = None

    async def start(self, *, ingest: bool = True) -> None:
        self.engine = await SearchEngine.open(self.settings.db, self.settings.retrieval_config())
        if ingest:
            await self.engine.ingest_paths([self.data_dir])
        self.app = build_application(self.settings, self.engine, timings=self.timings)
        await start_application(self.app, poll_timeout=1)

    async def stop(self) -> None:
        if self.app is not None:
            self.fake.end_long_polls()  # else stopping waits out the poll in flight
            try:
                await stop_application(self.app)
            finally:
                self.fake.end_long_polls(short=False)
            self.app = None
        if self.engine is not None:
            await self.engine.close()
            self.engine = None

    async def restart(self) -> None:
        await self.stop()
        await self.start(ingest=False)

    async def __aenter__(self) -> BotHarness:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()
