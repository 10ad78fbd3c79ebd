"""RSS 0.9x/1.0/2.0 and Atom parsed safely with lxml into `FeedItem`s.

Why our own walk over lxml rather than a feed-parsing library (measured in docs/feeds.md):
fastfeedparser is as fast but converts every date to UTC, losing the offset the outlet published
(kept here: `published` is ISO 8601 with the item's own offset); feedparser is ~two orders of
magnitude slower and its lenient fallback expands entities (a quadratic blow-up feed).

Safety: the document is first decoded by us (BOM, XML declaration, HTTP charset, else UTF-8, else
Windows-1256) and handed to lxml as UTF-8. A document that declares any entity (`<!ENTITY`) is
refused outright: no real feed needs one, and entities are how billion-laughs, quadratic blow-up
and external-entity (`file://`) attacks work. Any other DOCTYPE is removed before parsing, and the
parser neither loads DTDs, resolves entities, touches the network, nor builds huge trees.
"""

from __future__ import annotations

import codecs
import email.utils
import html
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime

from lxml import etree

MAX_ITEMS = 500
MAX_TITLE_CHARS = 1000

NS_ATOM = "http://www.w3.org/2005/Atom"
NS_ATOM03 = "http://purl.org/atom/ns#"
NS_RSS1 = "http://purl.org/rss/1.0/"
NS_RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
NS_DC = "http://purl.org/dc/elements/1.1/"
NS_CONTENT = "http://purl.org/rss/1.0/modules/content/"

_XML_DECL = re.compile(rb"^\s*<\?xml[^>]*?encoding\s*=\s*[\"']([A-Za-z0-9._:-]+)[\"'][^>]*\?>", re.I)
_DECL_TEXT = re.compile(r"^\s*<\?xml[^>]*\?>", re.I)
_ENTITY_DECL = re.compile(r"<!ENTITY", re.I)
_DOCTYPE = re.compile(r"<!DOCTYPE[^\[>]*(\[.*?\]\s*)?>", re.I | re.S)
_TAGS = re.compile(r"<[^>]*>")
_SPACES = re.compile(r"\s+")


class FeedError(ValueError):
    """A document that is not a usable feed, with the reason."""


@dataclass(frozen=True, slots=True)
class FeedItem:
    title: str
    link: str
    guid: str
    published: str  # ISO 8601 with the item's offset, or "" when the feed gives no date
    summary: str  # HTML or text, as the feed gives it
    content: str  # the full content (content:encoded, atom:content), "" if none
    categories: tuple[str, ...] = ()
    author: str = ""


@dataclass(frozen=True, slots=True)
class ParsedFeed:
    kind: str  # "rss" (0.9x/2.0), "rss1" (RDF), "atom"
    title: str
    link: str
    items: list[FeedItem] = field(default_factory=list)


def _codec(name: str) -> str | None:
    try:
        return codecs.lookup(name.strip().strip("\"'")).name
    except LookupError:
        return None


def _charset(content_type: str) -> str | None:
    m = re.search(r"charset\s*=\s*[\"']?([A-Za-z0-9._:-]+)", content_type or "", re.I)
    return _codec(m.group(1)) if m else None


def decode_document(data: bytes, content_type: str = "") -> str:
    """The document as text: BOM, else its XML declaration, else the HTTP charset, else UTF-8,
    else Windows-1256 (Arabic outlets' legacy encoding, which decodes any byte sequence)."""
    for bom, enc in ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"),
                     (codecs.BOM_UTF16_BE, "utf-16-be")):
        if data.startswith(bom):
            try:
                return data[len(bom):].decode(enc)
            except UnicodeDecodeError as exc:
                raise FeedError(f"not valid {enc} after its byte-order mark ({exc.reason})") from None
    m = _XML_DECL.match(data[:512])
    candidates = [(m and _codec(m.group(1).decode("ascii"))), _charset(content_type), "utf-8", "cp1256"]
    for enc in dict.fromkeys(c for c in candidates if c):
        if enc.startswith("utf-16") or enc.startswith("utf-32"):
            continue  # declared but without a BOM: the bytes we matched were ASCII, so it is not
        try:
            return data.decode(enc)
        except UnicodeDecodeError:
            continue
    raise FeedError("undecodable text")  # unreachable: cp1256 decodes every byte


def _parser() -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False,
                           recover=True, remove_comments=True, remove_pis=True, collect_ids=False)


def parse_feed(data: bytes, content_type: str = "") -> ParsedFeed:
    """Parse a feed document; `FeedError` (with the reason) if it is not a safe, usable feed."""
    if not data.strip():
        raise FeedError("empty document")
    text = decode_document(data, content_type)
    if _ENTITY_DECL.search(text):
        raise FeedError("refused: the document declares XML entities (<!ENTITY>), which can expand without "
                        "bound or read local files; no real feed needs them")
    text = _DOCTYPE.sub("", _DECL_TEXT.sub("", text, count=1), count=1)
    try:
        root = etree.fromstring(text.encode("utf-8"), parser=_parser())
    except etree.XMLSyntaxError as exc:
        raise FeedError(f"not XML ({exc})") from None
    if root is None:
        raise FeedError("not XML (nothing parseable)")
    tag = _root_name(root)
    if tag == "rss":
        return _rss(root)
    if tag == "rdf":
        return _rss1(root)
    if tag == "feed":
        return _atom(root)
    kind = "an HTML page" if tag == "html" else f"<{tag}>"
    raise FeedError(f"not a feed: the document is {kind}, not RSS or Atom")


# --- helpers -----------------------------------------------------------------------------------

def _root_name(root: etree._Element) -> str:
    """The root element's local name, lower-cased; "" for one lxml's recovery could not name.

    A document cut inside its root tag can come back from recovery with a tag such as
    `xmlns:content`, which `QName` refuses (ValueError): that is "not a feed", not a crash.
    """
    if not isinstance(root.tag, str):
        return ""
    try:
        return etree.QName(root).localname.lower()
    except ValueError:
        return ""


def _text(el: etree._Element | None) -> str:
    if el is None:
        return ""
    if len(el) == 0:  # no child elements: its text is all there is (the common case, and 5× cheaper)
        return (el.text or "").strip()
    return "".join(el.itertext()).strip()


def _first(el: etree._Element, *paths: str) -> etree._Element | None:
    for path in paths:
        found = el.find(path)
        if found is not None:
            return found
    return None


def plain(text: str) -> str:
    """A title or name as plain text: tags removed, HTML entities decoded, spaces collapsed."""
    if "<" in text:
        text = _TAGS.sub(" ", text)
    return _SPACES.sub(" ", html.unescape(text)).strip()[:MAX_TITLE_CHARS]


def parse_date(raw: str) -> str:
    """An RFC 822 or ISO 8601 date as ISO 8601 with its own offset (UTC if it gives none); "" if unreadable."""
    raw = raw.strip()
    if not raw:
        return ""
    when: datetime | None = None
    try:
        # ISO 8601 starts with the year; RFC 822 with a weekday or the day.
        when = datetime.fromisoformat(raw) if raw[:4].isdigit() else email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError):
        try:
            when = email.utils.parsedate_to_datetime(raw)
        except (TypeError, ValueError, IndexError):
            return ""
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.isoformat(timespec="seconds")


# --- formats -----------------------------------------------------------------------------------

_CATEGORY_TAGS = frozenset({"category", f"{{{NS_DC}}}subject"})
_DATE_TAGS = ("pubDate", f"{{{NS_DC}}}date", f"{{{NS_ATOM}}}published", f"{{{NS_ATOM}}}updated")


def _rss_item(item: etree._Element, ns: str) -> FeedItem:
    # One pass over the item's children (the first of each tag counts), instead of a find() per field.
    first: dict[str, etree._Element] = {}
    cats: list[str] = []
    for child in item:
        tag = child.tag
        if not isinstance(tag, str):
            continue
        if tag in _CATEGORY_TAGS:
            cats.append(plain(_text(child)))
        first.setdefault(tag, child)
    pre = f"{{{ns}}}" if ns else ""
    guid = _text(first.get("guid"))
    link = _text(first.get(pre + "link"))
    if not link and guid.startswith(("http://", "https://")):
        link = guid
    if not link and (atom_link := first.get(f"{{{NS_ATOM}}}link")) is not None:
        link = (atom_link.get("href") or "").strip()
    date = next((_text(first[t]) for t in _DATE_TAGS if t in first), "")
    author_el = first.get("author")  # not `or`: an element without children is falsy
    author = _text(author_el if author_el is not None else first.get(f"{{{NS_DC}}}creator"))
    return FeedItem(title=plain(_text(first.get(pre + "title"))), link=link, guid=guid, published=parse_date(date),
                    summary=_text(first.get(pre + "description")), content=_text(first.get(f"{{{NS_CONTENT}}}encoded")),
                    categories=tuple(c for c in cats if c), author=plain(author))


def _rss(root: etree._Element) -> ParsedFeed:
    channel = root.find("channel")
    if channel is None:
        raise FeedError("not a feed: <rss> without a <channel>")
    items = [_rss_item(i, "") for i in channel.iterfind("item")][:MAX_ITEMS]
    return ParsedFeed("rss", plain(_text(channel.find("title"))), _text(channel.find("link")), items)


def _rss1(root: etree._Element) -> ParsedFeed:
    channel = root.find(f"{{{NS_RSS1}}}channel")
    if channel is None:
        raise FeedError("not a feed: RDF document without an RSS 1.0 <channel>")
    items = [_rss_item(i, NS_RSS1) for i in root.iterfind(f"{{{NS_RSS1}}}item")][:MAX_ITEMS]
    return ParsedFeed("rss1", plain(_text(channel.find(f"{{{NS_RSS1}}}title"))),
                      _text(channel.find(f"{{{NS_RSS1}}}link")), items)


def _atom_text(el: etree._Element | None) -> str:
    """An Atom text construct as HTML or text (xhtml content serialised back to markup)."""
    if el is None:
        return ""
    if el.get("type") == "xhtml":
        return "".join(etree.tostring(c, encoding="unicode", with_tail=True) for c in el).strip()
    return _text(el)


def _atom_link(entry: etree._Element, ns: str) -> str:
    links = entry.findall(f"{{{ns}}}link")
    for link in links:
        if link.get("rel", "alternate") == "alternate" and link.get("href"):
            return link.get("href", "").strip()
    return (links[0].get("href") or "").strip() if links else ""


def _atom(root: etree._Element) -> ParsedFeed:
    ns = etree.QName(root).namespace or NS_ATOM
    if ns not in (NS_ATOM, NS_ATOM03):
        raise FeedError(f"not a feed: <feed> in an unknown namespace {ns}")
    items = []
    for entry in root.iterfind(f"{{{ns}}}entry"):
        date = _text(_first(entry, f"{{{ns}}}published", f"{{{ns}}}issued", f"{{{ns}}}updated",
                            f"{{{ns}}}modified", f"{{{NS_DC}}}date"))
        cats = tuple(plain(c.get("label") or c.get("term") or "") for c in entry.findall(f"{{{ns}}}category"))
        items.append(FeedItem(
            title=plain(_atom_text(entry.find(f"{{{ns}}}title"))), link=_atom_link(entry, ns),
            guid=_text(entry.find(f"{{{ns}}}id")), published=parse_date(date),
            summary=_atom_text(_first(entry, f"{{{ns}}}summary")),
            content=_atom_text(entry.find(f"{{{ns}}}content")), categories=tuple(c for c in cats if c),
            author=plain(_text(entry.find(f"{{{ns}}}author/{{{ns}}}name")))))
        if len(items) >= MAX_ITEMS:
            break
    return ParsedFeed("atom", plain(_atom_text(root.find(f"{{{ns}}}title"))), _atom_link(root, ns), items)
