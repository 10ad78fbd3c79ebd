"""The Lucene ArabicAnalyzer port, one filter at a time on single words.

Expected values follow Lucene's own TestArabicNormalizationFilter /
TestArabicStemFilter cases and the order of filters in ArabicAnalyzer.
"""

import pytest

from benchmarks import lucene


@pytest.mark.parametrize(("word", "expected"), [
    ("آجن", "اجن"), ("أحمد", "احمد"), ("إعمار", "اعمار"),  # alef madda / hamza above / below
    ("ٱلله", "ٱلله"),  # alef wasla is not in Lucene's normaliser
    ("ى", "ي"), ("مدينة", "مدينه"),
    ("كتــــاب", "كتاب"), ("كِتَابٌ", "كتاب"), ("مُّ", "م"),
    ("مسؤول", "مسؤول"),  # hamza on waw is kept
])
def test_normalizer(word: str, expected: str) -> None:
    assert lucene.arabic_normalize(word) == expected


@pytest.mark.parametrize(("word", "expected"), [
    ("الحسن", "حسن"), ("والحسن", "حسن"), ("بالحسن", "حسن"), ("كالحسن", "حسن"),
    ("فالحسن", "حسن"), ("للاخر", "اخر"), ("وحسن", "حسن"),
    ("وحس", "وحس"),  # و needs at least 4 letters
    ("الم", "الم"),  # ال must leave 2 letters
    ("والكتاب", "كتاب"),  # only the first matching prefix in list order: ال is tried first but does not match
    ("الوكتاب", "وكتاب"),  # one prefix only
])
def test_stem_prefix(word: str, expected: str) -> None:
    assert lucene.stem_prefix(word) == expected


@pytest.mark.parametrize(("word", "expected"), [
    ("ساهدهات", "ساهد"),  # ات then ه then nothing: every suffix in one pass
    ("ساهدها", "ساهد"), ("ساهدان", "ساهد"), ("ساهدون", "ساهد"), ("ساهدين", "ساهد"),
    ("ساهديه", "ساهد"), ("ساهده", "ساهد"), ("ساهدي", "ساهد"),
    ("سها", "سها"),  # would leave 1 letter
    ("مدينه", "مدين"),  # normalised teh marbuta is a heh suffix
])
def test_stem_suffix(word: str, expected: str) -> None:
    assert lucene.stem_suffix(word) == expected


def test_stopwords_are_matched_before_normalisation() -> None:
    assert "إلى" in lucene.SAVOY_STOPWORDS
    assert lucene.analyze_token("إلى") is None
    # a diacritised stopword is not in the (unnormalised) list, so it survives and is normalised
    assert lucene.analyze_token("فِي") == "في"


def test_tokenizer_keeps_marks_and_joins_numbers() -> None:
    assert lucene.standard_tokenize("وَالمُسْتَشْفَيات، 3.5 و1,000 U.S. كوفيد-19") == [
        "وَالمُسْتَشْفَيات", "3.5", "و1,000", "U.S", "كوفيد", "19"]


def test_analyzer_chain() -> None:
    assert lucene.analyze("والمستشفيات في ٢٥٨٥ NATO") == ["مستشف", "2585", "nato"]
