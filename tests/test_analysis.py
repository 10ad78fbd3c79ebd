"""Each filter of the Arabic chain alone, then the chains."""

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from retrieval import analysis as a


def test_strip_diacritics_removes_harakat_shadda_tanwin():
    assert a.strip_diacritics("مُحَمَّدٌ") == "محمد"
    assert a.strip_diacritics("كِتَابًا") == "كتابا"


def test_strip_tatweel():
    assert a.strip_tatweel("كتـــاب") == "كتاب"


def test_split_ligatures():
    assert a.split_ligatures("\ufefb") == "لا"
    assert a.split_ligatures("\ufef7") == "لأ"


def test_normalize_alef_variants():
    assert a.normalize_alef("أحمد إبراهيم آمال ٱلله") == "احمد ابراهيم امال الله"


def test_normalize_yeh_and_teh_marbuta():
    assert a.normalize_yeh_heh("مستشفى مدينة") == "مستشفي مدينه"


def test_normalize_hamza_seats():
    assert a.normalize_hamza_seats("مسؤول رئيس") == "مسوول رييس"


def test_fold_digits_arabic_indic_and_persian():
    assert a.fold_digits("٢٥٨٥ و ۲۰۲۱") == "2585 و 2021"


def test_lowercase_latin():
    assert a.lowercase_latin("The Voice MBC") == "the voice mbc"


def test_normalize_is_the_composition_of_the_filters():
    text = "أَعْلَنَتْ الخارجيـــة \ufefb ٢٥٨٥ مسؤولٌ مستشفى The VOICE"
    composed = a.lowercase_latin(a.fold_digits(a.normalize_hamza_seats(a.normalize_yeh_heh(
        a.normalize_alef(a.split_ligatures(a.strip_tatweel(a.strip_diacritics(text))))))))
    assert a.normalize(text) == composed


def test_normalize_drops_invisible_marks():
    assert a.normalize("سو\u200fريا\u200b") == "سوريا"


def test_tokenize_letters_and_digits():
    assert a.tokenize("قرار رقم 2585، (حول) سوريا-روسيا!") == ["قرار", "رقم", "2585", "حول", "سوريا", "روسيا"]


def test_tokenize_with_spans_points_into_original_text():
    text = "قَرارُ مجلسِ الأمن"
    for token, start, end in a.tokenize_with_spans(text):
        assert text[start:end] == token
    assert [t for t, _, _ in a.tokenize_with_spans(text)] == ["قَرارُ", "مجلسِ", "الأمن"]


def test_remove_stopwords():
    assert a.remove_stopwords(["في", "سوريا", "من", "روسيا"]) == ["سوريا", "روسيا"]


def test_question_words_are_query_side_only():
    assert "متي" in a.QUERY_STOPWORDS  # متى after normalisation
    assert "كيف" in a.QUERY_STOPWORDS
    for word in ("ماذا", "متى", "أين", "كيف", "لماذا", "هل", "كم"):
        assert a.analyze_query(word) == [], word
        assert a.analyze(word) != [], word  # in a passage these words may carry meaning


def test_light_stem_prefixes_and_suffixes():
    assert a.light_stem("والكتاب") == "كتاب"
    assert a.light_stem("بالمدرسه") == "مدرس"
    assert a.light_stem("للشباب") == "شباب"
    assert a.light_stem("وزير") == "زير"  # light10: و from words of 4+ letters
    assert a.light_stem("ولد") == "ولد"  # too short for the و prefix
    assert a.light_stem("معلمون") == "معلم"
    assert a.light_stem("2585") == "2585"
    assert a.light_stem("voice") == "voice"


def test_chain_matches_diacritised_and_plain_forms():
    assert a.analyze("مَجْلِسُ الأَمْنِ الدَّوْلِيِّ") == a.analyze("مجلس الامن الدولي")


def test_chain_matches_alef_and_digit_variants():
    assert a.analyze("إيران ٢٥٨٥") == a.analyze("ايران 2585")


def test_conjunction_before_article_or_hamza_is_stripped():
    # Snowball keeps و/ف before an alef (it may be a root letter): the chain
    # strips it where the alef is the article's or carries a hamza.
    assert a.analyze("والحكومة فالحكومة") == a.analyze("الحكومة") * 2
    assert a.analyze("والمعارضة والانتخابات") == a.analyze("المعارضة الانتخابات")
    assert a.analyze("وأمطار وإسرائيل") == a.analyze("أمطار إسرائيل")
    assert a.analyze("وإيران") == a.analyze("ايران")


def test_root_waw_and_short_words_keep_their_first_letter():
    assert a.strip_conjunction("والد") == "والد"  # father, not و + ال + د
    assert a.strip_conjunction("والي") == "والي"
    assert a.strip_conjunction("واشنطن") == "واشنطن"
    assert a.strip_conjunction("وافق") == "وافق"
    assert a.analyze("واشنطن") != a.analyze("اشنطن")


def test_conjunction_on_a_stopword_is_a_stopword():
    assert a.analyze("وإلى فإن وأن") == []


def test_edit1_variants_cover_one_letter_insertions():
    assert "لافرنتييف" in a.edit1_variants("لافرينتييف")
    assert "لافرينتييف" in a.edit1_variants("لافرنتييف")
    assert "لافرنتييف" not in a.edit1_variants("لافرنتييف")


def test_overlong_runs_are_cut_into_bounded_tokens():
    tokens = a.tokenize("ك" * 200)
    assert [len(t) for t in tokens] == [a.MAX_TOKEN_CHARS, a.MAX_TOKEN_CHARS, a.MAX_TOKEN_CHARS, 8]


# Characters that stress the chunk cache's premise: whitespace of every kind,
# marks and invisibles the normaliser deletes, ligatures it expands, digits,
# Latin with case, punctuation that splits tokens.
_TRICKY = ("ابتةىئؤأإآٱكگ ی٢۵1aZİ\u064b\u0651\u0670\u0640\u200b\u200c\u200d\u200f\ufeff\u00ad\ufefb\ufef7"
           " \t\n\r\x0b\x0c\x1c\x1f\x85\xa0\u1680\u2000\u2028\u3000-_.،'")


@given(st.text(alphabet=_TRICKY, max_size=200))
@settings(max_examples=300, deadline=None)
def test_chunk_cache_gives_the_terms_of_the_whole_text(text: str):
    uncached = a._chain(text, {}, a.STOPWORDS)
    assert a.analyze(text) == uncached
    assert a.analyze(text) == uncached  # second time from the cache


def test_chunk_cache_on_a_news_sentence_and_a_question():
    text = "وقال وزير الخارجية الإيراني، حسين أمير عبد اللهيان، إن ٢٥٨٥ شخصاً..."
    assert a.analyze(text) == a._chain(text, {}, a.STOPWORDS)
    question = "من هو وزير الخارجية الإيراني؟"
    assert a.analyze_query(question) == a._chain(question, {}, a.QUERY_STOPWORDS)
    assert len(a.analyze_query(question)) == 3  # question words dropped


def test_overlong_chunks_are_analysed_but_not_kept():
    word = "ك" * 500
    assert a.analyze(word) == a._chain(word, {}, a.STOPWORDS)
    assert word not in a._index_chunks


_OLD_RAW_TOKEN = re.compile(r"(?:[^\W_]|[\u0610-\u061A\u064B-\u065F\u0670\u06D6-\u06ED\u0640\u200c\u200d])+")


@given(st.text(alphabet=_TRICKY + "__", max_size=200))
@settings(max_examples=300, deadline=None)
def test_raw_tokens_are_the_runs_of_letters_and_marks_between_everything_else(text: str):
    # The definition: maximal runs of letters, digits and in-word marks; underscores split.
    expected = [(m.group(), m.start(), m.end()) for m in _OLD_RAW_TOKEN.finditer(text)]
    assert list(a.tokenize_with_spans(text)) == expected
