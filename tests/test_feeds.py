"""Feeds followed end to end against a local news site (tests/news_site.py): parsing, extraction,
conditional GET, identity, politeness, failures and hostile documents."""

from __future__ import annotations

import asyncio
import itertools
import sqlite3
import time
import tracemalloc
from contextlib import closing
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot import schema
from bot.feeds import store as feeds_store
from bot.feeds.fetch import Fetcher, FetchError
from bot.feeds.parse import FeedError, parse_feed
from bot.feeds.poller import PollConfig, Poller
from bot.feeds.urls import canonical_url
from retrieval.engine import RetrievalConfig, SearchEngine

from .news_site import COPYRIGHT, MENU, READ_ALSO, RELATED, Item, NewsSite, Route, article_page, atom, rss1, rss2

PARAS = [
    "أعلنت وزارة الزراعة اليوم عن إطلاق برنامج وطني لزراعة مليون شجرة زيتون في المحافظات الجنوبية خلال ثلاث سنوات.",
    "وقال وزير الزراعة في مؤتمر صحفي إن البرنامج يهدف إلى مكافحة التصحر وتوفير فرص عمل للمزارعين الشباب في القرى.",
    "وأضاف أن الحكومة خصصت مبلغ مئتي مليون دينار لتمويل المرحلة الأولى التي تبدأ في فصل الربيع المقبل.",
    "وأشار خبراء إلى أن شجرة الزيتون تتحمل الجفاف وتناسب مناخ المنطقة، مما يجعلها خيارا مثاليا للأراضي القاحلة.",
]
LONG_HTML = "".join(f"<p>{p}</p>" for p in PARAS)


def paras(word: str) -> list[str]:
    """The article paragraphs with a word only this article holds."""
    return [PARAS[0].replace("شجرة زيتون", f"شجرة زيتون {word}"), *PARAS[1:]]


@pytest.fixture
async def site():
    async with NewsSite() as s:
        yield s


@pytest.fixture
async def env(tmp_path):
    engine = await SearchEngine.open(tmp_path / "news.db", RetrievalConfig())
    db = await schema.connect(tmp_path / "news.db")
    fetcher = Fetcher(user_agent="newsbot-test/1", host_delay=0, allow_hosts={"127.0.0.1"}, total_timeout=2,
                      connect_timeout=1)
    poller = Poller(engine, db, fetcher, PollConfig(interval=0.05, feed_max_bytes=200_000, page_max_bytes=200_000))
    yield poller
    await poller.close()
    await fetcher.close()
    await db.close()
    await engine.close()


async def follow(poller: Poller, url: str, name: str = "الموقع") -> feeds_store.Feed:
    return await feeds_store.add_feed(poller.db, url, name)


def articles(poller: Poller) -> dict[str, tuple]:
    with closing(sqlite3.connect(poller.engine.db_path)) as con:
        rows = con.execute("SELECT url, id, title, body, source, published, section FROM articles")
        return {r[0]: r[1:] for r in rows}


def generation(poller: Poller) -> str:
    with closing(sqlite3.connect(poller.engine.db_path)) as con:
        return con.execute("SELECT value FROM meta WHERE key = 'content_generation'").fetchone()[0]


def outcome_of(outcomes, url):
    [o] = [o for o in outcomes if o.url == url]
    return o


async def test_rss2_with_content_encoded_is_taken_whole_without_fetching_pages(site, env):
    link = site.url("/news/1?utm_source=rss&id=7#top")
    site.routes["/rss"] = Route(rss2("الجزيرة نت", [
        Item("مليون شجرة زيتون", link, summary="ملخص قصير", content=LONG_HTML,
             date="Sat, 05 Dec 2026 14:30:00 +0300", category="اقتصاد")]))
    await follow(env, site.url("/rss"), "")
    [outcome] = await env.poll_once()
    assert outcome.result == "new" and outcome.added == 1, outcome.line()
    stored = articles(env)
    canonical = site.url("/news/1?id=7")
    _, title, body, source, published, section = stored[canonical]
    assert title == "مليون شجرة زيتون" and source == "الجزيرة نت" and section == "اقتصاد"
    assert body.split("\n") == PARAS
    assert published == "2026-12-05T14:30:00+03:00"  # the outlet's own offset kept
    assert site.hits("/news/1") == []  # the feed carried the whole article
    result = await env.engine.search("زراعة مليون شجرة زيتون")
    assert result.hits and result.hits[0].url == canonical and result.hits[0].source == "الجزيرة نت"
    [feed] = await feeds_store.list_feeds(env.db)
    assert (feed.status, feed.articles, feed.errors) == ("ok", 1, 0)
    assert all(s.headers.get("User-Agent") == "newsbot-test/1" for s in site.requests)


async def test_atom_summaries_get_their_pages_extracted_without_boilerplate(site, env):
    items = [Item(f"خبر {i}", site.url(f"/a/{i}"), summary="ملخص الخبر فقط") for i in range(2)]
    items[0].date = "2026-12-04T09:15:00+02:00"
    site.routes["/atom"] = Route(atom("العربية", items), content_type="application/atom+xml")
    site.routes["/a/0"] = Route(article_page("خبر 0", paras("أولا")), content_type="text/html; charset=utf-8")
    site.routes["/a/1"] = Route(article_page("خبر 1", paras("ثانيا"), date="2026-12-03T08:00:00+04:00"),
                                content_type="text/html; charset=utf-8")
    await follow(env, site.url("/atom"))
    [outcome] = await env.poll_once()
    assert outcome.added == 2, outcome.line()
    stored = articles(env)
    for i, word in enumerate(("أولا", "ثانيا")):
        body = stored[site.url(f"/a/{i}")][2]
        assert body.split("\n") == paras(word)  # exactly the story, in its paragraphs
        for junk in (*MENU, *RELATED, COPYRIGHT, READ_ALSO, "فيسبوك", "تعليق", "الأكثر قراءة", "عاجل", "بقلم"):
            assert junk not in body
    assert stored[site.url("/a/0")][4] == "2026-12-04T09:15:00+02:00"  # the item's date
    assert stored[site.url("/a/1")][4] == "2026-12-03T08:00:00+04:00"  # none in the item: the page's
    with closing(sqlite3.connect(env.engine.db_path)) as con:
        assert con.execute("SELECT COUNT(*) FROM feed_items WHERE summary_only = 1").fetchone()[0] == 0


async def test_rss1_item_without_a_usable_page_keeps_its_summary(site, env):
    summary = "أقر البرلمان قانون الموازنة العامة للسنة المقبلة بأغلبية الأصوات بعد نقاش طويل"
    site.routes["/rdf"] = Route(rss1("وكالة", [Item("الموازنة", site.url("/gone"), summary=summary,
                                                     date="2026-12-01T10:00:00+01:00")]))
    await follow(env, site.url("/rdf"))
    [outcome] = await env.poll_once()
    assert outcome.added == 1 and "1 summary only" in outcome.detail
    _, title, body, _, published, _ = articles(env)[site.url("/gone")]
    assert (title, body, published) == ("الموازنة", summary, "2026-12-01T10:00:00+01:00")
    with closing(sqlite3.connect(env.engine.db_path)) as con:
        assert con.execute("SELECT summary_only FROM feed_items").fetchall() == [(1,)]


@pytest.mark.parametrize("encoding", ["windows-1256", "iso-8859-6"])
async def test_legacy_arabic_encodings(site, env, encoding):
    title = "مجلس الوزراء يقر خطة للنقل العام"
    text = "<p>" + "وافق مجلس الوزراء على خطة لتطوير النقل العام في العاصمة وتوسيع شبكة الحافلات. " * 4 + "</p>"
    site.routes["/f"] = Route(rss2("صحيفة الأيام", [Item(title, site.url("/x"), content=text)], encoding=encoding),
                              content_type="text/xml")
    await follow(env, site.url("/f"), "")
    [outcome] = await env.poll_once()
    assert outcome.added == 1
    _, stored_title, body, source, _, _ = articles(env)[site.url("/x")]
    assert (stored_title, source) == (title, "صحيفة الأيام") and body.startswith("وافق مجلس الوزراء")
    undeclared = rss2("عنوان", [Item(title, "https://e.org/1")], encoding=encoding).replace(
        f'encoding="{encoding}"'.encode(), b"")
    assert parse_feed(undeclared, "text/xml; charset=" + encoding).items[0].title == title


@pytest.mark.parametrize("validator", ["etag", "last_modified"])
async def test_conditional_get_answered_304_reingests_nothing(site, env, validator):
    route = Route(rss2("م", [Item("زيتون", site.url("/n"), content=LONG_HTML)]))
    if validator == "etag":
        route.etag = '"v1"'
    else:
        route.last_modified = "Sat, 05 Dec 2026 10:00:00 GMT"
    site.routes["/rss"] = route
    await follow(env, site.url("/rss"))
    assert (await env.poll_once())[0].added == 1
    before = generation(env)
    [again] = await env.poll_once()
    assert again.result == "unchanged" and "304" in again.detail
    second = site.hits("/rss")[1].headers
    if validator == "etag":
        assert second.get("If-None-Match") == '"v1"'
    else:
        assert second.get("If-Modified-Since") == "Sat, 05 Dec 2026 10:00:00 GMT"
    assert generation(env) == before


async def test_edited_item_updates_its_article_and_unchanged_items_are_not_refetched(site, env):
    items = [Item("خبر", site.url("/p"), summary="ملخص")]
    site.routes["/rss"] = Route(rss2("م", items))
    site.routes["/p"] = Route(article_page("خبر", paras("قديم")), content_type="text/html")
    await follow(env, site.url("/rss"))
    assert (await env.poll_once())[0].added == 1
    [same] = await env.poll_once()
    assert same.result == "unchanged" and len(site.hits("/p")) == 1  # a seen item's page is not fetched again
    items[0].summary = "ملخص معدل"
    site.routes["/rss"].body = rss2("م", items)
    site.routes["/p"].body = article_page("خبر", paras("جديد"))
    [edited] = await env.poll_once()
    assert (edited.result, edited.added, edited.updated) == ("updated", 0, 1)
    stored = articles(env)
    assert len(stored) == 1 and "جديد" in stored[site.url("/p")][2]
    assert (await env.engine.search("زيتون جديد")).hits[0].url == site.url("/p")


async def test_same_item_in_two_feeds_is_one_article_and_same_text_under_two_urls_is_stored_once(site, env):
    shared = Item("زيتون", site.url("/shared?utm_medium=x"), content=LONG_HTML)
    copy = Item("زيتون نسخة", site.url("/copy"), content=LONG_HTML)  # the same text under another URL
    site.routes["/one"] = Route(rss2("الأول", [shared]))
    site.routes["/two"] = Route(rss2("الثاني", [Item("زيتون", site.url("/shared"), summary="آخر", content=LONG_HTML),
                                                 copy]))
    await follow(env, site.url("/one"), "الأول")
    await follow(env, site.url("/two"), "الثاني")
    outcomes = await env.poll_once()
    stored = articles(env)
    assert list(stored) == [site.url("/shared")] and stored[site.url("/shared")][3] == "الأول"
    assert sum(o.added for o in outcomes) == 1
    with closing(sqlite3.connect(env.engine.db_path)) as con:
        urls = dict(con.execute("SELECT url, article_id FROM feed_urls"))
    assert urls[site.url("/copy")] == urls[site.url("/shared")]  # the other URL is remembered
    assert all(o.result in ("new", "unchanged") for o in await env.poll_once())
    assert len(articles(env)) == 1


async def test_an_item_that_leaves_the_feed_keeps_its_article(site, env):
    site.routes["/rss"] = Route(rss2("م", [Item("زيتون", site.url("/old"), content=LONG_HTML)]))
    await follow(env, site.url("/rss"))
    await env.poll_once()
    site.routes["/rss"].body = rss2("م", [])
    await env.poll_once()
    assert site.url("/old") in articles(env)


async def test_retry_after_then_server_errors_then_recovery(site, env):
    site.routes["/rss"] = Route(rss2("م", [Item("زيتون", site.url("/n"), content=LONG_HTML)]),
                                first=[(429, {"Retry-After": "1"}), (500, {}), (500, {})])
    await follow(env, site.url("/rss"))
    [first] = await env.poll_once()
    assert first.result == "failed" and "429" in first.detail
    [skipped] = await env.poll_once()
    assert skipped.result == "skipped" and "Retry-After" in skipped.detail
    assert len(site.hits("/rss")) == 1  # the window was honoured: no request
    await asyncio.sleep(1.05)
    [second] = await env.poll_once()
    assert (second.result, second.detail) == ("failed", "HTTP 500")
    [feed] = await feeds_store.list_feeds(env.db)
    assert (feed.status, feed.errors, feed.last_error) == ("failing", 2, "HTTP 500")
    [backing_off] = await env.poll_once()
    assert backing_off.result == "skipped" and "backing off after 2 errors" in backing_off.detail
    await asyncio.sleep(0.05 * 4 + 0.05)  # interval × 2^errors
    assert (await env.poll_once())[0].result == "failed"
    await asyncio.sleep(0.05 * 8 + 0.05)
    [recovered] = await env.poll_once()
    assert recovered.result == "new"
    [feed] = await feeds_store.list_feeds(env.db)
    assert (feed.status, feed.errors, feed.last_error, feed.articles) == ("ok", 0, "", 1)


async def test_redirect_loop_timeout_and_oversized_feed_fail_with_their_reason(site, env):
    site.routes["/loop"] = Route(redirect="/loop2")
    site.routes["/loop2"] = Route(redirect="/loop")
    site.routes["/hang"] = Route(hang=True)
    big = rss2("م", [Item(f"خبر {i}", site.url(f"/b{i}"), content=LONG_HTML) for i in range(260)])
    assert len(big) > 200_000
    site.routes["/big"] = Route(big)
    site.routes["/bigchunked"] = Route(big, chunked=True)
    for path in ("/loop", "/hang", "/big", "/bigchunked"):
        await follow(env, site.url(path), path)
    started = time.perf_counter()
    outcomes = await env.poll_once()
    assert time.perf_counter() - started < 4
    assert outcome_of(outcomes, site.url("/loop")).detail == "too many redirects (more than 5)"
    assert len(site.hits("/loop")) + len(site.hits("/loop2")) == 6
    assert "timed out" in outcome_of(outcomes, site.url("/hang")).detail
    assert "200,000 byte cap" in outcome_of(outcomes, site.url("/big")).detail
    assert "200,000 byte cap" in outcome_of(outcomes, site.url("/bigchunked")).detail
    assert articles(env) == {}
    assert all(f.status == "failing" for f in await feeds_store.list_feeds(env.db))


async def test_oversized_page_falls_back_to_the_summary(site, env):
    site.routes["/rss"] = Route(rss2("م", [Item("كبير", site.url("/huge"), summary="ملخص الصفحة الكبيرة")]))
    site.routes["/huge"] = Route(article_page("كبير", PARAS * 400), content_type="text/html", gzip=True)
    await follow(env, site.url("/rss"))
    [outcome] = await env.poll_once()
    assert outcome.added == 1 and "summary only" in outcome.detail
    assert articles(env)[site.url("/huge")][2] == "ملخص الصفحة الكبيرة"


async def test_robots_txt_is_honoured_for_article_pages(site, env):
    site.routes["/robots.txt"] = Route(b"User-agent: *\nDisallow: /private/\n", content_type="text/plain")
    site.routes["/rss"] = Route(rss2("م", [Item("سر", site.url("/private/1"), summary="ملخص سري"),
                                           Item("علن", site.url("/public/1"), summary="ملخص")]))
    site.routes["/private/1"] = Route(article_page("سر", paras("سري")), content_type="text/html")
    site.routes["/public/1"] = Route(article_page("علن", paras("علني")), content_type="text/html")
    await follow(env, site.url("/rss"))
    await env.poll_once()
    assert site.hits("/private/1") == [] and len(site.hits("/public/1")) == 1
    stored = articles(env)
    assert stored[site.url("/private/1")][2] == "ملخص سري" and "علني" in stored[site.url("/public/1")][2]


async def test_requests_to_one_host_are_one_at_a_time_with_a_gap(site, tmp_path):
    fetcher = Fetcher(user_agent="t", host_delay=0.2, allow_hosts={"127.0.0.1"})
    site.routes["/x"] = Route(b"ok", content_type="text/plain", delay=0.05)
    try:
        await asyncio.gather(*(fetcher.get(site.url("/x"), max_bytes=100) for _ in range(3)))
    finally:
        await fetcher.close()
    arrivals = [s.at for s in site.hits("/x")]
    assert len(arrivals) == 3
    # Each request starts ≥ 0.2 s after the previous one ended (each takes 0.05 s).
    assert all(b - a >= 0.2 + 0.05 - 0.01 for a, b in itertools.pairwise(arrivals))


async def test_future_dates_are_clamped(site, env):
    site.routes["/rss"] = Route(rss2("م", [Item("مستقبل", site.url("/f"), content=LONG_HTML,
                                                date="Mon, 01 Jan 2културы"),
                                           Item("غدا", site.url("/g"), content=LONG_HTML.replace("زيتون", "نخيل"),
                                                date="Fri, 01 Jan 2100 10:00:00 +0200")]))
    await follow(env, site.url("/rss"))
    await env.poll_once()
    stored = articles(env)
    clamped = stored[site.url("/g")][4]
    assert clamped.endswith("+02:00") and clamped[:4] == time.strftime("%Y", time.gmtime())
    assert stored[site.url("/f")][4][:4] == time.strftime("%Y", time.gmtime())  # unreadable: the fetch time


# --- SSRF --------------------------------------------------------------------------------------

async def test_private_addresses_are_refused_before_any_connection(site):
    site.routes["/rss"] = Route(rss2("م", []))
    fetcher = Fetcher(user_agent="t", host_delay=0)
    try:
        for url in (site.url("/rss"), f"http://localhost:{site.port}/rss", f"http://[::1]:{site.port}/rss",
                    "http://10.1.2.3/rss", "http://169.254.169.254/latest/meta-data/", "http://0.0.0.0/"):
            with pytest.raises(FetchError, match="refused"):
                await fetcher.get(url, max_bytes=1000)
    finally:
        await fetcher.close()
    assert site.requests == []
    # Allowed by address, then redirected to a host that is not: refused at the redirect.
    site.routes["/hop"] = Route(redirect=f"http://localhost:{site.port}/rss")
    fetcher = Fetcher(user_agent="t", host_delay=0, allow_hosts={"127.0.0.1"})
    try:
        with pytest.raises(FetchError, match="localhost resolves to a loopback address"):
            await fetcher.get(site.url("/hop"), max_bytes=1000)
    finally:
        await fetcher.close()
    assert [s.path for s in site.requests] == ["/hop"]


# --- hostile XML -------------------------------------------------------------------------------

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE rss [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
<!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
<!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
<!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
<!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
<!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
<!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">]>
<rss version="2.0"><channel><title>&lol9;</title><item><title>&lol9;</title><link>http://e.org/1</link></item>
</channel></rss>"""


def quadratic() -> bytes:
    big = "A" * 50_000
    refs = "&big;" * 5_000
    return (f'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY big "{big}">]><rss version="2.0"><channel>'
            f"<title>{refs}</title><item><title>{refs}</title><link>http://e.org/1</link></item>"
            f"</channel></rss>").encode()


def external(secret: Path) -> bytes:
    return (f'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY xxe SYSTEM "file://{secret}">]>'
            f'<rss version="2.0"><channel><title>t</title><item><title>&xxe;</title>'
            f"<link>http://e.org/1</link><description>&xxe;</description></item></channel></rss>").encode()


@pytest.mark.parametrize("kind", ["billion_laughs", "quadratic", "external"])
async def test_entity_attacks_are_refused_in_bounded_time_and_memory(site, env, tmp_path, kind):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-CONTENT", encoding="utf-8")
    doc = {"billion_laughs": BILLION_LAUGHS, "quadratic": quadratic(), "external": external(secret)}[kind]
    tracemalloc.start()
    started = time.perf_counter()
    try:
        with pytest.raises(FeedError, match="entities"):
            parse_feed(doc)
        elapsed = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert elapsed < 0.5 and peak < 20 * len(doc) + 5_000_000
    site.routes["/evil"] = Route(doc)
    await follow(env, site.url("/evil"))
    [outcome] = await env.poll_once()
    assert outcome.result == "failed" and "entities" in outcome.detail
    assert b"TOP-SECRET" not in await asyncio.to_thread(Path(env.engine.db_path).read_bytes)


def test_undeclared_entities_are_never_expanded(tmp_path):
    secret = tmp_path / "s.txt"
    secret.write_text("TOP-SECRET", encoding="utf-8")
    doc = (f'<?xml version="1.0"?><!DOCTYPE rss SYSTEM "file://{secret}"><rss version="2.0"><channel>'
           "<title>a &xxe; b</title><item><title>&nbsp;x</title><link>http://e.org/1</link></item>"
           "</channel></rss>").encode()
    parsed = parse_feed(doc)
    assert "TOP-SECRET" not in parsed.title + parsed.items[0].title
    assert parsed.items[0].link == "http://e.org/1"


def test_not_a_feed_is_named():
    with pytest.raises(FeedError, match="an HTML page"):
        parse_feed(b"<html><body><p>hello</p></body></html>")
    with pytest.raises(FeedError, match="empty"):
        parse_feed(b"  ")


def test_canonical_url():
    assert canonical_url("HTTPS://WWW.Example.COM:443/News/A?utm_source=x&id=3&fbclid=y#comments") == \
        "https://www.example.com/News/A?id=3"
    assert canonical_url("http://e.org:8080") == "http://e.org:8080/"


async def test_feed_removed_while_polling_stores_nothing_and_stays_removed(site, env):
    site.routes["/rss"] = Route(rss2("م", [Item("بطيء", site.url("/slow"), summary="ملخص")]))
    site.routes["/slow"] = Route(article_page("بطيء", paras("بطيء")), content_type="text/html", delay=0.5)
    await follow(env, site.url("/rss"))
    polling = asyncio.ensure_future(env.poll_once())
    for _ in range(500):  # until the poll is inside the page fetch
        if site.hits("/slow"):
            break
        await asyncio.sleep(0.01)
    assert await feeds_store.remove_feed(env.db, site.url("/rss"))
    [outcome] = await polling
    assert outcome.result == "removed"
    assert await feeds_store.list_feeds(env.db) == [] and articles(env) == {}


def test_the_example_opml_lists_real_outlets_feeds():
    from bot.feeds.opml import parse_opml

    feeds = parse_opml((Path(__file__).resolve().parent.parent / "data" / "feeds.example.opml").read_bytes())
    assert len(feeds) >= 8 and all(f.url.startswith("https://") and f.name for f in feeds)
    assert "بي بي سي عربي" in {f.name for f in feeds}


async def test_a_feed_that_moved_permanently_is_followed_at_its_new_address(site, env):
    site.routes["/old"] = Route(redirect="/new", redirect_status=301)
    site.routes["/new"] = Route(rss2("م", [Item("زيتون", site.url("/n"), content=LONG_HTML)]))
    site.routes["/temp"] = Route(redirect="/new2", redirect_status=302)
    site.routes["/new2"] = Route(rss2("م", []))
    await follow(env, site.url("/old"))
    await follow(env, site.url("/temp"))
    outcomes = await env.poll_once()
    assert "moved permanently to " + site.url("/new") in outcome_of(outcomes, site.url("/old")).detail
    assert [f.url for f in await feeds_store.list_feeds(env.db)] == [site.url("/new"), site.url("/temp")]
    await env.poll_once()
    assert len(site.hits("/old")) == 1 and len(site.hits("/temp")) == 2


async def test_robots_crawl_delay_spaces_requests_to_the_site(site, env):
    site.routes["/robots.txt"] = Route(b"User-agent: *\nCrawl-delay: 1\n", content_type="text/plain")
    site.routes["/rss"] = Route(rss2("م", [Item(f"خبر {i}", site.url(f"/c/{i}"), summary="ملخص") for i in range(3)]))
    for i in range(3):
        site.routes[f"/c/{i}"] = Route(article_page(f"خبر {i}", paras(f"رقم{i}")), content_type="text/html")
    await follow(env, site.url("/rss"))
    await env.poll_once()
    arrivals = [s.at for s in site.requests if s.path.startswith("/c/")]
    assert len(arrivals) == 3
    assert all(b - a >= 0.95 for a, b in itertools.pairwise(sorted(arrivals)))  # whole seconds, as robotparser reads it


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_damaged_feeds_parse_or_are_refused_with_a_reason(data):
    """Any damage to a feed's bytes gives a parsed feed or a FeedError, never another exception."""
    item = Item("خبر", "https://e.org/1", summary="ملخص", date="Sat, 05 Dec 2026 10:00:00 +0300", content=LONG_HTML)
    doc = bytearray(rss2("عنوان", [item]))
    for _ in range(data.draw(st.integers(1, 8))):
        at = data.draw(st.integers(0, len(doc) - 1))
        action = data.draw(st.sampled_from(["flip", "cut", "insert"]))
        if action == "flip":
            doc[at] = data.draw(st.integers(0, 255))
        elif action == "cut":
            del doc[at:at + data.draw(st.integers(1, 200))]
        else:
            doc[at:at] = data.draw(st.sampled_from([b"<", b"&", b"]]>", b"<!DOCTYPE x>", b"\xff\xfe", b"<item>"]))
        if not doc:
            break
    try:
        parsed = parse_feed(bytes(doc))
    except FeedError as exc:
        assert str(exc)
    else:
        assert all(isinstance(i.title, str) and isinstance(i.link, str) for i in parsed.items)


def test_opml_errors_are_named_and_export_round_trips():
    from bot.feeds.opml import export_opml, parse_opml

    with pytest.raises(FeedError, match="not well-formed"):
        parse_opml(b"<opml><body><outline")
    with pytest.raises(FeedError, match="root element is not <opml>"):
        parse_opml(b"<rss/>")
    with pytest.raises(FeedError, match="entities"):
        parse_opml(b'<!DOCTYPE opml [<!ENTITY a "b">]><opml><body/></opml>')
    feeds = [feeds_store.Feed(i, f"https://e.org/{i}?a=1&b=2", f'اسم "{i}" & <x>', False, None, None, "", None,
                              None, 0, "", 0.0, 0.0, 0) for i in range(3)]
    back = parse_opml(export_opml(feeds).encode())
    assert [(f.url, f.name) for f in back] == [(f.url, f.name) for f in feeds]


def test_boilerplate_lines_go_and_story_sentences_that_look_like_them_stay():
    from bot.feeds.extract import clean_lines

    story = ["وشارك في الاجتماع وزراء الخارجية العرب.",
             "أقر البرلمان قانونا جديدا لحماية حقوق النشر والملكية الفكرية للمؤلفين والفنانين في البلاد.",
             "وقالت الشركة إن مشاركة البيانات مع فيسبوك توقفت."]
    junk = ["شارك الخبر: فيسبوك | تويتر | واتساب", "Share on Facebook Twitter", "تابعونا على تلغرام",
            "©جميع الحقوق محفوظة لموقع المدن 2021", "جميع الحقوق محفوظة © 2026", "اقرأ أيضا: ارتفاع أسعار الوقود",
            "مقالات ذات صلة"]
    mixed = [junk[0], story[0], junk[3], story[1], junk[5], story[2], junk[1], junk[2], junk[4], junk[6]]
    assert clean_lines("\n".join(mixed)).split("\n") == story


async def test_a_rate_limited_page_is_retried_on_the_next_poll(site, env):
    site.routes["/rss"] = Route(rss2("م", [Item("زيتون", site.url("/busy"), summary="ملخص")]), etag='"v"')
    site.routes["/busy"] = Route(article_page("زيتون", paras("مزدحم")), content_type="text/html",
                                 first=[(429, {"Retry-After": "1"})])
    await follow(env, site.url("/rss"))
    [first] = await env.poll_once()
    assert "1 pages deferred" in first.detail and articles(env) == {}
    [second] = await env.poll_once()
    assert second.added == 1 and "مزدحم" in articles(env)[site.url("/busy")][2]
    assert "If-None-Match" not in site.hits("/rss")[1].headers  # the feed was read again in full
