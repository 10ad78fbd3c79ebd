from retrieval.passages import paragraph_spans, split_passages

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
