import re

from hypothesis import given, settings
from hypothesis import strategies as st

from retrieval.passages import (
    _SENTENCE_END,
    _split_long,
    paragraph_spans,
    passage_spans,
    reference_passage_spans,
    split_passages,
)

from .conftest import SAMPLE


def test_passages_keep_spans_into_the_body():
    body = "فقرة أولى قصيرة.\n\n" + "جملة طويلة عن الأحداث في سوريا. " * 60 + "\n\nفقرة أخيرة."
    passages = split_passages(body, target_chars=300, max_chars=500)
    assert [p.ord for p in passages] == list(range(len(passages)))
    for p in passages:
        assert body[p.start:p.end] == p.text
        assert len(p.text) <= 500
    starts = [p.start for p in passages]
    assert starts == sorted(starts)


def test_long_paragraph_is_split_at_sentence_ends():
    sentence = "هذه جملة عربية تنتهي بعلامة استفهام؟ "
    body = sentence * 40
    passages = split_passages(body, target_chars=200, max_chars=300)
    assert len(passages) > 1
    for p in passages[:-1]:
        assert p.text.endswith("؟")


def test_clause_commas_used_when_no_sentence_end():
    body = "، ".join(["عبارة طويلة نسبياً عن الموضوع"] * 60)
    for p in split_passages(body, target_chars=200, max_chars=300):
        assert len(p.text) <= 300


def test_short_paragraphs_are_merged():
    body = "أ.\n\nب.\n\nج."
    assert len(split_passages(body)) == 1


def test_sample_article_passages_cover_its_paragraphs():
    text = SAMPLE.read_text(encoding="utf-8")
    assert len(paragraph_spans(text)) > 5
    passages = split_passages(text)
    assert "2585" in "".join(p.text for p in passages)


# --- the regex paragraph scan against the per-line loop it replaced --------------------------

def _paragraph_spans_by_lines(body: str) -> list[tuple[int, int]]:
    """The first implementation: each `[^\\n]+` run stripped with str.isspace."""
    spans = []
    for match in re.finditer(r"[^\n]+", body):
        start, end = match.span()
        while start < end and body[start].isspace():
            start += 1
        while end > start and body[end - 1].isspace():
            end -= 1
        if end > start:
            spans.append((start, end))
    return spans


_SPACES = " \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f\x85\xa0\u1680\u2000\u200a\u2028\u2029\u202f\u205f\u3000\u200b"


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet=st.sampled_from(_SPACES + "ab. سلام،؟") | st.characters(), max_size=300))
def test_paragraph_spans_equal_the_stripped_lines(body):
    assert paragraph_spans(body) == _paragraph_spans_by_lines(body)


def _merged_spans_first_version(body: str, target_chars: int, max_chars: int) -> list[tuple[int, int]]:
    """split_passages as first written: all pieces first, then one merging pass."""
    pieces: list[tuple[int, int]] = []
    for start, end in _paragraph_spans_by_lines(body):
        if end - start > max_chars:
            pieces.extend(_split_long(body, start, end, max_chars))
        else:
            pieces.append((start, end))
    merged: list[tuple[int, int]] = []
    for start, end in pieces:
        if merged and (end - merged[-1][0] <= target_chars
                       or (merged[-1][1] - merged[-1][0] < target_chars // 4
                           and end - merged[-1][0] <= max_chars)):
            merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return merged


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(alphabet=st.sampled_from(_SPACES[:6] + "كلمة جديدة. وأخرى، ثم!"), max_size=400), max_size=12))
def test_passage_spans_equal_the_first_version(paragraphs):
    body = "\n".join(paragraphs)
    expected = _merged_spans_first_version(body, 120, 200)
    assert passage_spans(body, target_chars=120, max_chars=200) == expected
    passages = split_passages(body, target_chars=120, max_chars=200)
    assert [(p.start, p.end) for p in passages] == expected
    assert all(p.text == body[p.start:p.end] for p in passages)


# --- a hostile run of sentence marks -------------------------------------------------------------

# `_SENTENCE_END` as first written, without the lookbehind that skips the inside of a run of marks.
_SENTENCE_END_FIRST = re.compile(r"[.!?؟؛…]+[\"'»”)\]]*\s+")


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=st.sampled_from(".!?؟؛…\"'»”)] \n\xa0aك،"), max_size=200))
def test_sentence_ends_are_found_where_the_first_pattern_found_them(text):
    assert [m.span() for m in _SENTENCE_END.finditer(text)] == \
        [m.span() for m in _SENTENCE_END_FIRST.finditer(text)]


def test_a_paragraph_of_a_million_dots_is_split_like_any_other():
    # Each start inside a run of marks with no space after it used to be tried in turn: n²/2
    # steps, two minutes for 80,000 dots in Python, and nine seconds in C.
    body = "كلمة " + "." * 1_000_000 + "x " + "جملة. " * 300 + "!?" * 100_000 + "»x"
    spans = passage_spans(body, target_chars=500, max_chars=800)
    assert spans == reference_passage_spans(body, target_chars=500, max_chars=800)
    assert spans[0][0] == 0 and spans[-1][1] == len(body)
