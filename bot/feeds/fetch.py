"""The one HTTP client feeds and article pages are fetched with, as a good citizen of the outlets' sites.

Every request: the configured User-Agent, gzip, at most `max_redirects` redirects (each hop checked
again), connect and total timeouts, and a size cap on the decompressed body that is enforced while
streaming (a response is refused as soon as it passes the cap, never read whole first). At most one
request at a time per host, with a minimum gap between requests to the same host, and a global
limit on requests in flight. 429 and 503 answers carry their `Retry-After` out to the caller.

Server-side request forgery: a host must resolve to public addresses only. Host names are resolved
by `_GuardedResolver`, which aiohttp then connects to (the checked addresses are the ones used, so a
DNS answer cannot change between the check and the connection); IP literals, which aiohttp does not
resolve, are checked here before the request. Hosts in the allow-list skip the check (the tests'
servers on 127.0.0.1).
"""

from __future__ import annotations

import asyncio
import email.utils
import ipaddress
import socket
import time
import urllib.robotparser
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from urllib.parse import urljoin, urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import ThreadedResolver

from .urls import BadUrl, check_url

REDIRECTS = frozenset({301, 302, 303, 307, 308})
# A Retry-After beyond this is taken as this: an outlet's mistake must not silence a feed for months.
MAX_RETRY_AFTER = 24 * 3600.0
ROBOTS_MAX_BYTES = 512 * 1024
ROBOTS_TTL = 3600.0
# RFC 9309: an unreachable robots.txt (5xx, network error) means "disallow everything", for a while.
ROBOTS_UNREACHABLE_TTL = 600.0
ROBOTS_AGENT = "newsbot"
# A Crawl-delay is honoured up to this many seconds between two requests to the site.
MAX_CRAWL_DELAY = 60.0


class FetchError(Exception):
    """A request that did not bring a usable answer; `reason` says why in one line."""

    def __init__(self, reason: str, *, status: int | None = None, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.retry_after = retry_after


class BlockedAddress(OSError):
    """A host that resolves to an address the bot must not connect to."""


@dataclass(frozen=True, slots=True)
class Response:
    url: str  # after redirects
    status: int  # 200 or 304
    body: bytes
    content_type: str
    etag: str | None
    last_modified: str | None
    moved_permanently: bool = False  # reached through 301/308 redirects only: `url` is the new address


def forbidden_reason(address: str) -> str | None:
    """Why connecting to this IP address is refused, or None for a public address."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    for kind in ("loopback", "private", "link_local", "multicast", "reserved", "unspecified"):
        if getattr(ip, f"is_{kind}"):
            return f"{kind.replace('_', '-')} address {ip}"
    if not ip.is_global:  # shared address space (100.64/10) and the like
        return f"non-public address {ip}"
    return None


def _is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]").split("%", 1)[0])
    except ValueError:
        return False
    return True


class _GuardedResolver(AbstractResolver):
    """Resolves like aiohttp's default resolver, then refuses private and other non-public addresses."""

    def __init__(self, allow_hosts: frozenset[str]) -> None:
        self._inner = ThreadedResolver()
        self._allow = allow_hosts

    async def resolve(self, host: str, port: int = 0,
                      family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        if host.lower() in self._allow:
            return results
        for r in results:
            if (why := forbidden_reason(r["host"])) is not None:
                raise BlockedAddress(f"refused: {host} resolves to a {why} (not in NEWSBOT_FETCH_ALLOW_HOSTS)")
        return results

    async def close(self) -> None:
        await self._inner.close()


@dataclass
class _HostGate:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    last_end: float = -1e18


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date), capped."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return min(float(value), MAX_RETRY_AFTER)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    now = time.time() if now is None else now
    return min(max(when.timestamp() - now, 0.0), MAX_RETRY_AFTER)


class Fetcher:
    """One aiohttp session with the politeness and safety rules above; `close()` when done."""

    def __init__(self, *, user_agent: str, host_delay: float = 1.0, allow_hosts: Iterable[str] = (),
                 connect_timeout: float = 10.0, total_timeout: float = 30.0, concurrency: int = 8,
                 max_redirects: int = 5) -> None:
        self.user_agent = user_agent
        self.host_delay = host_delay
        self.allow_hosts = frozenset(h.strip().lower().strip("[]") for h in allow_hosts if h.strip())
        self.timeout = aiohttp.ClientTimeout(total=total_timeout, sock_connect=connect_timeout)
        self.total_timeout = total_timeout
        self.max_redirects = max_redirects
        self._concurrency = asyncio.Semaphore(concurrency)
        self._gates: dict[tuple[str, int | None], _HostGate] = {}
        # Per-host gaps a site asked for in robots.txt (Crawl-delay), when longer than host_delay.
        self._crawl_delays: dict[tuple[str, int | None], float] = {}
        self._session: aiohttp.ClientSession | None = None
        self._robots: dict[str, tuple[float, urllib.robotparser.RobotFileParser]] = {}
        self._robots_locks: dict[str, asyncio.Lock] = {}
        self.requests = 0  # made (connections attempted), for tests and benchmarks

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(resolver=_GuardedResolver(self.allow_hosts), ttl_dns_cache=60)
            self._session = aiohttp.ClientSession(
                connector=connector, timeout=self.timeout, auto_decompress=True,
                headers={"User-Agent": self.user_agent, "Accept-Encoding": "gzip, deflate"})
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def __aenter__(self) -> Fetcher:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def check_target(self, url: str) -> str:
        """`url` if it may be requested at all (scheme, host, IP literal not private); else FetchError."""
        try:
            url = check_url(url)
        except BadUrl as exc:
            raise FetchError(str(exc)) from None
        host = (urlsplit(url).hostname or "").lower()
        if host not in self.allow_hosts and _is_ip_literal(host):
            why = forbidden_reason(host)
            if why is not None:
                raise FetchError(f"refused: {why} (the host is not in NEWSBOT_FETCH_ALLOW_HOSTS)")
        return url

    async def get(self, url: str, *, max_bytes: int, etag: str | None = None, last_modified: str | None = None,
                  accept: str = "*/*") -> Response:
        """GET with redirects followed by hand (each hop checked); 200 or 304, else FetchError."""
        seen = 0
        permanent = True
        while True:
            url = self.check_target(url)
            headers = {"Accept": accept}
            if etag:
                headers["If-None-Match"] = etag
            if last_modified:
                headers["If-Modified-Since"] = last_modified
            status, location, response = await self._one(url, headers, max_bytes)
            if status in REDIRECTS:
                seen += 1
                if seen > self.max_redirects:
                    raise FetchError(f"too many redirects (more than {self.max_redirects})", status=status)
                if not location:
                    raise FetchError(f"HTTP {status} redirect without a Location", status=status)
                url = urljoin(url, location)
                permanent = permanent and status in (301, 308)
                continue
            assert response is not None
            if seen and permanent:
                response = replace(response, moved_permanently=True)
            return response

    async def _one(self, url: str, headers: dict[str, str],
                   max_bytes: int) -> tuple[int, str | None, Response | None]:
        parts = urlsplit(url)
        key = ((parts.hostname or "").lower(), parts.port)
        gate = self._gates.setdefault(key, _HostGate())
        async with gate.lock:
            wait = gate.last_end + max(self.host_delay, self._crawl_delays.get(key, 0.0)) - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            try:
                async with self._concurrency:
                    self.requests += 1
                    return await self._request(url, headers, max_bytes)
            finally:
                gate.last_end = time.monotonic()

    async def _request(self, url: str, headers: dict[str, str],
                       max_bytes: int) -> tuple[int, str | None, Response | None]:
        try:
            async with self._client().get(url, headers=headers, allow_redirects=False) as resp:
                if resp.status in REDIRECTS:
                    return resp.status, resp.headers.get("Location"), None
                if resp.status in (429, 503):
                    retry = parse_retry_after(resp.headers.get("Retry-After"))
                    raise FetchError(f"HTTP {resp.status}" + (f", Retry-After {retry:.0f} s" if retry else ""),
                                     status=resp.status, retry_after=retry)
                if resp.status != 304 and not 200 <= resp.status < 300:
                    raise FetchError(f"HTTP {resp.status}", status=resp.status)
                body = b""
                if resp.status != 304:
                    body = await _read_capped(resp, max_bytes)
                return resp.status, None, Response(
                    url=url, status=304 if resp.status == 304 else 200, body=body,
                    content_type=resp.headers.get("Content-Type", ""), etag=resp.headers.get("ETag"),
                    last_modified=resp.headers.get("Last-Modified"))
        except FetchError:
            raise
        except aiohttp.ClientConnectorError as exc:
            if isinstance(exc.os_error, BlockedAddress):
                raise FetchError(str(exc.os_error)) from None
            raise FetchError(f"cannot connect to {exc.host}:{exc.port} ({exc.os_error.strerror or exc.os_error})") \
                from None
        except TimeoutError:
            raise FetchError(f"timed out (connect or whole request over its limit, {self.total_timeout:g} s)") \
                from None
        except aiohttp.TooManyRedirects:
            raise FetchError(f"too many redirects (more than {self.max_redirects})") from None
        except aiohttp.ClientResponseError as exc:
            raise FetchError(f"bad HTTP response ({exc.message})", status=exc.status) from None
        except aiohttp.ClientError as exc:
            raise FetchError(f"request failed ({type(exc).__name__}: {exc})") from None

    # --- robots.txt ---------------------------------------------------------------------------

    async def allowed_by_robots(self, url: str) -> bool:
        """Whether the site's robots.txt lets this bot fetch `url` (cached per site for an hour)."""
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        lock = self._robots_locks.setdefault(origin, asyncio.Lock())
        async with lock:
            cached = self._robots.get(origin)
            if cached is None or cached[0] < time.monotonic():
                cached = await self._load_robots(origin)
                self._robots[origin] = cached
        return cached[1].can_fetch(ROBOTS_AGENT, url)

    async def _load_robots(self, origin: str) -> tuple[float, urllib.robotparser.RobotFileParser]:
        rules = urllib.robotparser.RobotFileParser()
        ttl = ROBOTS_TTL
        try:
            response = await self.get(origin + "/robots.txt", max_bytes=ROBOTS_MAX_BYTES, accept="text/plain")
            rules.parse(response.body.decode("utf-8", errors="replace").splitlines())
            delay = rules.crawl_delay(ROBOTS_AGENT)
            if delay:
                parts = urlsplit(origin)
                self._crawl_delays[((parts.hostname or "").lower(), parts.port)] = min(float(delay), MAX_CRAWL_DELAY)
        except FetchError as exc:
            if exc.status is not None and 400 <= exc.status < 500 and exc.status != 429:
                rules.allow_all = True  # no robots.txt: everything allowed
            else:
                rules.disallow_all = True
                ttl = ROBOTS_UNREACHABLE_TTL
        return time.monotonic() + ttl, rules


async def _read_capped(resp: aiohttp.ClientResponse, max_bytes: int) -> bytes:
    declared = resp.content_length
    # Content-Length counts the compressed bytes: over the cap compressed is over it decompressed.
    if declared is not None and declared > max_bytes:
        raise FetchError(f"response of {declared:,} bytes is over the {max_bytes:,} byte cap")
    chunks, size = [], 0
    async for chunk in resp.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > max_bytes:
            raise FetchError(f"response passed the {max_bytes:,} byte cap: refused")
        chunks.append(chunk)
    return b"".join(chunks)


def http_date(ts: float | None = None) -> str:
    return email.utils.formatdate(ts, usegmt=True)


def utc_now() -> datetime:
    return datetime.now(UTC)
