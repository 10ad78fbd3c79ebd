"""Input files: folders walked, sizes and gzip bombs guarded, encodings decoded, and plain-text articles
in the sample's layout; JSON Lines and JSON are parsed by `retrieval.jsonrecords`.

Each reader yields `Article`s and `Skipped` records (a location and a reason)
so that one bad record never stops a batch. Nothing here touches the store.
"""

from __future__ import annotations

import gzip
import io
import os
import re
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path

from .articles import Article
from .jsonrecords import (
    NO_WORDS,
    Record,
    Skipped,
    has_words,
    parse_json,
    parse_jsonl,
    parse_jsonl_utf8,
    text_problem,
    without_controls,
)

SUPPORTED_SUFFIXES = (".txt", ".jsonl", ".json")
# A gzip bomb is refused rather than inflated: no real article file is this big.
DEFAULT_MAX_DECOMPRESSED = 2 * 1024**3
# Text and JSON compress 3-10 times; a file inflating more than this is a bomb,
# refused early instead of after filling memory up to the size limit.
MAX_GZIP_RATIO = 100
_RATIO_CHECK_AFTER = 16 * 1024**2


class InputError(ValueError):
    """A whole input is unreadable (encoding, binary data, size)."""




# --- files and folders ----------------------------------------------------------

def base_suffix(name: str) -> str:
    """The format suffix of a file name, looking through a trailing `.gz`."""
    lower = name.lower()
    if lower.endswith(".gz"):
        lower = lower[:-3]
    return os.path.splitext(lower)[1]


def is_supported(name: str) -> bool:
    return base_suffix(name) in SUPPORTED_SUFFIXES


NOT_REGULAR = "not a regular file (a pipe, socket or device is never read)"


def iter_input_files(paths: Iterable[str | Path]) -> Iterator[Path | Skipped]:
    """Files to ingest: named files as given, folders walked recursively.

    Inside folders, files of other formats are passed over quietly (a data
    folder holds READMEs and licences); a file named explicitly that cannot be
    read is reported.
    """
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            for root, dirs, files in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for name in sorted(files):
                    if not name.startswith(".") and is_supported(name):
                        found = Path(root) / name
                        # A FIFO or device under an article's name would block or never end.
                        yield found if found.is_file() else Skipped(str(found), NOT_REGULAR)
        elif path.is_file():
            if is_supported(path.name):
                yield path
            else:
                yield Skipped(str(path), "unsupported file type (expected .txt, .jsonl, .json or .gz of one)")
        elif path.exists():
            yield Skipped(str(path), NOT_REGULAR)
        else:
            yield Skipped(str(path), "no such file or folder")


def read_path(path: Path, *, max_bytes: int = DEFAULT_MAX_DECOMPRESSED) -> Iterator[Record]:
    """Articles of one file, whatever its supported format."""
    try:
        with open(path, "rb") as fh:
            yield from read_stream(fh, path.name, str(path), max_bytes=max_bytes)
    except OSError as exc:
        yield Skipped(str(path), f"cannot read file: {exc.strerror or exc}")


def read_bytes(data: bytes, name: str, *, max_bytes: int = DEFAULT_MAX_DECOMPRESSED) -> Iterator[Record]:
    """Articles of an in-memory file (an upload), `name` telling its format.

    The name comes from whoever sent the file: only its last component is
    used (for the format, a plain-text article's id and the location in
    messages), never as a path.
    """
    safe = upload_name(name)
    yield from read_stream(io.BytesIO(data), safe, safe, max_bytes=max_bytes)


_UNSAFE_NAME_CHARS = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")


def upload_name(name: str) -> str:
    """The last component of a sender-supplied file name, without control or direction characters."""
    base = re.split(r"[/\\]", name)[-1]
    return _UNSAFE_NAME_CHARS.sub("", base).strip()[:200] or "upload"


def read_stream(fh: io.BufferedIOBase, name: str, location: str, *, max_bytes: int) -> Iterator[Record]:
    suffix = base_suffix(name)
    if suffix not in SUPPORTED_SUFFIXES:
        yield Skipped(location, "unsupported file type (expected .txt, .jsonl, .json or .gz of one)")
        return
    try:
        raw = _read_limited(fh, gzipped=name.lower().endswith(".gz"), max_bytes=max_bytes)
    except InputError as exc:
        yield Skipped(location, str(exc))
        return
    if suffix == ".jsonl" and (fast := parse_jsonl_utf8(raw, location)) is not None:
        yield from fast
        return
    try:
        text = decode_text(raw)
    except InputError as exc:
        yield Skipped(location, str(exc))
        return
    stem = Path(name[:-3] if name.lower().endswith(".gz") else name).stem
    if suffix == ".txt":
        yield parse_plain_text(text, stem, location)
    elif suffix == ".jsonl":
        yield from parse_jsonl(text, location)
    else:
        yield from parse_json(text, location)


def _read_limited(fh: io.BufferedIOBase, *, gzipped: bool, max_bytes: int) -> bytes:
    if not gzipped:
        data = fh.read(max_bytes + 1)
        if len(data) > max_bytes:
            raise InputError(f"file is larger than the {max_bytes:,} byte limit")
        return data
    start = fh.tell()
    compressed = fh.seek(0, io.SEEK_END) - start
    fh.seek(start)
    out = bytearray()
    try:
        with gzip.GzipFile(fileobj=fh) as gz:
            while chunk := gz.read(1 << 20):
                out += chunk
                if len(out) > max_bytes:
                    raise InputError(f"decompresses to more than the {max_bytes:,} byte limit"
                                     " (refused as a likely gzip bomb)")
                if len(out) > _RATIO_CHECK_AFTER and len(out) > MAX_GZIP_RATIO * compressed:
                    raise InputError(f"decompresses to more than {MAX_GZIP_RATIO} times its size"
                                     " (refused as a likely gzip bomb)")
    except (OSError, EOFError, zlib.error) as exc:
        raise InputError(f"not a valid gzip file: {exc}") from None
    return bytes(out)


# --- encodings -------------------------------------------------------------------

_ARABIC_LETTER = re.compile(r"[\u0621-\u064A]")
# What a Windows-1256 Arabic text decodes to, besides ASCII: Arabic letters,
# tashkeel and punctuation, Persian letters used in names, typographic quotes,
# dashes, direction marks and a few symbols. Anything else from the code page
# (Latin-1 symbols, accented Latin letters, Urdu letters) marks a text in some
# other encoding read as cp1256.
_CP1256_ARABIC_TEXT = re.compile(
    "[\x00-\x7f\u0600-\u0652\u0660-\u066d\u067e\u0686\u0698\u06a9\u06af"
    "\u00a0\u00ab\u00bb\u00b0\u00d7\u00f7\u00a9\u00ae\u20ac"
    "\u2026\u2018\u2019\u201c\u201d\u2022\u2013\u2014\u200c-\u200f]+")
# Alef and lam are the two commonest Arabic letters (a quarter of the letters
# of running text); text in another encoding read as cp1256 has them at about
# the 1-in-36 rate of any letter.
_MIN_ALEF_LAM_SHARE = 0.12
_SNIFF_CHARS = 1 << 20


def decode_text(raw: bytes) -> str:
    """UTF-8 (with or without BOM), UTF-16 with BOM, or Windows-1256 Arabic.

    Windows-1256 decodes almost any byte string, so it is accepted only when
    the result reads as Arabic; anything else is refused rather than indexed
    as mojibake.
    """
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return raw.decode("utf-16")
        except UnicodeDecodeError:
            raise InputError("invalid UTF-16 text") from None
    if b"\x00" in raw[:8192]:
        raise InputError("binary data, not a text file")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        utf8_error = exc
    text = raw.decode("cp1256", errors="replace")
    if _reads_as_arabic(text[:_SNIFF_CHARS]) and not _has_controls(text):
        return text
    raise InputError(
        f"not UTF-8 (invalid byte at offset {utf8_error.start}) and not recognisable "
        "as Windows-1256 Arabic; re-save the file as UTF-8")


def _reads_as_arabic(text: str) -> bool:
    """Whether a cp1256 decoding is Arabic text rather than another encoding's mojibake."""
    letters = len(_ARABIC_LETTER.findall(text))
    if letters < 20:
        return False
    foreign = len(_CP1256_ARABIC_TEXT.sub("", text))
    alef_lam = text.count("\u0627") + text.count("\u0644")
    return foreign * 20 <= letters and alef_lam >= _MIN_ALEF_LAM_SHARE * letters


def _has_controls(text: str) -> bool:
    return any(ord(c) < 32 and c not in "\t\n\r\f" for c in text[:65536])


# --- plain text in the sample's layout ----------------------------------------------

_SOURCE_LINE = re.compile(r"^(?P<source>[^\n.؟!،]{1,60}?)\s+[-–—]\s+(?P<section>[^\n.؟!،]{1,60})$")
_WEEKDAYS = "الأحد|الاحد|الإثنين|الاثنين|الثلاثاء|الأربعاء|الاربعاء|الخميس|الجمعة|السبت"
_DATE_LINE = re.compile(
    rf"^(?:(?:{_WEEKDAYS})[\s،,]*)?"
    r"(?:(?P<y>\d{4})[/.-](?P<m>\d{1,2})[/.-](?P<d>\d{1,2})"
    r"|(?P<d2>\d{1,2})[/.-](?P<m2>\d{1,2})[/.-](?P<y2>\d{4}))"
    r"(?:\s+(?P<hh>\d{1,2}):(?P<mm>\d{2}))?\s*$")
_COPYRIGHT = re.compile(r"^\s*(©|\(c\)|حقوق\s+(ال)?(نشر|طبع)|جميع\s+الحقوق\s+محفوظة)", re.IGNORECASE)
_DIGITS = str.maketrans("٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹", "01234567890123456789")


def parse_date_line(line: str) -> str | None:
    """`الإثنين 2021/11/22` → `2021-11-22` (None if the line is not a date)."""
    m = _DATE_LINE.match(line.strip().translate(_DIGITS))
    if not m:
        return None
    y, mo, d = (m["y"], m["m"], m["d"]) if m["y"] else (m["y2"], m["m2"], m["d2"])
    year, month, day = int(y), int(mo), int(d)
    if not (1 <= month <= 12 and 1 <= day <= 31 and 1900 <= year <= 2100):
        return None
    iso = f"{year:04d}-{month:02d}-{day:02d}"
    if m["hh"] and int(m["hh"]) < 24:
        iso += f"T{int(m['hh']):02d}:{m['mm']}"
    return iso


def parse_plain_text(text: str, stem: str, location: str) -> Record:
    """One article in the sample's layout; every header line is optional.

    Title on the first line, then (each only if it looks like one) a
    `source - section` line and a weekday + date line, then paragraphs; a
    trailing copyright line is dropped so it is never indexed.
    """
    if problem := text_problem(text):
        return Skipped(location, problem)
    text = without_controls(text)
    lines = [line.strip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    while lines and not lines[-1]:
        lines.pop()
    while lines and _COPYRIGHT.match(lines[-1]):
        lines.pop()
        while lines and not lines[-1]:
            lines.pop()
    content = [(i, line) for i, line in enumerate(lines) if line]
    if not content:
        return Skipped(location, "empty file: no article text")

    title = source = section = published = ""
    pos = 0
    first = content[0][1]
    if parse_date_line(first) is None and not _SOURCE_LINE.match(first) and len(content) > 1:
        title, pos = first, 1
    if pos < len(content) and (m := _SOURCE_LINE.match(content[pos][1])):
        source, section, pos = m["source"].strip(), m["section"].strip(), pos + 1
    if pos < len(content) and (date := parse_date_line(content[pos][1])):
        published, pos = date, pos + 1

    body = "\n\n".join(line for _, line in content[pos:])
    if not body.strip():
        return Skipped(location, "no body text after the title, source and date lines")
    if not has_words(body):
        return Skipped(location, f"the text {NO_WORDS}")
    return Article(id=stem, title=title, body=body, source=source, section=section, published=published)
