"""A local news site for the feed tests: an aiohttp server on 127.0.0.1 serving feeds and
Arabic article pages written here, laid out as outlets lay them out (menus, share buttons,
"read also" and related-article blocks, comment forms, copyright footers).

Each path has a `Route`; the server records every request with its headers, so tests can check
what the poller sent (conditional headers, User-Agent) and that refused URLs were never requested.
"""

from __future__ import annotations

import asyncio
import gzip
import time
from dataclasses import dataclass, field
from html import escape

from aiohttp import web


@dataclass
class Route:
    body: bytes = b""
    content_type: str = "application/rss+xml; charset=utf-8"
    status: int = 200
    etag: str | None = None
    last_modified: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    # Answers given first, one per request, before the route's normal answer: (status, headers).
    first: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    redirect: str | None = None  # answer `redirect_status` to this location
    redirect_status: int = 302
    hang: bool = False  # never answer
    delay: float = 0.0  # seconds before answering
    gzip: bool = False
    chunked: bool = False  # stream without a Content-Length


@dataclass
class Seen:
    path: str
    headers: dict[str, str]
    at: float = 0.0  # time.monotonic() on arrival


class NewsSite:
    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[Seen] = []
        self._runner: web.AppRunner | None = None
        self.port = 0

    async def start(self) -> NewsSite:
        app = web.Application()
        app.router.add_route("GET", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def __aenter__(self) -> NewsSite:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def hits(self, path: str) -> list[Seen]:
        return [s for s in self.requests if s.path == path]

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        path = request.path_qs if request.query_string else request.path
        self.requests.append(Seen(request.path, dict(request.headers), time.monotonic()))
        route = self.routes.get(path) or self.routes.get(request.path)
        if route is None:
            return web.Response(status=404, text="not found")
        if route.hang:
            await asyncio.sleep(3600)
        if route.delay:
            await asyncio.sleep(route.delay)
        if route.first:
            status, headers = route.first.pop(0)
            return web.Response(status=status, headers=headers, text=f"status {status}")
        if route.redirect is not None:
            return web.Response(status=route.redirect_status, headers={"Location": route.redirect})
        if route.status != 200:
            return web.Response(status=route.status, headers=route.headers)
        validators = {}
        if route.etag:
            validators["ETag"] = route.etag
        if route.last_modified:
            validators["Last-Modified"] = route.last_modified
        if (route.etag and request.headers.get("If-None-Match") == route.etag) or (
                route.last_modified and not route.etag
                and request.headers.get("If-Modified-Since") == route.last_modified):
            return web.Response(status=304, headers=validators)
        headers = {"Content-Type": route.content_type, **validators, **route.headers}
        body = route.body
        if route.gzip:
            body = gzip.compress(body)
            headers["Content-Encoding"] = "gzip"
        if route.chunked:
            response = web.StreamResponse(headers=headers)
            response.enable_chunked_encoding()
            await response.prepare(request)
            for start in range(0, len(body), 65536):
                await response.write(body[start:start + 65536])
            await response.write_eof()
            return response
        return web.Response(body=body, headers=headers)


# --- content --------------------------------------------------------------------------------------

@dataclass
class Item:
    title: str
    link: str
    summary: str = ""
    content: str = ""  # HTML for content:encoded / atom:content
    date: str = ""  # RFC 822 for RSS, ISO for Atom
    guid: str = ""
    category: str = ""


def rss2(title: str, items: list[Item], *, encoding: str = "utf-8", link: str = "https://example.org/") -> bytes:
    parts = [f'<?xml version="1.0" encoding="{encoding}"?>',
             '<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"'
             ' xmlns:dc="http://purl.org/dc/elements/1.1/"><channel>',
             f"<title>{escape(title)}</title><link>{escape(link)}</link><description>أخبار</description>"]
    for it in items:
        parts.append("<item>")
        parts.append(f"<title>{escape(it.title)}</title><link>{escape(it.link)}</link>")
        parts.append(f"<guid>{escape(it.guid or it.link)}</guid>")
        if it.date:
            parts.append(f"<pubDate>{it.date}</pubDate>")
        if it.category:
            parts.append(f"<category>{escape(it.category)}</category>")
        if it.summary:
            parts.append(f"<description>{escape(it.summary)}</description>")
        if it.content:
            parts.append(f"<content:encoded><![CDATA[{it.content}]]></content:encoded>")
        parts.append("</item>")
    parts.append("</channel></rss>")
    return "\n".join(parts).encode(encoding)


def rss1(title: str, items: list[Item]) -> bytes:
    lis = "".join(f'<rdf:li rdf:resource="{escape(i.link)}"/>' for i in items)
    parts = ['<?xml version="1.0" encoding="utf-8"?>',
             '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/"'
             ' xmlns:dc="http://purl.org/dc/elements/1.1/">',
             f'<channel rdf:about="https://example.org/"><title>{escape(title)}</title>'
             f"<link>https://example.org/</link><items><rdf:Seq>{lis}</rdf:Seq></items></channel>"]
    for it in items:
        parts.append(f'<item rdf:about="{escape(it.link)}"><title>{escape(it.title)}</title>'
                     f"<link>{escape(it.link)}</link><description>{escape(it.summary)}</description>"
                     + (f"<dc:date>{it.date}</dc:date>" if it.date else "") + "</item>")
    parts.append("</rdf:RDF>")
    return "\n".join(parts).encode()


def atom(title: str, items: list[Item]) -> bytes:
    parts = ['<?xml version="1.0" encoding="utf-8"?>', '<feed xmlns="http://www.w3.org/2005/Atom">',
             f"<title>{escape(title)}</title><id>urn:feed</id><updated>2026-12-05T10:00:00Z</updated>"]
    for it in items:
        parts.append(f'<entry><title>{escape(it.title)}</title><link rel="alternate" href="{escape(it.link)}"/>'
                     f"<id>{escape(it.guid or it.link)}</id>"
                     + (f"<published>{it.date}</published>" if it.date else "")
                     + f'<summary type="html">{escape(it.summary)}</summary></entry>')
    parts.append("</feed>")
    return "\n".join(parts).encode()


MENU = ("الرئيسية", "سياسة", "اقتصاد", "رياضة", "ثقافة", "تكنولوجيا", "منوعات", "اتصل بنا")
RELATED = ("الرئيس يستقبل وفدا من رجال الأعمال", "انخفاض مؤشر البورصة في ختام التعاملات",
           "افتتاح معرض الكتاب الدولي بمشاركة واسعة")
COPYRIGHT = "© 2026 جميع الحقوق محفوظة لموقع الأخبار العربية"
SHARE = "شارك الخبر: فيسبوك | تويتر | واتساب | تلغرام"
READ_ALSO = "اقرأ أيضا: ارتفاع أسعار الوقود في الأسواق المحلية"


def article_page(title: str, paragraphs: list[str], *, date: str | None = None, charset: str = "utf-8") -> bytes:
    """An outlet's article page: the story among everything that is not the story."""
    meta = f'<meta property="article:published_time" content="{date}">' if date else ""
    menu = "".join(f'<li><a href="/section/{i}">{m}</a></li>' for i, m in enumerate(MENU))
    related = "".join(f'<li><a href="/related/{i}">{r}</a></li>' for i, r in enumerate(RELATED))
    body = "\n".join(f"<p>{escape(p)}</p>" for p in paragraphs[:2])
    body += f'\n<div class="read-also"><p>{READ_ALSO}</p></div>\n'
    body += "\n".join(f"<p>{escape(p)}</p>" for p in paragraphs[2:])
    page = f"""<!DOCTYPE html>
<html lang="ar" dir="rtl"><head><meta charset="{charset}"><title>{escape(title)} | الأخبار العربية</title>{meta}
<meta property="og:title" content="{escape(title)}"></head>
<body>
<header><div class="logo">الأخبار العربية</div><nav class="main-menu"><ul>{menu}</ul></nav>
<div class="breaking">عاجل: متابعة مستمرة لآخر التطورات</div></header>
<main><article class="post">
<h1 class="post-title">{escape(title)}</h1>
<div class="post-meta"><span class="author">بقلم: محرر الموقع</span></div>
<div class="share-buttons"><a href="#">فيسبوك</a> <a href="#">تويتر</a> <a href="#">واتساب</a></div>
<div class="post-body">
{body}
</div>
<div class="share-buttons bottom">{SHARE}</div>
</article>
<section class="related"><h3>مقالات ذات صلة</h3><ul>{related}</ul></section>
<section class="comments"><h3>أضف تعليقك</h3><form action="/comment" method="post">
<input name="name" placeholder="الاسم"><textarea name="comment">اكتب تعليقك هنا</textarea>
<button type="submit">إرسال التعليق</button></form></section>
</main>
<aside class="sidebar"><h3>الأكثر قراءة</h3><ul>{related}</ul></aside>
<footer><p>{COPYRIGHT}</p><p><a href="/about">من نحن</a> | <a href="/privacy">سياسة الخصوصية</a></p></footer>
</body></html>"""
    return page.encode(charset)
