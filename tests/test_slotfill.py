"""`slotfill.maker`: the objects it makes are those the dataclass's own __init__ makes."""

from dataclasses import FrozenInstanceError, dataclass, field

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from retrieval import slotfill
from retrieval.engine import Hit, SearchResult
from retrieval.shown import ShownPassage
from retrieval.storygroups import StoryCopy

TEXT = st.text(max_size=12)
HIT = st.tuples(TEXT, st.integers(), st.floats(allow_nan=False), TEXT, TEXT, TEXT, TEXT, TEXT, TEXT,
                st.lists(st.tuples(st.integers(0, 99), st.integers(0, 99)), max_size=3).map(tuple),
                st.integers(0, 50), st.booleans(),
                st.lists(st.builds(StoryCopy, TEXT, TEXT, TEXT, TEXT), max_size=2).map(tuple))


@settings(max_examples=100, deadline=None)
@given(HIT)
def test_a_hit_made_by_fill_is_the_dataclass_s(values: tuple) -> None:
    made = slotfill.maker(Hit)(values)
    assert type(made) is Hit
    assert made == Hit(*values)
    assert hash(made) == hash(Hit(*values))
    assert repr(made) == repr(Hit(*values))
    with pytest.raises(FrozenInstanceError):
        made.score = 1.0  # type: ignore[misc]


def test_other_answer_objects_and_refusals() -> None:
    row = (7, 2, "text", "a1", "title", "src", "sec", "2026-01-01", "http://x")
    assert slotfill.maker(ShownPassage)(row) == ShownPassage(*row)
    res = ("q", ("t",), (), 0, False, None, 0.5, "high", None, False)
    assert slotfill.maker(SearchResult)(res) == SearchResult(*res)
    with pytest.raises(TypeError, match="takes 9 values, not 8"):
        slotfill.maker(ShownPassage)(row[:8])

    @dataclass(frozen=True, slots=True)
    class Checked:
        x: int

        def __post_init__(self) -> None:
            raise ValueError

    @dataclass(frozen=True)
    class Plain:
        x: int

    @dataclass(frozen=True, slots=True)
    class Hidden:
        x: int
        y: int = field(init=False, default=0)

    for cls in (Checked, Plain, Hidden, int):
        with pytest.raises(TypeError):
            slotfill.maker(cls)
