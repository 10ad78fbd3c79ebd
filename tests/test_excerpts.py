"""Excerpts of very long passages: text without whitespace stays one passage however long."""

from retrieval.analysis import analyze
from retrieval.excerpts import ELLIPSIS, EXCERPT_SCAN_CHARS, make_excerpt

TERMS = set(analyze("زلزال"))


def _highlighted(excerpt):
    return [excerpt.text[s:e] for s, e in excerpt.highlights]


def test_a_match_early_in_a_million_character_passage_is_shown_and_highlighted():
    text = "خبر " * 100 + "زلزال " + "ا." * 500_000
    excerpt = make_excerpt(text, TERMS, 120)
    assert len(excerpt.text) <= 120 + 2 * len(ELLIPSIS)
    assert _highlighted(excerpt) == ["زلزال"]


def test_a_match_only_past_the_scanned_start_gives_the_passages_beginning_unhighlighted():
    text = "خبر " * (EXCERPT_SCAN_CHARS // 4 + 10) + "زلزال " + "ا" * 1_000_000
    excerpt = make_excerpt(text, TERMS, 120)
    assert excerpt.text.startswith("خبر")
    assert excerpt.highlights == ()


def test_a_word_cut_by_the_scan_limit_is_not_highlighted():
    # Cut at the limit, "earthquake" reads as "earth", a question word: not a match to show.
    filler = "خبر " * ((EXCERPT_SCAN_CHARS - 5) // 4) + " " * ((EXCERPT_SCAN_CHARS - 5) % 4)
    text = filler + "earthquake" + " كلمة" * 10
    assert text.index("earthquake") + 5 == EXCERPT_SCAN_CHARS
    assert make_excerpt(text, set(analyze("earth")), 120).highlights == ()
    # One character earlier, the word is whole: shown.
    assert _highlighted(make_excerpt(filler[:-1] + "earth quake", set(analyze("earth")), 120)) == ["earth"]


def test_passages_within_the_limit_are_scanned_whole():
    text = "خبر " * (EXCERPT_SCAN_CHARS // 4 - 10) + "زلزال"
    assert len(text) <= EXCERPT_SCAN_CHARS
    assert _highlighted(make_excerpt(text, TERMS, 120)) == ["زلزال"]
