"""Unit tests of the bot's pure parts: formatting, callback data, the question log, rate limits,
settings, and the stand-in server's own checks (so that its approval means something)."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from telegram import Chat, Message, MessageEntity, User

from bot import callbacks, texts
from bot import formatting as fmt
from bot.app import TokenRedactor, run_bot
from bot.reader_handlers import question_addressed_to_bot
from bot.records import QuestionLog
from bot.settings import SettingsError, load_settings
from bot.user_limits import SlidingWindow, UserLimits
from retrieval.articles import Article
from retrieval.engine import Hit, SearchResult

from .telegram_stub.html_check import parse_telegram_html, utf16_len
from .telegram_stub.server import Spec


def make_hit(n: int = 1, title: str = "عنوان", excerpt: str = "نص المقتطف عن النفط", spans=((14, 19),),
             **fields) -> Hit:
    base = dict(article_id=f"a{n}", passage_id=n, score=1.0, title=title, source="رويترز", section="اقتصاد",
                published="2024-01-01T10:00:00", url="https://example.com/x", excerpt=excerpt,
                highlights=tuple(spans), passage_ord=0)
    base.update(fields)
    return Hit(**base)


def result(*hits: Hit, offset: int = 0) -> SearchResult:
    return SearchResult(query="q", terms=("q",), hits=hits, offset=offset, has_more=False, no_answer=None,
                        seconds=0.01)


# --- formatting ------------------------------------------------------------------

def test_answer_shows_title_source_line_bold_matches_and_link():
    text = fmt.answer_text(result(make_hit()))
    plain, problems = parse_telegram_html(text)
    assert problems == []
    assert "<b>عنوان</b>" in text and "<b>النفط</b>" in text
    assert "رويترز · اقتصاد · 2024-01-01" in plain
    assert '<a href="https://example.com/x">' in text
    assert all(line.startswith(fmt.RLM) for line in plain.split("\n") if line)


def test_markup_characters_everywhere_are_escaped():
    hit = make_hit(title="<b>x</b> & y > z", excerpt="a < b & c > d", spans=((0, 1),), source="A&B",
                   section="<s>", url='https://e.com/?a=1&b="2"')
    text = fmt.answer_text(result(hit))
    plain, problems = parse_telegram_html(text)
    assert problems == []
    assert "<b>x</b> & y > z" in plain and "a < b & c > d" in plain and "A&B · <s>" in plain


def test_an_answer_too_long_for_one_message_is_shortened_to_fit():
    long_excerpt = "كلمة " * 400
    hits = [make_hit(n, title="عنوان طويل جداً " * 40, excerpt=long_excerpt, spans=((0, 4), (1500, 1504)))
            for n in range(1, 11)]
    text = fmt.answer_text(result(*hits))
    plain, problems = parse_telegram_html(text)
    assert problems == [] and utf16_len(plain) <= 4096
    assert plain.count("رويترز") == 10  # every result kept, excerpts shortened
    assert "<b>كلمة</b>" in text  # the match near the start survives the shortening


spans_strategy = st.lists(st.tuples(st.integers(0, 400), st.integers(1, 30)), max_size=8)


@settings(max_examples=60, deadline=None)
@given(st.text(min_size=0, max_size=600), st.text(max_size=300), spans_strategy, st.integers(1, 10))
def test_any_text_renders_as_valid_telegram_html_within_the_limit(excerpt, title, raw_spans, count):
    spans = tuple((s, min(s + n, len(excerpt))) for s, n in raw_spans if s < len(excerpt))
    hits = [make_hit(n, title=title, excerpt=excerpt, spans=spans, source=title[:50]) for n in range(count)]
    text = fmt.answer_text(result(*hits))
    plain, problems = parse_telegram_html(text)
    assert [p for p in problems if "empty" not in p] == []
    assert utf16_len(plain) <= 4096


def test_shortened_excerpt_keeps_highlights_on_the_same_words():
    excerpt = " ".join(f"w{i}" for i in range(100)) + " النفط " + " ".join(f"x{i}" for i in range(100))
    start = excerpt.index("النفط")
    text, spans = fmt.shorten_excerpt(excerpt, [(start, start + 5)], 80)
    assert len(text) <= 80 and [text[s:e] for s, e in spans] == ["النفط"]
    assert text.startswith(fmt.ELLIPSIS) and text.endswith(fmt.ELLIPSIS)


def test_full_article_is_split_on_paragraph_boundaries():
    paragraphs = [f"فقرة رقم {n} " + "نص " * 300 + "." for n in range(10)]
    article = Article(id="x", body="\n".join(paragraphs), title="<عنوان> & كذا", source="s", published="2024")
    messages = fmt.article_messages(article)
    assert len(messages) > 1
    plains = []
    for message in messages:
        plain, problems = parse_telegram_html(message)
        assert problems == [] and utf16_len(plain) <= 4096
        plains.append(plain)
    assert plains[0].startswith(fmt.RLM + "<عنوان> & كذا")
    body = "\n\n".join(plains)
    assert all(f"فقرة رقم {n} " in body for n in range(10))
    # No paragraph is split across two messages.
    assert all(sum(f"فقرة رقم {n} " in p for p in plains) == 1 for n in range(10))
    assert not any(texts.ARTICLE_TOO_LONG in p for p in plains)  # shown whole


def test_a_book_length_article_is_cut_at_the_message_limit_and_points_to_the_source():
    body = "\n".join(f"فقرة رقم {n} " + "نص. " * 200 for n in range(2_000))  # ~1.6M characters
    article = Article(id="x", body=body, title="كتاب", source="s", url="https://example.com/a?b=1&c=2")
    messages = fmt.article_messages(article, max_messages=5)
    assert len(messages) == 5
    plains = [parse_telegram_html(m) for m in messages]
    assert all(problems == [] and utf16_len(plain) <= 4096 for plain, problems in plains)
    assert plains[0][0].startswith(fmt.RLM + "كتاب")
    assert "فقرة رقم 0 " in plains[0][0] + plains[1][0]
    assert texts.ARTICLE_TOO_LONG in plains[-1][0] and "النص الكامل في المصدر" in plains[-1][0]
    assert 'href="https://example.com/a?b=1&amp;c=2"' in messages[-1]
    # What is shown is the article's beginning, in order.
    shown = "".join(p for p, _ in plains[:-1])
    assert shown.index("فقرة رقم 1 ") < shown.index("فقرة رقم 2 ")


def test_an_article_needing_exactly_the_limit_is_shown_whole_and_one_more_is_cut():
    paragraphs = [f"فقرة رقم {n} " + "نص " * 900 for n in range(4)]  # one message each
    article = Article(id="x", body="\n".join(paragraphs), title="t")  # no URL
    whole = fmt.article_messages(article, max_messages=4)
    assert len(whole) == 4 and texts.ARTICLE_TOO_LONG not in whole[-1]  # the header goes with the first
    cut = fmt.article_messages(article, max_messages=3)
    assert len(cut) == 3 and texts.ARTICLE_TOO_LONG in cut[-1] and "href" not in cut[-1]
    assert cut[:2] == whole[:2]


def test_a_paragraph_longer_than_a_message_is_split_between_sentences():
    sentence = "هذه جملة طويلة عن الأخبار " * 10 + "؟ "
    article = Article(id="x", body=sentence * 40, title="t")
    messages = fmt.article_messages(article)
    assert len(messages) >= 2
    for message in messages:
        plain, problems = parse_telegram_html(message)
        assert problems == [] and utf16_len(plain) <= 4096
    assert all(parse_telegram_html(m)[0].rstrip().endswith("؟") for m in messages)


def test_lengths_are_counted_in_utf16_units_like_telegram():
    assert fmt.visible_length("<b>😀</b>&amp;") == 3


# --- callback data ---------------------------------------------------------------

def test_callback_data_round_trips_within_64_bytes():
    for data, expected in [(callbacks.page(123456789, 30), callbacks.PageButton(123456789, 30)),
                           (callbacks.article("u-0123456789abcdef"), callbacks.ArticleButton("u-0123456789abcdef"))]:
        assert len(data.encode()) <= 64 and callbacks.decode(data) == expected


def test_an_article_id_too_long_for_callback_data_falls_back_to_its_passage():
    data = callbacks.article("مقال-" * 20, passage_id=4242)
    assert data == "r:4242" and callbacks.decode(data) == callbacks.PassageArticleButton(4242)
    assert callbacks.article("x" * 80) is None


@pytest.mark.parametrize("data", [None, "", "p:1", "p:a:b", "p:-1:0", "zz:1", "r:x", "a:", "x" * 65])
def test_foreign_or_broken_callback_data_decodes_to_nothing(data):
    assert callbacks.decode(data) is None


# --- question log ----------------------------------------------------------------

async def test_question_log_hashes_users_keeps_counts_and_purges_old_rows(tmp_path):
    db = tmp_path / "news.db"
    log = await QuestionLog.open(db, retention_days=30)
    now = datetime.now(UTC)
    old = await log.record(chat_type="private", user_id=123456789, question="سؤال قديم", hits=2,
                           latency_seconds=0.5, now=now - timedelta(days=40))
    for ms in (10, 20, 90):
        await log.record(chat_type="group", user_id=123456789, question="سؤال", hits=1,
                         latency_seconds=ms / 1000, now=now - timedelta(hours=1))
    hashed = log.user_hash(123456789)
    await log.close()
    with sqlite3.connect(db) as con:
        rows = con.execute("SELECT user_hash FROM question_log").fetchall()
    assert all("123456789" not in r[0] and r[0] == hashed for r in rows)

    log = await QuestionLog.open(db, retention_days=30)
    assert log.user_hash(123456789) == hashed  # the salt persists: hashes stay comparable
    assert await log.question(old) == "سؤال قديم"
    assert await log.purge(now) == 1
    assert await log.question(old) is None
    stats = await log.stats(now)
    assert (stats.last_24h, stats.total, stats.median_ms) == (3, 4, 20.0)
    await log.close()
    other = await QuestionLog.open(tmp_path / "other.db", retention_days=1, salt="another salt")
    assert other.user_hash(123456789) != hashed
    await other.close()


# --- rate limits ------------------------------------------------------------------

def test_sliding_window_limits_and_recovers():
    now = [0.0]
    window = SlidingWindow(2, 60, clock=lambda: now[0])
    assert window.would_allow("u")
    window.hit("u")
    window.hit("u")
    assert not window.would_allow("u")
    assert window.first_refusal("u") and not window.first_refusal("u")
    now[0] = 61
    assert window.would_allow("u")


def test_group_limit_counts_every_user_and_private_chats_only_the_user():
    limits = UserLimits(per_user=2, per_chat=3, window=60, clock=lambda: 0.0)
    assert [limits.allow(u, -1, True) for u in (1, 1, 1, 2, 3)] == [True, True, False, True, False]
    assert limits.allow(3, 3, False)


def test_follow_ups_are_counted_apart_from_questions():
    limits = UserLimits(per_user=1, per_chat=1, window=60, clock=lambda: 0.0, follow_ups_per_user=2)
    assert [limits.allow_follow_up(1) for _ in range(3)] == [True, True, False]
    assert limits.allow(1, 1, False) and limits.allow_follow_up(2)


# --- groups: who is the bot addressed? ------------------------------------------------

def group_message(text: str, entities=(), reply_to=None) -> Message:
    chat = Chat(-5, "supergroup")
    message = Message(1, datetime.now(UTC), chat, from_user=User(1, "u", False), text=text,
                      entities=list(entities), reply_to_message=reply_to)
    return message


def test_mention_is_removed_using_utf16_offsets():
    text = "😀 @news_bot ما الخبر؟"
    message = group_message(text, [MessageEntity("mention", offset=3, length=9)])
    assert question_addressed_to_bot(message, "news_bot", 99) == "😀 ما الخبر؟"
    other = group_message("@someone ما الخبر؟", [MessageEntity("mention", offset=0, length=8)])
    assert question_addressed_to_bot(other, "news_bot", 99) is None


def test_only_replies_to_the_bot_itself_count():
    bot_message = Message(5, datetime.now(UTC), Chat(-5, "supergroup"), from_user=User(99, "bot", True), text="x")
    human = Message(6, datetime.now(UTC), Chat(-5, "supergroup"), from_user=User(7, "h", False), text="x")
    assert question_addressed_to_bot(group_message("وماذا عن الغاز؟", reply_to=bot_message), "b", 99) == \
        "وماذا عن الغاز؟"
    assert question_addressed_to_bot(group_message("نعم", reply_to=human), "b", 99) is None


# --- settings, start-up, logs ------------------------------------------------------

def test_file_url_is_derived_like_telegrams():
    assert load_settings(bot_api_url="http://127.0.0.1:8081/bot").bot_file_url == "http://127.0.0.1:8081/file/bot"


@pytest.mark.parametrize("overrides, name", [({"webhook_url": "http://x.org/hook"}, "NEWSBOT_WEBHOOK_URL"),
                                             ({"webhook_secret": "has space"}, "NEWSBOT_WEBHOOK_SECRET"),
                                             ({"upload_max_bytes": 0}, "NEWSBOT_UPLOAD_MAX_BYTES")])
def test_bad_bot_settings_are_named(overrides, name):
    with pytest.raises(SettingsError, match=name):
        load_settings(**overrides)


def test_retrieval_settings_reach_the_engine(monkeypatch):
    monkeypatch.setenv("NEWSBOT_MIN_CONFIDENCE", "0")
    monkeypatch.setenv("NEWSBOT_MIN_COVERAGE", "0.5")
    config = load_settings().retrieval_config()
    assert (config.min_confidence, config.min_coverage) == (0.0, 0.5)
    monkeypatch.setenv("NEWSBOT_MIN_CONFIDENCE", "2")
    with pytest.raises(SettingsError, match="NEWSBOT_MIN_CONFIDENCE"):
        load_settings()


def test_run_without_a_token_exits_with_a_clear_message(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)
    assert run_bot(load_settings(db=tmp_path / "x.db", telegram_bot_token=None)) == 2
    assert "TELEGRAM_BOT_TOKEN is not set" in capsys.readouterr().err
    assert not (tmp_path / "x.db").exists()


def test_token_redactor_hides_the_token_in_any_record():
    import logging

    record = logging.LogRecord("httpx", logging.INFO, "f", 1, "POST %s", ("https://api/bot123:SECRET/getMe",), None)
    TokenRedactor("123:SECRET").filter(record)
    assert "SECRET" not in record.getMessage()


# --- the stand-in server's own checks -----------------------------------------------

@pytest.mark.parametrize("markup, problem", [
    ("<b>bold</i>", "unexpected end tag"), ("<b>open", "unclosed"), ("a < b", "unescaped '<'"),
    ("a > b", "unescaped '>'"), ("AT&T", "entity"), ("&nbsp;", "entity"), ("<div>x</div>", "unsupported tag"),
    ('<a href="x" onclick="y">z</a>', "attribute"), ("x" * 4097, "too long"), ("<b></b>", "empty"),
])
def test_html_checker_rejects_what_telegram_rejects(markup, problem):
    assert any(problem in p for p in parse_telegram_html(markup)[1])


def test_html_checker_accepts_telegram_html():
    plain, problems = parse_telegram_html('<b>a</b> <i>b</i> <a href="https://x?a=1&amp;b=2">c</a> &lt;&#1587;&gt;')
    assert problems == [] and plain == "a b c <س>"


def test_spec_checks_methods_required_and_known_parameters_and_types():
    spec = Spec()
    assert spec.check_call("sendMessage", {"chat_id": "1", "text": "x"})[1] == []
    assert spec.check_call("sendMesage", {})[1] == ["unknown method 'sendMesage'"]
    assert "missing required parameter 'text'" in spec.check_call("sendMessage", {"chat_id": "1"})[1][0]
    assert "unknown parameter 'colour'" in spec.check_call("sendMessage", {"chat_id": "1", "text": "x",
                                                                          "colour": "red"})[1][0]
    bad_keyboard = '{"inline_keyboard": [[{"text": "x", "callback_dat": "y"}]]}'
    assert spec.check_call("sendMessage", {"chat_id": "1", "text": "x", "reply_markup": bad_keyboard})[1]
    bad_result = '[{"type": "article", "id": "1", "input_message_content": {"message_text": "x"}}]'
    assert any("title" in p for p in spec.check_call("answerInlineQuery",
                                                     {"inline_query_id": "1", "results": bad_result})[1])


def test_adjacent_matches_become_one_bold_run():
    assert fmt.highlighted("قرار مجلس الأمن، اليوم", [(10, 15), (0, 4), (5, 9)]) == "<b>قرار مجلس الأمن</b>، اليوم"
    assert fmt.highlighted("a & b", [(0, 1), (4, 5)]) == "<b>a</b> &amp; <b>b</b>"


def test_article_split_keeps_text_in_order_around_an_overlong_word():
    from bot.formatting import split_paragraphs

    text = "بداية قصيرة " + "ك" * 30 + " نهاية."
    chunks = split_paragraphs([text], 20)
    assert all(len(c) <= 20 for c in chunks)
    assert "".join(chunks).replace(" ", "") == text.replace(" ", "")


@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(st.sampled_from([*"كتب ال. ؟x😀", "ك" * 30, "😀" * 12]), max_size=25).map("".join),
                max_size=6),
       st.integers(2, 40))
def test_article_chunks_fit_and_keep_every_character_in_order(paragraphs: list[str], limit: int):
    from bot.formatting import split_paragraphs, utf16_len

    chunks = split_paragraphs(paragraphs, limit)
    assert all(0 < utf16_len(c) <= limit for c in chunks)
    assert "".join(chunks).replace(" ", "").replace("\n", "") == "".join(paragraphs).replace(" ", "")


def _pack_reference(units, separator, limit):
    """What `formatting._pack` must give, written the obvious way: the chunk joined and measured again
    for every unit (quadratic in a chunk's units, which `_pack` avoids by keeping the length as it goes)."""
    from bot.formatting import utf16_len

    chunks, current = [], ""
    for unit, alone in units:
        if alone:
            if current:
                chunks.append(current)
                current = ""
            chunks.append(unit)
            continue
        joined = f"{current}{separator}{unit}" if current else unit
        if utf16_len(joined) <= limit:
            current = joined
        else:
            chunks.append(current)
            current = unit
    if current:
        chunks.append(current)
    return chunks


@settings(max_examples=500, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["", "a", "كتب", "😀", "x" * 7, "ك" * 30, "ب😀"]), st.booleans()),
                max_size=15),
       st.sampled_from([" ", "\n\n", ""]), st.integers(1, 60))
def test_the_packer_chunks_as_the_reference_does(units, separator, limit):
    from bot.formatting import _pack

    assert _pack(units, separator, limit) == _pack_reference(units, separator, limit)


def test_both_languages_fill_the_same_placeholders_and_english_users_get_english():
    import string
    from dataclasses import fields

    from telegram import Update, User

    def placeholders(text: str) -> set[str]:
        return {name for _, name, _, _ in string.Formatter().parse(text) if name}

    for f in fields(texts.Texts):
        ar, en = getattr(texts.AR, f.name), getattr(texts.EN, f.name)
        assert ar and en and placeholders(ar) == placeholders(en), f.name
    user = {"id": 1, "is_bot": False, "first_name": "x"}
    message = {"message_id": 1, "date": 0, "chat": {"id": 1, "type": "private"},
               "from": {**user, "language_code": "en-GB"}}
    update = Update.de_json({"update_id": 1, "message": message}, None)
    assert texts.for_update(update) is texts.EN
    assert texts.for_language("ar") is texts.AR and texts.for_language(None) is texts.AR
    assert User(**user).language_code is None
