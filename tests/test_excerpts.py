"""Excerpts of very long passages: text without whitespace stays one passage however long."""

from hypothesis import given, settings
from hypothesis import strategies as st

from retrieval import analysis, excerpts
from retrieval.analysis import analyze, analyze_token
from retrieval.excerpts import ELLIPSIS, EXCERPT_SCAN_CHARS, make_excerpt, matched_words
from retrieval.normalize import tokenize_with_spans

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


# --- the C chain's matches against the word-by-word loop ---------------------------------------

# Letters with and without their marks, clitics, hamza and alef forms, digits of three scripts,
# Latin, the underscore (splits a run), tatweel and joiners (inside words), punctuation, spaces,
# a character outside the BMP and a capital sigma (both left to the Python chain).
ALPHABET = [*"بالحكومةوزارةأإآىيءئؤ", "\u064e", "\u0651", "\u0670", "\u0640", "\u200c", "\u200d",
            *"0123٠١٢۳abcXYZ_-.,،؟ \n\t", "\U0001d400", "Σ", "ß"]


def loop_matches(text: str, terms: set[str]) -> list[tuple[int, int, str]]:
    return [(s, e, t) for word, s, e in tokenize_with_spans(text)
            if (t := analyze_token(word)) is not None and t in terms]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(ALPHABET), max_size=80).map("".join))
def test_native_matches_equal_the_word_by_word_analysis(text):
    assert analysis.NATIVE_CHAIN
    terms = {t for word, _, _ in tokenize_with_spans(text) if (t := analyze_token(word)) is not None}
    # Half of them asked for: a word whose term is not asked for is left out.
    asked = {t for i, t in enumerate(sorted(terms)) if i % 2 == 0}
    assert matched_words(text, asked) == loop_matches(text, asked)
    assert matched_words(text, terms) == loop_matches(text, terms)


class _Container:
    """A container the chain cannot iterate safely: every word is analysed and looked up (no prefilter)."""

    def __init__(self, terms: set[str]) -> None:
        self.terms = terms

    def __contains__(self, term: object) -> bool:
        return term in self.terms


# Wider text than ALPHABET: any character (marks, presentation forms, characters the mapping
# expands to several or hands to the Python chain), and the letters the term's folds touch.
_WIDE = st.sampled_from([*ALPHABET, *"ةهىيأإآٱٲٳا", "ﻻ", "ﻵ", "İ", "ﬁ", "ẞ", "ͅ"]) \
    | st.characters()


@settings(max_examples=400, deadline=None)
@given(st.lists(_WIDE, max_size=60).map("".join), st.lists(st.sampled_from(["ا", "ه", "ي", "al", "x"]), max_size=3))
def test_native_matches_prefilter_keeps_every_match(text, extra):
    """matches() skips the analysis of words that cannot hold an asked term (retrieval/_chain.c,
    word_may_match): whatever container the terms come in, the matches are the word-by-word loop's."""
    terms = {t for word, _, _ in tokenize_with_spans(text) if (t := analyze_token(word)) is not None}
    asked = {t for i, t in enumerate(sorted(terms)) if i % 2 == 1} | set(extra)
    want = loop_matches(text, asked)
    weights = dict.fromkeys(asked, 1.0)
    for container in (asked, frozenset(asked), weights, weights.keys(), sorted(asked), tuple(asked),
                      _Container(asked)):
        assert matched_words(text, container) == want, type(container)
    assert matched_words(text, set()) == []


def test_native_matches_prefilter_off_for_terms_it_cannot_search():
    # Non-BMP, empty and very many terms turn the prefilter off; the answer is the same.
    text = "الحكومة 𝐀𝐁 قالت وزارة الخارجية " * 3
    base = {"حكوم", "خارج"}
    many = base | {f"t{i}" for i in range(100)}
    for asked in (base | {"𝐀𝐁"}, base | {""}, many, {"x" * 2000} | base):
        assert matched_words(text, asked) == loop_matches(text, asked)
        assert {t for _, _, t in matched_words(text, asked)} >= base


def test_native_matches_on_news_text():
    text = ("أعلنت وزارةُ الخارجية_الأمريكية، يوم ٢٣ مارس 2021، أنّ الحكومات الثلاث وقّعت الاتفاق في بيروت؛"
            " وقال المتحدث باسم الوزارة إن «الاتفاقيات» ستُنشر لاحقاً — راجع docs_v2.")
    terms = set(analyze("وزارة الخارجية الحكومة اتفاق 2021 ٢٣ بيروت docs"))
    got = matched_words(text, terms)
    assert got == loop_matches(text, terms)
    assert [text[s:e] for s, e, _ in got][:3] == ["وزارةُ", "الخارجية", "٢٣"]


# --- placing the excerpt: retrieval/_excerpt.c against excerpts._place -------------------------------

def test_native_placement_is_built():
    assert excerpts._native_excerpt is not None, "retrieval._excerpt is not importable: run `pip install -e .`"


# Words, spaces of several kinds (str.isspace: tab, no-break space, ideographic space), characters
# beyond the BMP and Latin-1, and term names that repeat so that windows hold repeated terms.
_CHARS = st.sampled_from(["خبر", "زلزال", "a", "ß", "🙂", "𝔘", " ", "  ", "\t", "\u00a0", "\u3000", "\n", ".", "…"])


@st.composite
def placements(draw: st.DrawFn) -> tuple[str, list[tuple[int, int, str]], int]:
    text = "".join(draw(st.lists(_CHARS, max_size=80)))
    cuts = sorted(draw(st.lists(st.integers(0, len(text)), max_size=24)))
    matches = []
    for a, b in zip(cuts[::2], cuts[1::2], strict=False):
        # Matches in text order, possibly empty or one character long, terms from a small set.
        matches.append((a, b, draw(st.sampled_from(["t1", "t2", "t3", "t1"]))))
    return text, matches, draw(st.integers(0, 90))


@settings(max_examples=600, deadline=None)
@given(placements())
def test_native_placement_equals_the_python_version(case):
    text, matches, max_chars = case
    want = excerpts._place(text, matches, max_chars)
    assert excerpts.Excerpt(*excerpts._native_excerpt.place(text, matches, max_chars)) == want


def test_native_placement_on_news_passages_equals_the_python_version():
    news = ("قال وزير الخارجية إن المحادثات في بغداد ستتواصل الأسبوع المقبل، وأضاف أن القمة العربية "
            "ستبحث ملفات الزلزال والمساعدات الإنسانية للمتضررين في المناطق الشمالية من البلاد. ") * 4
    for question in ("الزلزال في بغداد", "القمة العربية", "المساعدات الإنسانية للمتضررين", "لا شيء هنا"):
        terms = set(analyze(question))
        matches = matched_words(news, terms)
        for max_chars in (0, 1, 40, 120, 300, len(news), len(news) + 5):
            want = excerpts._place(news, matches, max_chars)
            got = make_excerpt(news, terms, max_chars)
            assert got == want
            assert all(got.text[s:e] for s, e in got.highlights)


def test_native_placement_names_bad_arguments():
    import pytest

    with pytest.raises(TypeError, match="match 0 must be a"):
        excerpts._native_excerpt.place("نص", [(0, 1)], 10)
    with pytest.raises(ValueError, match="max_chars must be >= 0"):
        excerpts._native_excerpt.place("نص", [], -1)
