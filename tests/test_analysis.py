"""Each filter of the Arabic chain alone, then the chains."""

import json
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from retrieval import analysis as a
from retrieval import normalize as norm
from retrieval import stemmer, stopwords
from retrieval.variants import edit1_variants


def test_strip_diacritics_removes_harakat_shadda_tanwin():
    assert norm.strip_diacritics("مُحَمَّدٌ") == "محمد"
    assert norm.strip_diacritics("كِتَابًا") == "كتابا"


def test_strip_tatweel():
    assert norm.strip_tatweel("كتـــاب") == "كتاب"


def test_split_ligatures():
    assert norm.split_ligatures("\ufefb") == "لا"
    assert norm.split_ligatures("\ufef7") == "لأ"


def test_normalize_alef_variants():
    assert norm.normalize_alef("أحمد إبراهيم آمال ٱلله") == "احمد ابراهيم امال الله"


def test_normalize_yeh_and_teh_marbuta():
    assert norm.normalize_yeh_heh("مستشفى مدينة") == "مستشفي مدينه"


def test_normalize_hamza_seats():
    assert norm.normalize_hamza_seats("مسؤول رئيس") == "مسوول رييس"


def test_fold_digits_arabic_indic_and_persian():
    assert norm.fold_digits("٢٥٨٥ و ۲۰۲۱") == "2585 و 2021"


def test_lowercase_latin():
    assert norm.lowercase_latin("The Voice MBC") == "the voice mbc"


def test_normalize_is_the_composition_of_the_filters():
    text = "أَعْلَنَتْ الخارجيـــة \ufefb ٢٥٨٥ مسؤولٌ مستشفى The VOICE"
    composed = norm.lowercase_latin(norm.fold_digits(norm.normalize_hamza_seats(norm.normalize_yeh_heh(
        norm.normalize_alef(norm.split_ligatures(norm.strip_tatweel(norm.strip_diacritics(text))))))))
    assert norm.normalize(text) == composed


def test_normalize_drops_invisible_marks():
    assert norm.normalize("سو\u200fريا\u200b") == "سوريا"


def test_tokenize_letters_and_digits():
    assert norm.tokenize("قرار رقم 2585، (حول) سوريا-روسيا!") == ["قرار", "رقم", "2585", "حول", "سوريا", "روسيا"]


def test_tokenize_with_spans_points_into_original_text():
    text = "قَرارُ مجلسِ الأمن"
    for token, start, end in norm.tokenize_with_spans(text):
        assert text[start:end] == token
    assert [t for t, _, _ in norm.tokenize_with_spans(text)] == ["قَرارُ", "مجلسِ", "الأمن"]


def test_remove_stopwords():
    assert stopwords.remove_stopwords(["في", "سوريا", "من", "روسيا"]) == ["سوريا", "روسيا"]


def test_question_words_are_query_side_only():
    assert "متى" in a.QUERY_STOPWORDS and "متي" in a.QUERY_STOPWORDS  # both spellings people type
    assert "كيف" in a.QUERY_STOPWORDS
    for word in ("ماذا", "متى", "أين", "كيف", "لماذا", "هل", "كم"):
        assert a.analyze_query(word) == [], word
        assert a.analyze(word) != [], word  # in a passage these words may carry meaning


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
    assert stemmer.strip_prefixes("والد") == "والد"  # father, not و + ال + د
    assert stemmer.strip_prefixes("والي") == "والي"
    assert stemmer.strip_prefixes("واشنطن") == "واشنطن"
    assert stemmer.strip_prefixes("وافق") == "وافق"
    assert a.analyze("واشنطن") != a.analyze("اشنطن")


# Families a reader reads as one word: each list must give one term (issue 16).
FAMILIES = (
    ("القوات", "قوات", "وقوات", "بالقوات", "للقوات", "والقوات", "فالقوات", "قواتها"),
    ("الانتخابات", "انتخابات", "والانتخابات", "للانتخابات", "بالانتخابات", "انتخاب", "الانتخاب"),
    ("الفريق", "فريق", "وفريق", "للفريق", "بالفريق", "فريقه"),
    ("البيان", "بيان", "وبيان", "بالبيان", "للبيان", "بيانات", "البيانات"),
    ("الوزارة", "وزارة", "ووزارة", "بالوزارة", "للوزارة", "وزارات", "الوزارات", "وزارته"),
    ("الحكومة", "حكومة", "والحكومة", "للحكومة", "حكومته", "حكومتها", "حكومات", "الحكومات"),
    ("السيارات", "سيارات", "سيارة", "السيارة", "بسيارة"),
    ("السياسات", "سياسات", "سياسة", "السياسة", "وسياسة"),
    ("اللبنانية", "اللبناني", "لبناني", "لبنانية", "اللبنانيين", "لبنانيون"),
    ("المصري", "مصري", "المصريين", "مصريون", "مصرية"),
    ("الاتجاه", "اتجاه", "اتجاهات", "اتجاهه"),
    ("المستشفى", "مستشفى", "مستشفيات", "بالمستشفى"),
    ("بقوة", "قوة", "القوة", "وبقوة"),
    ("أكد", "وأكد", "فأكد"),
)

# Different words that share letters a stemmer may take for affixes: they must keep apart.
DISTINCT = (
    ("وزارة", "زار"), ("وزارة", "زيارة"), ("فريق", "ريق"), ("بيان", "يان"), ("سيارة", "يارا"),
    ("بلد", "لد"), ("كتاب", "تاب"), ("بحر", "حر"), ("لجنة", "جنة"), ("وحدة", "حدة"), ("وطن", "طن"),
    ("ايران", "اير"), ("لبنان", "لبن"), ("سودان", "سود"), ("حسين", "حس"), ("امين", "ام"), ("بيروت", "بيرو"),
    ("انتهاك", "انتهى"), ("تحرك", "تحري"), ("علي", "عل"), ("وافق", "افق"), ("والد", "الد"), ("حياته", "حي"),
    ("بريطانيا", "ريطانيا"), ("فرنسا", "رنسا"), ("واشنطن", "اشنطن"), ("بوتين", "وتين"),
)


@pytest.mark.parametrize("family", FAMILIES, ids=lambda f: f[0])
def test_word_families_give_one_term(family):
    terms = {tuple(a.analyze(w)) for w in family}
    assert len(terms) == 1 and () not in terms, {w: a.analyze(w) for w in family}
    assert {tuple(a.reference_analyze(w)) for w in family} == terms
    assert {tuple(a.analyze_query(w)) for w in family} == terms


@pytest.mark.parametrize("pair", DISTINCT, ids=lambda p: "/".join(p))
def test_distinct_words_keep_apart(pair):
    first, second = pair
    assert a.analyze(first) != a.analyze(second)
    assert a.reference_analyze(first) != a.reference_analyze(second)


def test_the_stem_of_a_word_does_not_depend_on_its_article():
    # Snowball, the chain's former stemmer, chose its suffix rules by whether ال was there.
    for word in ("قوات", "انتخابات", "سيارات", "فريق", "بيان", "وزارة", "كرة", "قضية", "قمة", "فيلم", "شركات"):
        assert a.analyze(word) == a.analyze("ال" + word), word


# Names spelled like a particle once alef maqsura is folded, or close to a stopword: the index and
# the question keep them.
NAMES = ("علي", "عيسى", "موسى", "يحيى", "مصطفى", "ليلى", "هدى", "منى", "سلمى", "مجدي", "حتي", "متي", "لدي")


@pytest.mark.parametrize("name", NAMES)
def test_names_survive_the_stopwords(name):
    assert a.analyze(name) != [], name
    assert a.reference_analyze(name) == a.analyze(name) and a.reference_analyze_query(name) == a.analyze_query(name)
    assert a.analyze_query(name) != [] or name in ("متي",), name  # متي: متى typed with ي, a question word


def test_a_name_after_a_particle_is_kept_and_the_particle_dropped():
    assert a.analyze_query("علي خامنئي") == a.analyze("علي") + a.analyze("خامنئي")
    assert a.analyze("على الحدود") == a.analyze("الحدود")
    assert a.analyze("وعلى الحدود") == a.analyze("الحدود")


def test_suffix_and_prefix_stages_alone():
    assert stemmer.strip_prefixes("وبالقوات") == "قوات"
    assert stemmer.strip_prefixes("للحكومة") == "حكومة"
    assert stemmer.strip_prefixes("الله") == "الله"  # too short for the article
    assert stemmer.strip_suffixes("حكومتهم") == "حكوم"
    assert stemmer.strip_suffixes("قواتها") == "قوات"  # ات would leave two letters
    assert stemmer.strip_suffixes("حكوماتها") == "حكوم"
    assert stemmer.strip_suffixes("ايران") == "ايران"
    assert stemmer.is_clitic("وقوات") and not stemmer.is_clitic("وزارة")
    assert stemmer.is_clitic("بقوة") and not stemmer.is_clitic("بريطانيا")


def test_conjunction_on_a_stopword_is_a_stopword():
    assert a.analyze("وإلى فإن وأن") == []


def test_edit1_variants_cover_one_letter_insertions():
    assert "لافرنتييف" in edit1_variants("لافرينتييف")
    assert "لافرينتييف" in edit1_variants("لافرنتييف")
    assert "لافرنتييف" not in edit1_variants("لافرنتييف")


def test_overlong_runs_are_cut_into_bounded_tokens():
    tokens = norm.tokenize("ك" * 200)
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
    assert list(norm.tokenize_with_spans(text)) == expected


@pytest.mark.parametrize("frame", ["ماذا حدث في", "ما قصة", "هل صحيح أن", "ما الجديد بخصوص", "ما آخر أخبار",
                                   "أريد أن أعرف عن", "ماذا قال", "ماذا قالت", "كيف رد", "وماذا حدث في"])
def test_a_question_frame_leaves_the_topics_terms(frame):
    topic = "الانتخابات العراقية"
    assert a.analyze_query(f"{frame} {topic}؟") == a.analyze_query(topic)
    assert a.reference_analyze_query(f"{frame} {topic}؟") == a.analyze_query(topic)


def test_a_frame_alone_or_inside_a_question_is_kept():
    assert a.analyze_query("أخبار") == a.analyze("أخبار")  # nothing would be left
    assert a.analyze_query("ماذا حدث") == a.analyze("حدث")
    assert a.analyze_query("الانتخابات العراقية ماذا حدث فيها") == a.analyze("الانتخابات العراقية حدث فيها")
    assert a.analyze("ماذا حدث في العراق") == a.analyze("ماذا حدث العراق")  # the index side keeps its words


def test_release_keeps_a_small_index_cache_and_gives_back_a_large_one():
    if a._index_native is None:
        pytest.skip("built without the C chain")
    a.release_index_caches()
    a.analyze("أعلنت وزارة الصحة اليوم افتتاح مستشفى جديد في المدينة")
    held = a._index_native.cached()
    assert held > 0
    a.release_index_caches(keep=held)  # small enough: the next ingest starts warm
    assert a._index_native.cached() == held
    a.release_index_caches(keep=held - 1)  # past the bound: given back
    assert a._index_native.cached() == 0


async def test_an_ingest_leaves_a_small_cache_warm_and_drops_a_large_one(tmp_path, monkeypatch):
    from retrieval import ingest
    from retrieval.engine import RetrievalConfig, SearchEngine
    if a._index_native is None:
        pytest.skip("built without the C chain")
    body = "أعلنت وزارة الصحة اليوم عن افتتاح مستشفى جديد في المدينة يضم مئتي سرير وقسما للطوارئ"
    async with await SearchEngine.open(tmp_path / "news.db", RetrievalConfig()) as engine:
        a.release_index_caches()
        await engine.ingest_bytes(json.dumps({"id": "x1", "text": body}, ensure_ascii=False).encode(), "a.json")
        assert a._index_native.cached() > 0
        monkeypatch.setattr(ingest, "KEPT_CACHE_ENTRIES", 2)
        await engine.ingest_bytes(json.dumps({"id": "x2", "text": body + " ثانية"}, ensure_ascii=False).encode(),
                                  "b.json")
        assert a._index_native.cached() == 0
