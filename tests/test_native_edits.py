"""The C spelling-variant probe (retrieval/_edits.c) against `variants.edit1_variants`, its specification."""

import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from retrieval import variants

pytestmark = pytest.mark.skipif(variants._native_edits is None
                                and os.environ.get("NEWSBOT_ALLOW_PURE_PYTHON") == "1",
                                reason="native variants not built, allowed by NEWSBOT_ALLOW_PURE_PYTHON=1")

LETTERS = variants._ARABIC_LETTERS
# Words of Arabic letters with now and then a letter outside the alphabet the edits insert (a Persian
# letter, a Latin one, one beyond the BMP): the C side builds candidates in 4-byte characters.
WORD = st.text(alphabet=st.sampled_from([*LETTERS[:6], "گ", "é", "𝔸"]), max_size=7)


def native(term: str, keys: dict[str, int]) -> list[str]:
    assert variants._native_edits is not None
    return variants._native_edits.known(term, keys, LETTERS)


@settings(max_examples=300, deadline=None)
@given(WORD, st.lists(WORD, max_size=40))
def test_known_is_edit1_variants_filtered_through_the_keys(term: str, vocabulary: list[str]) -> None:
    # The vocabulary holds the term's own variants too, so that most examples find some.
    spec = variants.edit1_variants(term)
    keys = {w: i for i, w in enumerate([*vocabulary, *sorted(spec)[::7], term])}
    got = native(term, keys)
    assert len(got) == len(set(got)), "each variant once"
    assert set(got) == {v for v in spec if v in keys}
    assert term not in got


def test_known_finds_a_transliterated_name_spelled_another_way() -> None:
    keys = {"لافرينتييف": 0, "لافرنتييف": 1, "بوتين": 2}
    assert native("لافرنتييف", keys) == ["لافرينتييف"]
    assert native("لافرينتييف", keys) == ["لافرنتييف"]
    assert native("", keys) == []


def test_known_rejects_what_is_not_a_word_and_a_dict() -> None:
    with pytest.raises(TypeError):
        native(b"x", {})  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        variants._native_edits.known("x", ["x"], LETTERS)  # type: ignore[union-attr]


# --- the key filter: known() with a KeyFilter finds what it finds without one --------------------

def filtered(term: str, keys: dict[str, int], keyfilter: object) -> list[str]:
    assert variants._native_edits is not None
    return variants._native_edits.known(term, keys, LETTERS, keyfilter)


@settings(max_examples=200, deadline=None)
@given(WORD, st.lists(WORD, max_size=40), st.lists(WORD, max_size=20))
def test_known_with_a_filter_equals_known_without_also_after_keys_are_added(term: str, vocabulary: list[str],
                                                                            added: list[str]) -> None:
    spec = variants.edit1_variants(term)
    keys = {w: i for i, w in enumerate([*vocabulary, *sorted(spec)[::5]])}
    keyfilter = variants._native_edits.KeyFilter(keys)  # type: ignore[union-attr]
    assert filtered(term, keys, keyfilter) == native(term, keys)
    # Keys added after the filter was made (a segment's new terms): taken in before the next probe.
    for w in [*added, *sorted(spec)[1::3]]:
        keys.setdefault(w, len(keys))
    assert keyfilter.covered <= len(keys)
    got = filtered(term, keys, keyfilter)
    assert got == native(term, keys)
    assert set(got) == {v for v in spec if v in keys}  # the specification, edit1_variants through the dict
    assert keyfilter.covered == len(keys)
    assert all(keyfilter.may_hold(w) for w in keys), "a key is never dropped"


def test_key_filter_follows_a_growing_vocabulary_and_one_that_shrank() -> None:
    keys = {f"ك{i:05d}": i for i in range(20_000)}
    keyfilter = variants._native_edits.KeyFilter(keys)  # type: ignore[union-attr]
    for i in range(20_000, 120_000):  # grown past its table's size: read again whole, larger
        keys[f"ك{i:06d}"] = i
    assert keyfilter.may_hold("ك119999") and keyfilter.covered == len(keys)
    # Most words that are not keys are told apart without a probe.
    assert sum(keyfilter.may_hold(f"ب{i}") for i in range(10_000)) < 500
    # Fewer keys than it took in: read again whole. (The contract is a dict only added to: a key removed
    # and another added in its place between two uses would go unseen.)
    del keys["ك00000"], keys["ك020000"]
    keys["لافرينتييف"] = 1
    assert keyfilter.may_hold("لافرينتييف")
    assert filtered("لافرنتييف", keys, keyfilter) == ["لافرينتييف"]


def test_known_with_a_filter_rejects_a_filter_of_another_dict() -> None:
    edits = variants._native_edits
    assert edits is not None
    keyfilter = edits.KeyFilter({"بوتين": 0})
    with pytest.raises(ValueError, match="another dict"):
        edits.known("بوتن", {"بوتين": 0}, LETTERS, keyfilter)
    with pytest.raises(TypeError):
        edits.known("بوتن", {"بوتين": 0}, LETTERS, object())
    with pytest.raises(TypeError):
        edits.KeyFilter(["بوتين"])
    # Keys that are not all str: the filter stands aside and every candidate is probed.
    keys: dict = {"بوتين": 0, 1: 1}
    assert edits.known("بوتن", keys, LETTERS, edits.KeyFilter(keys)) == ["بوتين"]


# Pairs that are often one edit apart: a word and a variant of it made by one of the edits.
@st.composite
def word_pairs(draw: st.DrawFn) -> tuple[str, str]:
    a = draw(WORD)
    if draw(st.booleans()) and a:
        b = draw(st.sampled_from([*sorted(variants.edit1_variants(a)), a, a[::-1]]))
    else:
        b = draw(WORD)
    return a, b


@settings(max_examples=500, deadline=None)
@given(word_pairs())
def test_one_edit_apart_is_rerank_s(pair: tuple[str, str]) -> None:
    from retrieval import rerank

    assert variants._native_edits is not None
    a, b = pair
    assert variants._native_edits.one_edit_apart(a, b) == rerank.one_edit_apart(a, b)
    assert variants._native_edits.one_edit_apart(b, a) == rerank.one_edit_apart(b, a)


@settings(max_examples=200, deadline=None)
@given(WORD, st.lists(WORD, max_size=12))
def test_one_edit_of_keeps_the_variants_one_edit_away_in_order(term: str, others: list[str]) -> None:
    from retrieval import rerank

    assert variants._native_edits is not None
    candidates = others + sorted(variants.edit1_variants(term))[:8]
    assert variants._native_edits.one_edit_of(term, candidates) == [
        v for v in candidates if rerank.one_edit_apart(term, v)]


def test_one_edit_of_rejects_what_is_not_a_list_of_str() -> None:
    assert variants._native_edits is not None
    with pytest.raises(TypeError):
        variants._native_edits.one_edit_of("ab", ("ab",))
    with pytest.raises(TypeError, match="variants must be str"):
        variants._native_edits.one_edit_of("ab", ["ab", 3])
