"""Three outcomes: an answer ("high"), closest matches flagged "low" with a hint, or no answer."""

import dataclasses
import json
from pathlib import Path

import pytest

from bot import formatting as fmt
from bot.terminal import format_result
from bot.texts import LOW_CONFIDENCE_HINT
from retrieval.engine import RetrievalConfig, SearchEngine

from .conftest import write_jsonl
from .test_cli import newsbot

ARTICLES = [
    {"id": "e1", "title": "بوتين يفوز بولاية رابعة في الانتخابات الرئاسية الروسية", "source": "bbc",
     "published": "2018-03-19T08:00:00", "url": "https://example.com/e1",
     "text": "فاز الرئيس فلاديمير بوتين بولاية رئاسية رابعة في الانتخابات الروسية التي جرت عام 2018 "
             "بنسبة تفوق سبعين في المئة من الأصوات."},
    {"id": "e2", "title": "الجزائر تعين مدربا جديدا للمنتخب", "source": "cnn", "published": "2018-08-02T08:00:00",
     "url": "https://example.com/e2",
     "text": "أعلن الاتحاد الجزائري لكرة القدم تعيين جمال بلماضي مدربا جديدا للمنتخب الوطني."},
    {"id": "e3", "title": "أسعار النفط ترتفع", "source": "skynews", "published": "2018-05-01T08:00:00",
     "url": "https://example.com/e3", "text": "ارتفعت أسعار النفط بعد قرار منظمة أوبك خفض الإنتاج."},
    {"id": "e4", "title": "موجة حر في الخليج", "source": "bbc", "published": "2018-07-01T08:00:00",
     "url": "https://example.com/e4", "text": "تشهد دول الخليج موجة حر شديدة مع درجات حرارة قياسية."},
]


async def _engine(tmp_path: Path, config: RetrievalConfig | None = None) -> SearchEngine:
    engine = await SearchEngine.open(tmp_path / "news.db", config or RetrievalConfig())
    await engine.ingest_paths([write_jsonl(tmp_path / "news.jsonl", ARTICLES)])
    return engine


async def test_a_question_the_archive_answers_is_confident(tmp_path: Path):
    engine = await _engine(tmp_path)
    try:
        result = await engine.search("أسعار النفط", k=3)
        assert result.no_answer is None and result.confidence == "high"
        assert result.hits[0].article_id == "e3"
    finally:
        await engine.close()


async def test_an_event_after_the_archive_gets_closest_matches_flagged_low(tmp_path: Path):
    engine = await _engine(tmp_path)
    try:
        result = await engine.search("من فاز في الانتخابات الرئاسية الروسية 2024؟", k=3)
        assert result.hits and result.confidence == "low"  # 2018's election, shown as the closest match
        assert result.hits[0].article_id == "e1"
        same_words_2018 = await engine.search("من فاز في الانتخابات الرئاسية الروسية 2018؟", k=3)
        assert same_words_2018.confidence == "high"
    finally:
        await engine.close()


async def test_nothing_meaningful_matched_is_no_answer(tmp_path: Path):
    engine = await _engine(tmp_path)
    try:
        result = await engine.search("كم عدد سكان مدينة طوكيو اليابانية", k=3)
        assert result.hits == () and result.no_answer in ("weak", "unknown_terms")
    finally:
        await engine.close()


async def test_below_the_flag_threshold_the_results_are_low_and_below_the_refusal_threshold_refused(tmp_path):
    # A partial match (one word of two in the best passage): the model judges it; with the flag
    # threshold above any probability the results are flagged, with the refusal threshold there too
    # they are refused.
    question = "النفط والذهب"
    engine = await _engine(tmp_path, RetrievalConfig(min_confidence=0.01, low_confidence=0.999))
    try:
        flagged = await engine.search(question, k=3)
        assert flagged.hits and flagged.confidence == "low"
    finally:
        await engine.close()
    (tmp_path / "strict").mkdir()
    engine = await _engine(tmp_path / "strict", RetrievalConfig(min_confidence=0.999, low_confidence=0.999))
    try:
        refused = await engine.search(question, k=3)
        assert refused.hits == () and refused.no_answer == "weak"
    finally:
        await engine.close()


def _result(confidence: str):
    from .test_bot_units import make_hit, result

    return dataclasses.replace(result(make_hit()), confidence=confidence)


@pytest.mark.parametrize("confidence", ["high", "low"])
def test_the_hint_line_is_shown_in_the_terminal_and_telegram_only_when_low(confidence):
    terminal, telegram = format_result(_result(confidence)), fmt.answer_text(_result(confidence))
    assert terminal.startswith(LOW_CONFIDENCE_HINT) == (confidence == "low")
    assert (LOW_CONFIDENCE_HINT in telegram) == (confidence == "low")
    assert "عنوان" in terminal and "عنوان" in telegram  # the results are shown either way


def test_search_jsonl_says_how_confident_each_answer_is(tmp_path: Path):
    db = tmp_path / "news.db"
    assert newsbot("ingest", str(write_jsonl(tmp_path / "n.jsonl", ARTICLES)), db=db).returncode == 0
    out = newsbot("search", "--jsonl", db=db,
                  stdin="أسعار النفط\nمن فاز في الانتخابات الرئاسية الروسية 2024؟\nمن هو في\n")
    rows = [json.loads(line) for line in out.stdout.splitlines()]
    assert [r["confidence"] for r in rows] == ["high", "low", None]
    assert rows[1]["hits"][0]["article_id"] == "e1" and rows[2]["hits"] == []


async def test_the_archives_present_is_its_most_mentioned_recent_year(tmp_path: Path):
    from retrieval import confidence

    # 2018 in five passages, 2022 (a World Cup to come) in one: the present is 2018, and a question
    # about 2022 is about an event after it even though a passage names the year.
    texts = ["ميزانية عام 2018 للمدارس", "موسم 2018 الزراعي", "انتخابات 2018 البلدية", "صيف 2018 الحار",
             "معرض الكتاب 2018", "ذكرى حرب 2006", "قطر تستعد لمونديال 2022"]
    records = [{"id": f"y{i}", "title": f"خبر {i}", "source": "t", "published": "2018-01-01T00:00:00",
                "text": text} for i, text in enumerate(texts)]
    engine = await SearchEngine.open(tmp_path / "y.db", RetrievalConfig())
    try:
        await engine.ingest_paths([write_jsonl(tmp_path / "y.jsonl", records)])
        assert confidence.archive_year(engine.index) == 2018
        assert confidence.names_unseen_year(engine.index, ["مونديال", "2022"])
        assert confidence.names_unseen_year(engine.index, ["مونديال", "2031"])  # mentioned nowhere
        assert confidence.names_unseen_year(engine.index, ["حرب", "1990"])  # a year no passage mentions
        assert not confidence.names_unseen_year(engine.index, ["انتخاب", "2018"])
        assert not confidence.names_unseen_year(engine.index, ["حرب", "2006"])
    finally:
        await engine.close()


async def test_telegram_shows_closest_matches_with_the_hint_and_answers_without_it(tmp_path: Path, fake):
    from .telegram_stub.harness import READER, BotHarness

    async with BotHarness(tmp_path, fake):
        chat = fake.chats[READER.id]
        fake.send(chat, READER, "قرار مجلس الأمن بشأن سوريا 2031")  # a year after anything archived
        [flagged] = await fake.wait_for("sendMessage", chat_id=READER.id)
        fake.send(chat, READER, "ما رقم قرار مجلس الأمن بشأن المساعدة الإنسانية في سوريا؟")
        [answered] = await fake.wait_for("sendMessage", chat_id=READER.id, since=len(fake.calls))
    flagged_text, answered_text = fake.message(flagged)["text"], fake.message(answered)["text"]
    assert LOW_CONFIDENCE_HINT in flagged_text and "2585" in flagged_text  # results shown, with the hint
    assert LOW_CONFIDENCE_HINT not in answered_text and "2585" in answered_text
