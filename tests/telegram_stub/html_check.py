"""Telegram's HTML parse mode, checked the way the Bot API checks it.

Only Telegram's tags (with their allowed attributes), properly nested and
closed; `<`, `>` and `&` outside tags must be entities; only numeric entities
and &lt; &gt; &amp; &quot; are known. Returns the visible text so its length
can be checked against 4096 UTF-16 code units.
"""

from __future__ import annotations

import html
import re

ALLOWED_TAGS: dict[str, set[str]] = {
    "b": set(), "strong": set(), "i": set(), "em": set(), "u": set(), "ins": set(), "s": set(),
    "strike": set(), "del": set(), "tg-spoiler": set(), "span": {"class"}, "a": {"href"},
    "tg-emoji": {"emoji-id"}, "code": {"class"}, "pre": set(), "blockquote": {"expandable"},
}
MAX_TEXT = 4096

_TAG = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)((?:\s+[a-zA-Z-]+(?:\s*=\s*(?:\"[^\"]*\"|'[^']*'|[^\s>]+))?)*)\s*>")
_ATTR = re.compile(r"([a-zA-Z-]+)(?:\s*=\s*(\"[^\"]*\"|'[^']*'|[^\s>]+))?")
_ENTITY = re.compile(r"&(lt|gt|amp|quot|#[0-9]+|#x[0-9a-fA-F]+);")


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def parse_telegram_html(text: str) -> tuple[str, list[str]]:
    """(visible text, problems) for a message sent with parse_mode=HTML."""
    problems: list[str] = []
    visible: list[str] = []
    stack: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "<":
            m = _TAG.match(text, i)
            if not m:
                problems.append(f"unescaped '<' at {i}: {text[i:i + 20]!r}")
                i += 1
                continue
            closing, name, attrs = m.group(1), m.group(2).lower(), m.group(3)
            if name not in ALLOWED_TAGS:
                problems.append(f"unsupported tag <{name}> at {i}")
            elif closing:
                if not stack or stack[-1] != name:
                    problems.append(f"unexpected end tag </{name}> at {i} (open: {stack})")
                else:
                    stack.pop()
            else:
                for attr, value in _ATTR.findall(attrs):
                    if attr not in ALLOWED_TAGS[name]:
                        problems.append(f"attribute {attr!r} not allowed on <{name}>")
                    elif attr == "href" and not value.strip("\"'"):
                        problems.append("empty href")
                    elif "&" in value and not all(_ENTITY.match(value, j) for j in _amps(value)):
                        problems.append(f"unescaped '&' in attribute {attr}")
                if name == "a" and "href" not in {a for a, _ in _ATTR.findall(attrs)}:
                    problems.append("<a> without href")
                stack.append(name)
            i = m.end()
        elif ch == ">":
            problems.append(f"unescaped '>' at {i}")
            visible.append(ch)
            i += 1
        elif ch == "&":
            m = _ENTITY.match(text, i)
            if not m:
                problems.append(f"unescaped or unknown entity at {i}: {text[i:i + 10]!r}")
                visible.append(ch)
                i += 1
            else:
                visible.append(html.unescape(m.group(0)))
                i = m.end()
        else:
            visible.append(ch)
            i += 1
    if stack:
        problems.append(f"unclosed tags: {stack}")
    plain = "".join(visible)
    if not plain.strip():
        problems.append("message text is empty")
    if utf16_len(plain) > MAX_TEXT:
        problems.append(f"message is too long: {utf16_len(plain)} > {MAX_TEXT} after parsing")
    return plain, problems


def _amps(value: str) -> list[int]:
    return [j for j, c in enumerate(value) if c == "&"]
