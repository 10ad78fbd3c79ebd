"""OPML 1.0/2.0: the feed lists feed readers exchange (feeds nested in category outlines included)."""

from __future__ import annotations

from dataclasses import dataclass
from xml.sax.saxutils import quoteattr

from lxml import etree

from .parse import MAX_TITLE_CHARS as MAX_NAME_CHARS
from .parse import FeedError, decode_document
from .store import Feed

MAX_OPML_BYTES = 5 * 1024**2


@dataclass(frozen=True, slots=True)
class OpmlFeed:
    url: str
    name: str


def parse_opml(data: bytes) -> list[OpmlFeed]:
    """Every outline with an `xmlUrl`, at any depth, in document order (each URL once).

    Parsed like a feed: no DTD, no entities (a document declaring one is refused), no network."""
    if len(data) > MAX_OPML_BYTES:
        raise FeedError(f"OPML file over {MAX_OPML_BYTES:,} bytes")
    text = decode_document(data)
    if "<!ENTITY" in text.upper():
        raise FeedError("refused: the OPML declares XML entities (<!ENTITY>)")
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False,
                             recover=False, remove_comments=True, remove_pis=True)
    body = text.split("?>", 1)[1] if text.lstrip().startswith("<?xml") else text
    try:
        root = etree.fromstring(body.encode("utf-8"), parser=parser)
    except etree.XMLSyntaxError as exc:
        raise FeedError(f"not an OPML file: not well-formed XML ({exc})") from None
    if root is None or not isinstance(root.tag, str) or etree.QName(root).localname.lower() != "opml":
        raise FeedError("not an OPML file: its root element is not <opml>")
    out: dict[str, OpmlFeed] = {}
    for outline in root.iter("outline"):
        url = (outline.get("xmlUrl") or outline.get("xmlurl") or "").strip()
        if url and url not in out:
            # An attribute is plain text already (its markup characters were escaped): spaces only.
            name = " ".join((outline.get("title") or outline.get("text") or "").split())[:MAX_NAME_CHARS]
            out[url] = OpmlFeed(url, name)
    return list(out.values())


def export_opml(feeds: list[Feed], title: str = "newsbot feeds") -> str:
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', '<opml version="2.0">',
             f"  <head><title>{title}</title></head>", "  <body>"]
    for f in feeds:
        name = quoteattr(f.name or f.url)
        lines.append(f'    <outline type="rss" text={name} title={name} xmlUrl={quoteattr(f.url)}/>')
    lines += ["  </body>", "</opml>"]
    return "\n".join(lines) + "\n"
