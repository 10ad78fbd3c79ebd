"""Article text from a feed item's HTML or from the article page, and the page's publication date.

Pages go through trafilatura (precision favoured: a menu or a related-articles block left in is
worse than a closing sentence left out) with comments, tables, links and images off, keeping
paragraphs. What is left is filtered once more line by line for the boilerplate outlets put
inside the article body itself: copyright lines, "read also" and share prompts.
"""

from __future__ import annotations

import logging
import os
import re
import signal
import threading
import time
from dataclasses import dataclass
from datetime import datetime

import lxml.html
from lxml import etree

log = logging.getLogger(__name__)

# A body shorter than this (in letters and digits) is not taken as the article.
MIN_BODY_CHARS = 200
_BLOCKS = frozenset({"p", "div", "br", "li", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "section",
                     "article", "tr", "pre", "ul", "ol", "table", "header", "footer", "figure", "hr"})
_DROP = ("script", "style", "noscript", "iframe", "form", "button", "nav", "aside", "footer", "figure",
         "figcaption", "svg", "video", "audio", "object", "embed", "template", "select", "input", "textarea")
# Lines that are never the article, wherever they stand. Copyright: a line that starts with the
# marker, or a short one that holds it (a sentence of a story about copyright law stays).
_COPYRIGHT_START = re.compile(r"^\s*(©|\(c\)|copyright|حقوق\s+(ال)?(نشر|طبع)|جميع\s+الحقوق)", re.I)
_COPYRIGHT_ANY = re.compile(r"©|جميع\s+الحقوق\s+محفوظة|all\s+rights\s+reserved", re.I)
_COPYRIGHT_SHORT = 150
# "Read also / see also / related" prompts, which stand at the start of their line.
_READ_ALSO = re.compile(r"^\s*[«\"(]?\s*(إ|ا)قر(أ|ا)\s+(أيضا|أيضاً|ايضا|كذلك|المزيد)|^\s*(شاهد|طالع)\s+(أيضا|أيضاً|ايضا)"
                        r"|^\s*(مواضيع|أخبار|مقالات)\s+(ذات\s+صلة|متعلقة)|^\s*read\s+(also|more)", re.I)
# Share and follow bars: lines made only of these words (and punctuation). A sentence that merely
# contains one ("وشارك في الاجتماع وزراء ...") has other words and stays.
_SHARE_WORDS = frozenset("""
شارك شاركها شاركوا مشاركة المشاركة الخبر المقال المقالة هذا هذه على عبر في تابعونا تابعنا اشترك اشتركوا انشر
فيسبوك فيس بوك تويتر إكس اكس واتساب واتس اب تلغرام تيليغرام تليجرام انستغرام إنستغرام لينكدإن لينكد إن يوتيوب
البريد الإلكتروني الالكتروني طباعة نسخ الرابط
facebook twitter x whatsapp telegram instagram linkedin youtube email print share copy link
on via us follow the this article news story
""".split())
_SHARE_CUE = re.compile(r"شارك|مشاركة|تابعونا|تابعنا|اشترك|فيسبوك|تويتر|واتساب|تلغرام|facebook|twitter|whatsapp|share",
                        re.I)
_WORDS = re.compile(r"[^\W\d_]+", re.UNICODE)
_WORD = re.compile(r"\w", re.UNICODE)


@dataclass(frozen=True, slots=True)
class Extracted:
    text: str  # paragraphs separated by newlines; "" when nothing usable was found
    date: str  # the page's publication date (ISO 8601), "" if none found


def letters(text: str) -> int:
    return len(_WORD.findall(text))


def clean_lines(text: str) -> str:
    """Paragraphs with boilerplate lines dropped and blank runs collapsed."""
    out = []
    for line in text.splitlines():
        line = " ".join(line.split())
        if not line or _COPYRIGHT_START.search(line) or _READ_ALSO.search(line):
            continue
        if len(line) <= _COPYRIGHT_SHORT and _COPYRIGHT_ANY.search(line):
            continue
        if _SHARE_CUE.search(line) and all(w.lower() in _SHARE_WORDS for w in _WORDS.findall(line)):
            continue
        out.append(line)
    return "\n".join(out)


def html_to_text(fragment: str) -> str:
    """A feed's HTML (content:encoded, a summary) as plain paragraphs, boilerplate lines removed."""
    if "<" not in fragment:
        return clean_lines(lxml.html.fromstring(f"<p>{fragment}</p>").text_content() if "&" in fragment
                           else fragment)
    try:
        root = lxml.html.fragment_fromstring(fragment, create_parent="div")
    except (etree.ParserError, ValueError):
        return ""
    for el in root.iter(*_DROP):
        el.drop_tree() if el.getparent() is not None else None
    parts: list[str] = []

    def walk(el: etree._Element) -> None:
        block = isinstance(el.tag, str) and el.tag.lower() in _BLOCKS
        if block:
            parts.append("\n")
        if el.text and isinstance(el.tag, str):
            parts.append(el.text)
        for child in el:
            walk(child)
            if child.tail:
                parts.append(child.tail)
        if block:
            parts.append("\n")

    # Elements removed above leave their tails in place (drop_tree keeps the tail text).
    walk(root)
    return clean_lines("".join(parts))


def extract_page(page: bytes, url: str) -> Extracted:
    """The article text of an HTML page (trafilatura, precision favoured), and its date if the
    caller needs one (`htmldate`, run only when asked: it costs as much as the extraction)."""
    import trafilatura  # imported on first use: ~0.5 s, only the feed poller needs it

    try:
        text = trafilatura.extract(page, url=url, favor_precision=True, include_comments=False,
                                   include_tables=False, include_links=False, include_images=False,
                                   include_formatting=False, deduplicate=True, output_format="txt")
    except Exception as exc:  # a hostile or broken page must cost one article, not the poll
        log.warning("extraction failed for %s: %s", url, exc)
        text = None
    return Extracted(clean_lines(text or ""), "")


def page_date(page: bytes) -> str:
    """The publication date the page states (htmldate: metadata, then the page's own markers), or ""."""
    from htmldate import find_date

    try:
        found = find_date(page, original_date=True, extensive_search=False, outputformat="%Y-%m-%dT%H:%M:%S%z")
    except Exception as exc:
        log.warning("date search failed: %s", exc)
        return ""
    if not found:
        return ""
    try:
        when = datetime.strptime(found, "%Y-%m-%dT%H:%M:%S%z")
    except ValueError:
        try:
            when = datetime.strptime(found[:19], "%Y-%m-%dT%H:%M:%S")
        except ValueError:
            return found[:10]
    if when.tzinfo is None and when.hour == when.minute == when.second == 0:
        return when.date().isoformat()  # only a day was found
    return when.isoformat(timespec="seconds")


# --- jobs for the worker process -----------------------------------------------------------------
# Parsing and extraction are CPU-bound Python and lxml work. Run in threads of the bot's process
# they competed with the event loop for the GIL (questions during a 50-feed poll waited up to 1.3 s,
# docs/feeds.md); run in a worker process they cost the bot's process nothing but the hand-over.
# Each job reports the CPU it took in the worker (`time.thread_time`), for the logs and the benchmark.


def worker_init(parent_pid: int) -> None:
    """In the worker process: leave Ctrl-C to the bot (which stops the pool), and exit if the bot's
    process dies without stopping it (SIGKILL, a crash), instead of lingering as an orphan."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(0.5)
        os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def parse_job(data: bytes, content_type: str):
    from .parse import parse_feed

    started = time.thread_time()
    parsed = parse_feed(data, content_type)
    return parsed, time.thread_time() - started


def extract_job(page: bytes, url: str, want_date: bool) -> tuple[str, str, float]:
    started = time.thread_time()
    text = extract_page(page, url).text
    date = page_date(page) if want_date else ""
    return text, date, time.thread_time() - started
