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
