"""The search path's caches give exactly what they stand in for."""

from __future__ import annotations

import numpy as np

from retrieval import excerpts, segment, segments, variants
from retrieval.analysis import analyze, analyze_token
from retrieval.bm25 import BM25Params, build_index
from retrieval.excerpts import cached_term, make_excerpt, matched_words
from retrieval.variants import edit1_variants

from .conftest import NEWS, SAMPLE

# Diacritics, tatweel, hamza forms, a ligature, digits, Latin and a stopword: raw tokens the
# chain changes in every way it can.
TRICKY = "إنّ الأسعارَ ارتفعـــت في أوبك ﻻ سيما 2585 OPEC والمسؤولين ومسئول الاقتصادية"


def test_cached_term_is_analyze_token_on_every_word():
    words = SAMPLE.read_text(encoding="utf-8").split() + TRICKY.split()
    for _ in range(2):  # a second pass answers from the cache
        assert [cached_term(w) for w in words] == [analyze_token(w) for w in words]


def test_matched_words_from_the_cache_equal_the_uncached_chain():
    text = SAMPLE.read_text(encoding="utf-8") + "\n" + TRICKY
    terms = set(analyze("قرار مجلس الأمن سوريا الأسعار أوبك المسؤول 2585 opec"))
    expected = matched_words(text, terms, term_of=analyze_token)
    assert expected  # the check means something
    assert matched_words(text, terms) == expected
    assert matched_words(text, terms) == expected  # warm


def test_excerpts_and_highlights_do_not_depend_on_the_cache_state():
    texts = [a["text"] for a in NEWS] + [SAMPLE.read_text(encoding="utf-8")[:2000]]
    terms = set(analyze("أسعار النفط المنتخب هاتف مجلس الأمن"))
    excerpts._TERM_OF_RAW.clear()
    cold = [make_excerpt(t, terms, 120) for t in texts]
    warm = [make_excerpt(t, terms, 120) for t in texts]
    assert cold == warm and any(e.highlights for e in cold)


def test_the_raw_term_cache_stays_bounded(monkeypatch):
    monkeypatch.setattr(excerpts, "_TERM_OF_RAW_LIMIT", 10)
    excerpts._TERM_OF_RAW.clear()
    for n in range(50):
        assert cached_term(f"كلمة{n}") == analyze_token(f"كلمة{n}")
    assert len(excerpts._TERM_OF_RAW) <= 10


def small_index(docs: list[list[str]]):
    return build_index(docs, np.arange(len(docs)), np.arange(len(docs)))


def direct_variants(index, term: str) -> set[tuple[int, str]]:
    return {(index.df(vid), v) for v in edit1_variants(term) if (vid := index.vocabulary.get(v)) is not None}


def test_known_variants_are_the_vocabulary_terms_one_edit_away():
    index = small_index([["لافرنتييف", "سوريا"], ["لافرينتييف"], ["لافرينتييف", "روسيا"], ["سوري"]])
    for term in ("لافرنتيف", "لافرينتييف", "سوريه", "غائب"):
        got = variants.known_variants(index, term)
        assert set(got) == direct_variants(index, term)
        assert variants.known_variants(index, term) == got  # from the cache
    assert (2, "لافرينتييف") in variants.known_variants(index, "لافرنتييف")


def test_known_variants_are_forgotten_when_the_index_is_replaced():
    old = small_index([["لافرنتييف"]])
    assert variants.known_variants(old, "لافرنتيف") == ((1, "لافرنتييف"),)
    new = small_index([["لافرينتيف"], ["لافرينتيف"]])
    assert variants.known_variants(new, "لافرنتيف") == ((2, "لافرينتيف"),)


def test_known_variants_of_a_live_index_leave_out_terms_no_live_passage_holds():
    vocabulary = segment.Vocabulary()
    params = BM25Params()
    docs = [["لافرنتييف", "سوريا"], ["لافرينتييف"], ["سوري"]]
    state = segments.SegmentedIndex(segment.build_segment(docs, range(3), range(3), vocabulary, params),
                                    vocabulary, params, 0)
    state.add([["لافرنتيييف"]], [3], [3])  # a variant only a segment holds
    assert state.delete(1, "لافرينتييف")  # its only passage: no longer a term of the index
    live = state.snapshot()
    got = variants.known_variants(live, "لافرنتييف")
    assert set(got) == {(live.df(live.vocabulary[v]), v) for v in edit1_variants("لافرنتييف")
                        if v in live.vocabulary}
    assert {v for _, v in got} == {"لافرنتيييف"}
