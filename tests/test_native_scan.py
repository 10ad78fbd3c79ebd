"""Ingest's scans in C (retrieval/_scan.c) against the Python versions, their specification."""

import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from retrieval import jsonrecords
from retrieval import passages as p

pytestmark = pytest.mark.skipif(not p.NATIVE_SPANS and os.environ.get("NEWSBOT_ALLOW_PURE_PYTHON") == "1",
                                reason="native splitting not built, allowed by NEWSBOT_ALLOW_PURE_PYTHON=1")

# Everything the scan looks at: every kind of whitespace (only "\n" ends a line), the sentence
# marks, closing quotes and brackets, clause marks, and characters near them that are none of those.
SPACES = " \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f\x85\xa0\u1680\u2000\u200a\u2028\u2029\u202f\u205f\u3000"
MARKS = ".!?؟؛…\"'»”)]،,:;«“([-_\u200b"
WORDS = "ab كلمة وزير"
_PIECE = st.text(alphabet=st.sampled_from(SPACES + MARKS + WORDS), max_size=60)
# Words, then maybe marks, closers and spaces: the shapes the cut patterns match or nearly match.
_SENTENCE = st.builds(lambda *parts: "".join(parts), st.text(alphabet=WORDS, min_size=1, max_size=15),
                      st.text(alphabet=".!?؟؛…،,:;-", max_size=3), st.text(alphabet="\"'»”)]«(", max_size=2),
                      st.text(alphabet=" \t\xa0\u3000\u2028\n", max_size=2))
# Mostly the above; any character now and then (non-BMP ones make a 4-byte str, pure ASCII a 1-byte one).
_BODY = st.lists(_SENTENCE | _PIECE | st.text(max_size=8), max_size=30).map("".join)


def test_native_scan_is_built():
    # CI builds the extension (`pip install -e .`): a silent fallback would only show as a slower ingest.
    assert p.NATIVE_SPANS, "retrieval._scan is not importable: run `pip install -e .` with a C compiler"
    assert jsonrecords._clean_line is not jsonrecords.reference_plain_json_line


@settings(max_examples=600, deadline=None)
@given(_BODY, st.integers(1, 80), st.integers(1, 80))
def test_generated_bodies_are_split_as_the_specification_splits_them(body, target_chars, max_chars):
    assert p.passage_spans(body, target_chars=target_chars, max_chars=max_chars) == \
        p.reference_passage_spans(body, target_chars=target_chars, max_chars=max_chars)


@settings(max_examples=200, deadline=None)
@given(_BODY, st.integers(-9, 9), st.integers(-9, 9))
def test_odd_sizes_follow_python_arithmetic(body, target_chars, max_chars):
    # Nothing passes sizes like these (the settings refuse them), but the two must not part even so:
    # `target_chars // 4` floors below zero.
    assert p.passage_spans(body, target_chars=target_chars, max_chars=max_chars) == \
        p.reference_passage_spans(body, target_chars=target_chars, max_chars=max_chars)


@pytest.mark.parametrize("body", [
    "",
    "\n\n  \n",
    "one line",
    "x",
    "سطر أول.\nسطر ثان؟ «نعم» قال.\n\n\nفقرة ثالثة، طويلة: جدا; حقا!",
    "ascii only. Sentence two! Three?\r\nfour",
    "wide 😀 text. more\u2028still the same line\u2029and this.\nnext",
    "a" * 2000,
    ("جملة قصيرة. " * 200).strip(),
    ("كلمة، " * 300).strip(),
    "end.\" next) word].\u00a0more\u3000",
])
def test_edge_bodies(body):
    for target_chars, max_chars in ((500, 800), (20, 30), (1, 1)):
        assert p.passage_spans(body, target_chars=target_chars, max_chars=max_chars) == \
            p.reference_passage_spans(body, target_chars=target_chars, max_chars=max_chars)


def test_bad_arguments_are_refused():
    from retrieval._scan import passage_spans

    with pytest.raises(TypeError):
        passage_spans(b"bytes", 500, 800)
    with pytest.raises(TypeError):
        passage_spans("text", "500", 800)


# --- whether a JSON line is plain ----------------------------------------------------------------

_LINE_BYTES = st.sampled_from([b"\\", b"u", b"b", b"n", b"\x7f", b"\xc2", b"\x80", b"\x9f", b"\xa0", b"\xab", b"\xc3",
                               b"\xd8\xa7", b"a", b'"', b" "])


@settings(max_examples=600, deadline=None)
@given(st.lists(_LINE_BYTES, max_size=40).map(b"".join) | st.binary(max_size=60))
def test_plain_json_line_answers_as_the_specification(line):
    assert jsonrecords._clean_line(line) == jsonrecords.reference_plain_json_line(line)


@pytest.mark.parametrize("line, plain", [
    (b'{"text": "\xd9\x83\xd9\x84\xd9\x85\xd8\xa9 \\"quoted\\" \xc2\xabx\xc2\xbb"}', True),  # \" and «» are fine
    (b'{"text": "a\\u0627"}', False),       # a \u escape may spell a control character or a surrogate
    (b'{"text": "a\\bc"}', False),          # \b is a control character
    (b'{"text": "a\\\\bc"}', False),        # an escaped backslash then b: refused too (as the regex does)
    (b'{"text": "a\x7f"}', False),           # DEL
    (b'{"text": "a\xc2\x85"}', False),       # NEL, a C1 control
    (b'{"text": "end\\', True),             # a backslash at the very end
    (b"", True),
])
def test_plain_json_line_cases(line, plain):
    assert jsonrecords._clean_line(line) is plain
    assert jsonrecords.reference_plain_json_line(line) is plain
