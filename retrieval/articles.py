"""The article record and how its stable id is derived."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, fields

try:
    from ._chain import utf8
except ImportError:  # built without a C compiler (analysis.py warns): the same bytes, encoded twice
    def utf8(text: str) -> bytes:
        return text.encode("utf-8")


@dataclass(frozen=True, slots=True)
class Article:
    """One news article as stored; everything but `id` and `body` may be empty."""

    id: str
    body: str
    title: str = ""
    source: str = ""
    section: str = ""
    published: str = ""  # ISO 8601 date or date-time, as precise as the input
    url: str = ""
    author: str = ""

    def fingerprint(self) -> str:
        """What ingest stores as the content hash: equal fingerprint → re-ingest is a no-op.

        SHA-1 over every field, each as its length and its characters, in
        one UTF-8 string (half the cost of hashing the fields' JSON, the
        scheme before it: databases that still held those hashes were at an
        older analysis pipeline, and re-deriving them on open stored
        fingerprints).
        """
        # The bytes of "\x00".join(f"{len(value)}\x00{value}" for each field in _HASHED_FIELDS
        # order), in three pieces: the body goes in through `utf8`, which leaves its UTF-8 in
        # the str for sqlite3 to bind, so it is encoded once for the hash and the INSERT
        # together. The fields are spelled out (the order is checked below the class): two
        # f-strings cost a third of the generic join over `_HASHED_FIELDS` (~1.2 µs a passage
        # of ingest).
        author, body, id_, published, section, source, title, url = (
            self.author, self.body, self.id, self.published, self.section, self.source, self.title, self.url)
        sha1 = hashlib.sha1(f"{len(author)}\x00{author}\x00{len(body)}\x00".encode())
        sha1.update(utf8(body))
        sha1.update(f"\x00{len(id_)}\x00{id_}\x00{len(published)}\x00{published}\x00{len(section)}\x00{section}"
                    f"\x00{len(source)}\x00{source}\x00{len(title)}\x00{title}\x00{len(url)}\x00{url}".encode())
        return FINGERPRINT_PREFIX + sha1.hexdigest()


_HASHED_FIELDS = tuple(sorted(f.name for f in fields(Article)))
# The order `fingerprint` spells its fields out in: a new field must be added there too.
assert _HASHED_FIELDS == ("author", "body", "id", "published", "section", "source", "title", "url")
# Marks a fingerprint (the hashes before it were 40 bare hex digits).
FINGERPRINT_PREFIX = "2:"


def derive_id(*, source: str, url: str, title: str, body: str) -> str:
    """A stable id for input that brings none.

    Source + URL identifies an article across edits of its text, so an edited
    copy replaces the old one; without a URL the content itself is the only
    identity there is.
    """
    if url:
        key, prefix = f"{source.strip().lower()}\n{url.strip()}", "u"
    else:
        key, prefix = f"{title.strip()}\n{body.strip()}", "c"
    return f"{prefix}-{hashlib.sha1(key.encode('utf-8')).hexdigest()[:16]}"
