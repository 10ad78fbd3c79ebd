"""Telegram HTML for answers, articles, lists and reports; handlers only send what this returns.

The words themselves are in `bot.texts`; this module lays them out.

Every piece of article or user text goes through `esc`, so a title holding
`<`, `&` or `>` can never break the markup. Lengths are measured the way
Telegram measures them: visible text (tags removed, entities decoded) in
UTF-16 code units, at most 4096 per message. Lines begin with a
right-to-left mark so Arabic lines lay out right-to-left even when they start
with a digit or a Latin source name.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Iterator, Sequence

from retrieval.articles import Article
from retrieval.engine import Hit, IngestReport, SearchResult, Stats

from . import texts
from .newsformat import also_links, understood_lines
from .records import QuestionStats
from .texts import (
    ALSO,
    ARTICLE_LINK,
    ARTICLE_TOO_LONG,
    FULL_TEXT_AT_SOURCE,
    LATEST_TITLE,
    LOW_CONFIDENCE_HINT,
    NO_ANSWER,
    NO_ARTICLES,
    NO_SOURCE,
    NO_SOURCES,
    SOURCES_TITLE,
    UNTITLED,
)

MAX_MESSAGE = 4096
RLM = "\u200f"
ELLIPSIS = "…"
_TAG = re.compile(r"<[^>]*>")

# Excerpt and title budgets tried in turn until an answer fits in one message.
_SHRINK_STEPS: tuple[tuple[int | None, int | None], ...] = (
    (None, None), (220, 200), (150, 120), (90, 80), (40, 50), (0, 30))


def esc(text: str) -> str:
    return html.escape(text, quote=True)


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def visible_length(markup: str) -> int:
    """Length of `markup` as Telegram counts it after parsing our HTML."""
    return utf16_len(html.unescape(_TAG.sub("", markup)))


def shorten(text: str, limit: int | None) -> str:
    """`text` cut at a word boundary to at most `limit` characters (ellipsis included)."""
    if limit is None or len(text) <= limit:
        return text
    if limit <= 1:
        return ELLIPSIS if limit == 1 else ""
    cut = text.rfind(" ", 0, limit - 1)
    if cut < limit // 2:
        cut = limit - 1
    return text[:cut].rstrip() + ELLIPSIS


def source_line(source: str, section: str, published: str, limit: int | None = None) -> str:
    return " · ".join(shorten(part, limit) for part in (source, section, published[:10]) if part)


def merge_spans(text: str, spans: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """Spans joined across the spaces between them: one bold run for a matched phrase."""
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and merged[-1][1] <= start and not text[merged[-1][1]:start].strip():
            merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return merged


def highlighted(text: str, spans: Iterable[tuple[int, int]]) -> str:
    """`text` escaped, with the spans in bold (overlapping or invalid spans are skipped)."""
    out, pos = [], 0
    for start, end in merge_spans(text, spans):
        if start < pos or end <= start or end > len(text):
            continue
        out += [esc(text[pos:start]), "<b>", esc(text[start:end]), "</b>"]
        pos = end
    out.append(esc(text[pos:]))
    return "".join(out)


def shorten_excerpt(text: str, spans: Sequence[tuple[int, int]],
                    limit: int | None) -> tuple[str, list[tuple[int, int]]]:
    """At most `limit` characters of an excerpt, kept around its first matched word."""
    if limit is None or len(text) <= limit:
        return text, list(spans)
    if limit <= 0:
        return "", []
    budget = max(limit - 2, 1)  # room for an ellipsis at each end
    first = min((s for s, _ in spans), default=0)
    start = max(0, min(first - budget // 3, len(text) - budget))
    if start > 0:
        space = text.find(" ", start)
        start = space + 1 if 0 <= space < first else start
    end = min(len(text), start + budget)
    if end < len(text):
        space = text.rfind(" ", start, end)
        end = space if space > start else end
    prefix = ELLIPSIS if start > 0 else ""
    suffix = ELLIPSIS if end < len(text) else ""
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    shift = len(prefix) - start
    kept = [(s + shift, e + shift) for s, e in spans if s >= start and e <= end]
    return prefix + text[start:end] + suffix, kept


def hit_block(number: int | None, hit: Hit, excerpt_limit: int | None = None,
              title_limit: int | None = None) -> str:
    """One result: number and bold title, `source · section · date`, excerpt, link."""
    title = shorten(hit.title, title_limit) or UNTITLED
    head = f"{number}. " if number is not None else ""
    lines = [f"{RLM}{head}<b>{esc(title)}</b>"]
    if meta := source_line(hit.source, hit.section, hit.published, title_limit):
        lines.append(f"{RLM}{esc(meta)}")
    # One line per excerpt: newline → space keeps the highlight offsets valid.
    text, spans = shorten_excerpt(hit.excerpt.replace("\n", " "), hit.highlights, excerpt_limit)
    if text:
        lines.append(f"{RLM}{highlighted(text, spans)}")
    if hit.url:
        lines.append(f'{RLM}<a href="{esc(hit.url)}">{ARTICLE_LINK}</a>')
    if links := also_links(hit):  # news: the story's other versions, each outlet linked
        names = [f'<a href="{esc(url)}">{esc(shorten(name, title_limit))}</a>' if url else esc(name)
                 for name, url in links]
        lines.append(f"{RLM}{ALSO} " + "، ".join(names))
    return "\n".join(lines)


def answer_text(result: SearchResult) -> str:
    """The answer to a question: its results, or the no-answer message with a hint."""
    head = "".join(f"{RLM}{esc(line)}\n" for line in understood_lines(result))  # how a news question was understood
    if not result.hits:
        return head + no_answer_text(result.no_answer)
    hint = [f"{RLM}<i>{esc(LOW_CONFIDENCE_HINT)}</i>"] if result.confidence == "low" else []
    for excerpt_limit, title_limit in _SHRINK_STEPS:
        blocks = ([head.rstrip("\n")] if head else []) + hint + [
            hit_block(n, hit, excerpt_limit, title_limit) for n, hit in enumerate(result.hits, start=result.offset + 1)]
        text = "\n\n".join(blocks)
        if visible_length(text) <= MAX_MESSAGE:
            return text
    raise AssertionError("the last shrink step always fits")  # ≤10 hits of ≤30-char parts


def no_answer_text(reason: str | None) -> str:
    return esc(NO_ANSWER.get(reason or "weak", NO_ANSWER["weak"]))


def inline_description(hit: Hit, limit: int = 120) -> str:
    """The one-line excerpt shown under an inline result's title (plain text)."""
    return shorten(" ".join(hit.excerpt.split()), limit)


def inline_message(hit: Hit) -> str:
    """What an inline result posts: the formatted excerpt with its source."""
    for excerpt_limit, title_limit in _SHRINK_STEPS:
        text = hit_block(None, hit, excerpt_limit, title_limit)  # a single result: no number
        if visible_length(text) <= MAX_MESSAGE:
            return text
    raise AssertionError("the last shrink step always fits")


def article_block(article: Article, number: int | None = None, limit: int = 200) -> str:
    """An article in a list: bold title, `source · section · date`, link."""
    head = f"{number}. " if number is not None else ""
    lines = [f"{RLM}{head}<b>{esc(shorten(article.title, limit) or UNTITLED)}</b>"]
    if meta := source_line(article.source, article.section, article.published, limit):
        lines.append(f"{RLM}{esc(meta)}")
    if article.url:
        lines.append(f'{RLM}<a href="{esc(article.url)}">{ARTICLE_LINK}</a>')
    return "\n".join(lines)


def latest_text(articles: Sequence[Article]) -> str:
    if not articles:
        return esc(NO_ARTICLES)
    blocks = [article_block(a, n) for n, a in enumerate(articles, start=1)]
    return f"{RLM}<b>{LATEST_TITLE}</b>\n\n" + "\n\n".join(blocks)


def sources_text(sources: Sequence[tuple[str, int]], aliases: dict[str, Sequence[str]] | None = None) -> str:
    """Each outlet with its article count, and the other names questions may call it by."""
    if not sources:
        return esc(NO_SOURCES)
    aliases = aliases or {}
    lines = [f"{RLM}<b>{SOURCES_TITLE}</b>"]
    lines += [f"{RLM}• {esc(shorten(name, 100) or NO_SOURCE)}: {count}"
              + (f" ({esc(shorten('، '.join(aliases[name]), 200))})" if aliases.get(name) else "")
              for name, count in sources]
    return fit_lines(lines)


def fit_lines(lines: Sequence[str]) -> str:
    """Join whole lines, dropping the tail (with a mark) if they would exceed one message."""
    out: list[str] = []
    used = 0
    for line in lines:
        size = visible_length(line) + 1
        if used + size > MAX_MESSAGE - 2:
            out.append(ELLIPSIS)
            break
        out.append(line)
        used += size
    return "\n".join(out)


def split_paragraphs(paragraphs: Sequence[str], limit: int) -> list[str]:
    """Paragraphs packed into chunks of at most `limit` UTF-16 units; a paragraph is split
    only when it alone is too long (at sentence ends, then words)."""
    pieces = (piece for paragraph in paragraphs for piece in _split_long(paragraph, limit))
    return _pack(((piece, False) for piece in pieces), "\n\n", limit)


_SENTENCE_END = re.compile(r"(?<=[.!?؟؛…])\s+")


def _split_long(paragraph: str, limit: int) -> list[str]:
    if utf16_len(paragraph) <= limit:
        return [paragraph]
    return [piece for piece in _pack(_word_units(paragraph, limit), " ", limit) if piece]


def _word_units(paragraph: str, limit: int) -> Iterator[tuple[str, bool]]:
    """Sentences of `paragraph` (words of a sentence too long for a message), each with
    whether it must stand alone: a piece of a word longer than a message, hard cut."""
    for sentence in _SENTENCE_END.split(paragraph):
        for word in [sentence] if utf16_len(sentence) <= limit else sentence.split(" "):
            while utf16_len(word) > limit:
                yield word[:limit // 2], True
                word = word[limit // 2:]
            yield word, False


def _pack(units: Iterable[tuple[str, bool]], separator: str, limit: int) -> list[str]:
    """Units joined greedily with `separator` while the chunk fits in `limit` UTF-16 units.

    A unit marked as standing alone is never joined to its neighbours (a hard-cut
    piece of an over-long word is already as long as it may be).
    """
    chunks: list[str] = []
    # The chunk being filled, as its units and its length: joining and measuring it again for
    # every unit cost a chunk's length per unit (~50 ms for a message-sized run of short sentences).
    current: list[str] = []
    used = 0
    gap = utf16_len(separator)
    for unit, alone in units:
        if alone:
            if used:  # what came before it goes first: the text stays in order
                chunks.append(separator.join(current))
                current, used = [], 0
            chunks.append(unit)
            continue
        size = utf16_len(unit)
        joined = used + gap + size if used else size  # an empty chunk so far takes no separator
        if joined <= limit:
            if used:
                current.append(unit)
            else:
                current = [unit]
            used = joined
        else:
            chunks.append(separator.join(current) if used else "")
            current, used = [unit], size
    if used:
        chunks.append(separator.join(current))
    return chunks


def article_messages(article: Article, max_messages: int = 8) -> list[str]:
    """The article as messages of at most 4096 characters, split on paragraph boundaries.

    At most `max_messages` of them: a news article takes one to three, but an uploaded file can
    hold a book in one "article", and the button would send it as hundreds of messages (and format
    all of it on the event loop first). A longer article is shown up to the limit, and its last
    message says so and points to the source.
    """
    header = article_block(article)
    # Only what can be shown is formatted: max_messages messages never hold more characters than this.
    body = article.body[:max_messages * MAX_MESSAGE]
    # The RLM goes in before splitting so that it is counted; escaping keeps visible lengths.
    paragraphs = [RLM + p.strip() for p in body.splitlines() if p.strip()]
    chunks = [esc(c) for c in split_paragraphs(paragraphs, MAX_MESSAGE)]
    if not chunks:
        return [header]
    first = f"{header}\n\n{chunks[0]}"
    messages = [first, *chunks[1:]] if visible_length(first) <= MAX_MESSAGE else [header, *chunks]
    if len(messages) <= max_messages and len(body) == len(article.body):
        return messages
    return [*messages[:max_messages - 1], article_continues(article)]


def article_continues(article: Article) -> str:
    """The last message of an article too long to show whole."""
    where = f'\n{RLM}<a href="{esc(article.url)}">{FULL_TEXT_AT_SOURCE}</a>' if article.url else ""
    return f"{RLM}… {ARTICLE_TOO_LONG}{where}"


def help_text(text: texts.Texts, is_admin: bool = False) -> str:
    """/help in the reader's language; admins also see their commands."""
    body = text.help + ("\n\n" + text.help_admin if is_admin else "")
    if text is not texts.AR:
        return body
    # Arabic lines begin with a right-to-left mark so lines starting with /commands lay out right-to-left.
    return "\n".join(f"{RLM}{line}" if line else line for line in body.split("\n"))


def ingest_report_text(report: IngestReport, title: str, text: texts.Texts = texts.EN) -> str:
    """A title, the same summary line as `newsbot ingest`, then each skipped record and why."""
    lines = [f"{RLM}<b>{esc(title)}</b>", esc(report.summary())]
    lines += [f"• {esc(shorten(str(s), 300))}" for s in report.skipped[:10]]
    if len(report.skipped) > 10:
        lines.append(esc(text.more_skipped.format(count=len(report.skipped) - 10)))
    return fit_lines(lines)


def stats_text(stats: Stats, questions: QuestionStats, rebuilding: str | None,
               text: texts.Texts = texts.EN) -> str:
    lines = [text.stats_title, text.stats_articles.format(count=stats.articles),
             text.stats_passages.format(count=stats.passages), text.stats_sources.format(count=stats.sources)]
    if stats.index:
        lines.append(esc(text.stats_index.format(passages=stats.index.passages, built_at=stats.index.built_at,
                                                 seconds=stats.index.build_seconds)))
    else:
        lines.append(text.stats_no_index)
    if stats.segments:
        seg = stats.segments
        lines.append(esc(text.stats_segments.format(count=seg.count, passages=seg.passages, deleted=seg.deleted_share,
                                                    last_merge=seg.last_merge or "—")))
    median = f"{questions.median_ms:.0f} ms" if questions.median_ms is not None else "—"
    lines += [text.stats_questions.format(last_24h=questions.last_24h, total=questions.total),
              text.stats_latency.format(median=median)]
    if rebuilding:
        lines.append(esc(text.stats_reindexing.format(progress=rebuilding)))
    rtl = RLM if text is texts.AR else ""
    return "\n".join(rtl + line for line in lines)
