"""Articles from JSON: JSON Lines (with a fast path over UTF-8 bytes) and JSON documents.

Every record becomes an `Article` or a `Skipped` with its location and reason; the checks on text
(corrupt characters refused, control characters removed, something to search required) are shared
with the plain-text reader (`retrieval.readers`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass

import orjson

from .articles import Article, derive_id

MAX_ID_CHARS = 256


@dataclass(frozen=True, slots=True)
class Skipped:
    """A record (or whole file) that could not be ingested, and why."""

    location: str
    reason: str

    def __str__(self) -> str:
        return f"{self.location}: {self.reason}"


Record = Article | Skipped


# --- JSON Lines and JSON ----------------------------------------------------------------

_STRING_FIELDS = ("id", "title", "source", "category", "url", "published", "author")
# NUL and lone surrogates mark corrupt data (and UTF-8 cannot even encode a
# surrogate): the record is refused. Other control characters (all but tab,
# newline, carriage return, form feed) are invisible in text but interpreted by
# terminals and chat clients (ESC sequences); real corpora carry stray ones
# (U+0085 from old code pages), so they are removed rather than refused.
_CORRUPT_CHAR = re.compile(r"[\x00\ud800-\udfff]")
_CONTROL_CHAR = re.compile(r"[\x01-\x08\x0b\x0e-\x1f\x7f-\x9f]")
NO_WORDS = "has no letters or digits (only whitespace, punctuation or diacritics)"


def text_problem(value: str, what: str = "the text") -> str | None:
    """Why a string cannot be stored as article text, or None if it can."""
    m = _CORRUPT_CHAR.search(value)
    if m is None:
        return None
    code = ord(m.group())
    kind = "a lone surrogate (invalid Unicode)" if code else "a NUL character"
    return f"{what} contains U+{code:04X}, {kind}, at character {m.start()}"


def without_controls(value: str) -> str:
    return _CONTROL_CHAR.sub("", value)


# Either kind above: nearly every field has neither, and one scan says so.
_SUSPECT_CHAR = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


def checked_text(value: str, what: str = "the text") -> str:
    """`value` without control characters; ValueError if it cannot be stored at all."""
    if _SUSPECT_CHAR.search(value) is None:
        return value
    if problem := text_problem(value, what):
        raise ValueError(problem)
    return without_controls(value)


def has_words(text: str) -> bool:
    """Whether a text has anything to search for: a letter or digit.

    Diacritics are not letters; tatweel (U+0640, a letter to Unicode) is
    only a stretch of the line and analysis drops it.
    """
    return _WORD_CHAR.search(text) is not None


# `\w` is str.isalnum() or "_" (both in the regex engine and in str), so this is
# "alphanumeric and not tatweel", found by one scan in C instead of a generator.
_WORD_CHAR = re.compile(r"[^\W_\u0640]")


def article_from_mapping(obj: object, *, clean: bool = False) -> Article:
    """Validate one JSON object into an Article; ValueError names the problem.

    `clean`: the caller knows that no string in `obj` holds a control
    character or a surrogate (see `_clean_line`), so the scans are skipped.
    """
    if not isinstance(obj, dict):
        raise ValueError(f"expected a JSON object, got {type(obj).__name__}")
    body = obj.get("text")
    if not isinstance(body, str) or not body.strip():
        raise ValueError("missing or empty required field 'text'")
    if not clean:
        body = checked_text(body, "field 'text'")
    if not has_words(body):
        raise ValueError(f"field 'text' {NO_WORDS}")
    values: list[str] = []  # in _STRING_FIELDS order
    for key in _STRING_FIELDS:
        value = obj.get(key)
        if type(value) is str:  # nearly always: the checks below in the order they were
            pass
        elif value is None:
            value = ""
        elif isinstance(value, (int, float)) and key == "id" and not isinstance(value, bool):
            value = str(value)
        elif not isinstance(value, str):
            raise ValueError(f"field '{key}' must be a string, got {type(value).__name__}")
        values.append((value if clean else checked_text(value, f"field '{key}'")).strip())
    id_, title, source, category, url, published, author = values
    if len(id_) > MAX_ID_CHARS:
        raise ValueError(f"field 'id' is longer than {MAX_ID_CHARS} characters")
    article_id = id_ or derive_id(source=source, url=url, title=title, body=body)
    # Positional: a frozen dataclass's __init__ takes keywords at twice the cost (~0.5 µs a passage of ingest).
    return Article(article_id, body.strip(), title, source, category, published, url, author)


TOO_DEEP = "invalid JSON (nested too deeply)"


def parse_jsonl(text: str, location: str) -> Iterator[Record]:
    seen_any = False
    for lineno, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        seen_any = True
        yield _jsonl_record(line, f"{location}:{lineno}")
    if not seen_any:
        yield Skipped(location, "empty file: no JSON lines")


def _jsonl_record(line: str, where: str) -> Record:
    try:
        return article_from_mapping(json.loads(line))
    except json.JSONDecodeError as exc:
        return Skipped(where, f"invalid JSON ({exc.msg} at column {exc.colno})")
    except ValueError as exc:
        return Skipped(where, str(exc))
    except RecursionError:
        return Skipped(where, TOO_DEEP)


# --- JSON Lines from UTF-8 bytes: the fast path ------------------------------------------

# An escaped character (\uXXXX, \b), DEL, or a C1 control (U+0080-U+009F, \xc2\x80-\xc2\x9f in
# UTF-8): the only ways a string parsed from a valid JSON line can hold a character
# `checked_text` removes or refuses (JSON forbids raw control characters in strings, and the
# parser refuses them, and invalid UTF-8, which is where surrogates would come from).
_ESCAPE_BYTES = re.compile(rb"\\[ub]")
_C1_BYTES = re.compile(rb"\xc2[\x80-\x9f]")


def reference_plain_json_line(line: bytes) -> bool:
    """Whether no string parsed from this JSON line can need `checked_text` (see above).

    The specification of `retrieval/_scan.c`'s `plain_json_line`, which `_clean_line` is when
    the extension is built (memchr instead of regex scans: ~5× less ingest time a passage for this step).
    """
    # Three scans that each start from one literal byte (a fast loop in the regex
    # engine) rather than one alternation, which tries every position: 4x slower.
    return not (b"\x7f" in line or _ESCAPE_BYTES.search(line) or _C1_BYTES.search(line))


try:
    from ._scan import plain_json_line as _clean_line
except ImportError:  # built without a C compiler (passages.py logs it): the same answers, only slower
    _clean_line = reference_plain_json_line


def parse_jsonl_utf8(raw: bytes, location: str) -> list[Record] | None:
    """`parse_jsonl(decode_text(raw))` for a plain UTF-8 file, without decoding it whole.

    Each line is parsed from its bytes by orjson (a few times faster than
    decoding the file and `json.loads` on every line). The result is the
    reference path's, record for record: a line orjson refuses, or whose
    object holds anything but strings and nulls (where the two parsers could
    differ: big integers, deep nesting), goes through `json.loads` as before;
    and None is returned, for the reference path to redo the whole file, as
    soon as the file turns out not to be plain UTF-8 (BOM, NUL bytes, an
    invalid byte sequence): that decides its encoding for every line.
    """
    if raw.startswith((b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")) or b"\x00" in raw[:8192]:
        return None
    out: list[Record] = []
    seen_any = False
    for lineno, line in enumerate(raw.split(b"\n"), start=1):
        if not line.strip():  # ASCII whitespace only: blank as text too
            continue
        try:
            obj = orjson.loads(line)
        except orjson.JSONDecodeError:
            obj = None
        if type(obj) is dict and all(type(v) is str or v is None for v in obj.values()):
            seen_any = True
            try:
                out.append(article_from_mapping(obj, clean=_clean_line(line)))
            except ValueError as exc:
                out.append(Skipped(f"{location}:{lineno}", str(exc)))
            continue
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError:
            return None
        if text.strip():
            seen_any = True
            out.append(_jsonl_record(text, f"{location}:{lineno}"))
    if not seen_any:
        out.append(Skipped(location, "empty file: no JSON lines"))
    return out


def parse_json(text: str, location: str) -> Iterator[Record]:
    """A JSON array of articles, one article object, or `{"articles": [...]}`."""
    if not text.strip():
        yield Skipped(location, "empty file: no JSON")
        return
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        yield Skipped(location, f"invalid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})")
        return
    except ValueError as exc:  # e.g. an integer too long to convert
        yield Skipped(location, f"invalid JSON ({exc})")
        return
    except RecursionError:
        yield Skipped(location, TOO_DEEP)
        return
    if isinstance(doc, dict) and isinstance(doc.get("articles"), list):
        doc = doc["articles"]
    items = doc if isinstance(doc, list) else [doc]
    if not items:
        yield Skipped(location, "empty JSON array: no articles")
    for i, obj in enumerate(items):
        try:
            yield article_from_mapping(obj)
        except ValueError as exc:
            yield Skipped(f"{location}[{i}]" if isinstance(doc, list) else location, str(exc))
