"""JSON Lines read from bytes by orjson (`parse_jsonl_utf8`) against the reference path.

The reference is what the reader did before: decode the whole file, then
`json.loads` and full validation on every line. Every record, article or
skip message, must come out the same.
"""

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from retrieval.readers import InputError, Skipped, decode_text, parse_jsonl, parse_jsonl_utf8, read_bytes


def reference(raw: bytes, location: str = "f.jsonl") -> list:
    try:
        text = decode_text(raw)
    except InputError as exc:
        return [Skipped(location, str(exc))]
    return list(parse_jsonl(text, location))


TRICKY_STRINGS = [
    "نص عادي عن الأخبار", "", "   ", "\u0640\u064b", "a\x01b", "a\x7fb", "a\x85b", "a\u009fb", "«اقتباس»",
    "tab\there", "line\nbreak", "back\bspace", "form\ffeed", "\u200f\u200b", "\ud800", "😀", "x" * 300,
    "\\u0627", "quote\"s", "\x00", "\u00a0", "ٱلله",
]
FIELDS = ["id", "text", "title", "source", "category", "url", "published", "author", "extra"]

_value = st.one_of(st.sampled_from(TRICKY_STRINGS), st.text(max_size=30), st.none(), st.integers(),
                   st.integers(min_value=2**64, max_value=2**70), st.floats(allow_nan=True), st.booleans(),
                   st.lists(st.integers(), max_size=2))
_article = st.dictionaries(st.sampled_from(FIELDS), _value, max_size=6).map(
    lambda d: {"text": "نص المقال", **d})


@st.composite
def jsonl_line(draw) -> bytes:
    kind = draw(st.integers(0, 5))
    if kind <= 2:
        line = json.dumps(draw(_article), ensure_ascii=draw(st.booleans()))
        return line.encode("utf-8", "surrogatepass")  # a lone surrogate gives invalid UTF-8
    if kind == 3:
        return draw(st.sampled_from([
            b"", b"   ", b"\t\r", "\u00a0".encode(), "\u2028 ".encode(), b"[1, 2]", b'"just a string"', b"42",
            b'{"text": "a", "text": "b"}', b'{"text": "x" ', b"NaN", b'{"text": NaN}', b'{"id": 1e400, "text": "t"}',
            b"\xff\xfe", b"\xef\xbb\xbf{}", b'{"text": "\xc0\xaf"}', b'{"text": "ok"} trailing',
            b'{"text": "\\ud83d\\ude00 ok"}', b'{"text": "\\ud800"}', b'{"text": "\\u0000"}',
            b'{"text": "a\\u0085b", "title": "\\b"}', b'{"text": "x\x01y"}',
        ]))
    if kind == 4:
        return draw(st.binary(max_size=12))
    return json.dumps(draw(_article), ensure_ascii=False).encode("utf-8", "surrogatepass") + b"\r"


@settings(max_examples=150, deadline=None)
@given(st.lists(jsonl_line(), max_size=8), st.sampled_from([b"\n", b"\r\n"]), st.booleans())
def test_fast_path_gives_the_reference_records(lines, newline, trailing_newline):
    raw = newline.join(lines) + (newline if trailing_newline else b"")
    fast = parse_jsonl_utf8(raw, "f.jsonl")
    expected = reference(raw)
    if fast is not None:
        assert fast == expected
    assert list(read_bytes(raw, "f.jsonl")) == expected


def test_deep_nesting_gets_the_reference_message():
    deep = b"[" * 2000 + b"]" * 2000
    raw = '{"id": "ok", "text": "نص"}\n'.encode() + deep + b'\n{"text": "x", "extra": ' + deep + b"}"
    fast = parse_jsonl_utf8(raw, "f.jsonl")
    assert fast == reference(raw)
    assert [str(r) for r in fast[1:]] == ["f.jsonl:2: invalid JSON (nested too deeply)",
                                          "f.jsonl:3: invalid JSON (nested too deeply)"]


def test_plain_utf8_news_lines_take_the_fast_path():
    raw = "\n".join(json.dumps({"id": f"a{i}", "text": f"خبر رقم {i} «مهم»", "title": "عنوان"}, ensure_ascii=False)
                    for i in range(5)).encode()
    fast = parse_jsonl_utf8(raw, "news.jsonl")
    assert fast is not None and fast == reference(raw, "news.jsonl")
    assert [a.id for a in fast] == [f"a{i}" for i in range(5)]


def test_files_not_in_plain_utf8_go_the_reference_way():
    article = json.dumps({"id": "x", "text": "نص عربي طويل بما يكفي"}, ensure_ascii=False)
    assert parse_jsonl_utf8(b"\xef\xbb\xbf" + article.encode(), "f.jsonl") is None  # BOM
    assert parse_jsonl_utf8(article.encode("utf-16"), "f.jsonl") is None
    assert parse_jsonl_utf8(article.encode("cp1256"), "f.jsonl") is None
    assert parse_jsonl_utf8(b"\x00" + article.encode(), "f.jsonl") is None


def test_skip_messages_are_the_reference_ones():
    raw = (b'{"id": "a", "text": "ok"}\n{"id": "b"}\n{"text": "a\\u0000b"}\nnot json\n'
           b'{"text": "\xd9\x86\xd8\xb5", "id": 5}')
    fast = parse_jsonl_utf8(raw, "f.jsonl")
    assert fast == reference(raw)
    assert [str(r) for r in fast if isinstance(r, Skipped)] == [
        "f.jsonl:2: missing or empty required field 'text'",
        "f.jsonl:3: field 'text' contains U+0000, a NUL character, at character 1",
        "f.jsonl:4: invalid JSON (Expecting value at column 1)",
    ]


def test_has_words_is_any_alphanumeric_but_tatweel_for_every_character():
    # has_words scans with a regex class; its definition is str.isalnum() minus tatweel.
    from retrieval.readers import has_words

    every = [chr(c) for c in range(0x110000)]
    assert [c for c in every if has_words(c)] == [c for c in every if c.isalnum() and c != "\u0640"]
    assert not has_words("ـــ ،؛ _ \u064b") and has_words("ـ_ب")
