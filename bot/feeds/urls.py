"""Feed URL validation and the canonical form of an article URL (its identity)."""

from __future__ import annotations

import hashlib
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

MAX_URL_CHARS = 2048
# Query parameters that only say where a click came from: dropped, so that the same article
# reached from a newsletter, a feed and a share button is one article.
_TRACKING_PREFIXES = ("utm_", "at_", "pk_", "mtm_")
_TRACKING_NAMES = frozenset({"fbclid", "gclid", "dclid", "msclkid", "yclid", "mc_cid", "mc_eid", "igshid",
                             "ref", "ref_src", "ocid", "cmpid", "_ga", "__twitter_impression", "s_cid", "xtor"})


class BadUrl(ValueError):
    """A URL that cannot be followed, with the reason."""


def check_url(url: str) -> str:
    """`url` stripped if it is an absolute http(s) URL with a host; else `BadUrl` with the reason."""
    url = url.strip()
    if not url:
        raise BadUrl("empty URL")
    if len(url) > MAX_URL_CHARS:
        raise BadUrl(f"URL longer than {MAX_URL_CHARS} characters")
    if any(c.isspace() or ord(c) < 32 for c in url):
        raise BadUrl("URL contains spaces or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port  # raises on a malformed port
    except ValueError as exc:
        raise BadUrl(f"malformed URL ({exc})") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise BadUrl(f"only http:// and https:// URLs are followed, not {parts.scheme or 'a relative URL'}"
                     + (":" if parts.scheme else ""))
    if not parts.hostname:
        raise BadUrl("URL has no host")
    if parts.username or parts.password:
        raise BadUrl("URL carries a user name or password")
    if port == 0:
        raise BadUrl("URL has port 0")
    return url


def canonical_url(url: str) -> str:
    """The URL an article is known by: scheme and host lower-cased, default port, tracking
    parameters and the fragment removed (the path and the remaining query are kept as given:
    on many sites they are case-sensitive and ordered)."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    port = parts.port
    netloc = host if port is None or (scheme, port) in (("http", 80), ("https", 443)) else f"{host}:{port}"
    if ":" in host and not host.startswith("["):  # an IPv6 literal keeps its brackets
        netloc = f"[{host}]" + netloc[len(host):]
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
             if not k.lower().startswith(_TRACKING_PREFIXES) and k.lower() not in _TRACKING_NAMES]
    return urlunsplit((scheme, netloc, parts.path or "/", urlencode(query, doseq=True), ""))


def article_id_for(canonical: str) -> str:
    """The stored id of a feed article: from its canonical URL only, so the same article in
    two feeds (or under two feeds' names) is one article."""
    return "w-" + hashlib.sha1(canonical.encode("utf-8")).hexdigest()[:16]
