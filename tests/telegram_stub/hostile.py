"""Seeded generators of hostile Telegram input: texts, commands, callback data, inline queries.

Deterministic for a given `random.Random`, so a failure can be replayed
from its seed. Texts mix what breaks naive bots: bidi controls, zero-width
characters, combining marks stacked on Arabic letters, emoji (with ZWJ and
skin tones), HTML and Markdown fragments, 4,096-character messages,
stopwords only, punctuation only, digits only, Arabic and Latin mixed.
"""

from __future__ import annotations

import random
from importlib import resources

MAX_MESSAGE = 4096
MAX_INLINE_QUERY = 256
MAX_CALLBACK_BYTES = 64

BIDI = "\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u061c"
ZERO_WIDTH = "\u200b\u200c\u200d\u2060\ufeff\u180e"
ARABIC_LETTERS = "".join(chr(c) for c in range(0x0621, 0x064B))
ARABIC_MARKS = "".join(chr(c) for c in range(0x064B, 0x0653)) + "\u0670\u0654\u0655"
LATIN_MARKS = "".join(chr(c) for c in range(0x0300, 0x0370))
DIGITS = "0123456789٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹"
PUNCTUATION = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~،؛؟«»…—–·•“”‘’٪٫٬"
SPACES = " \t\n\u00a0\u2002\u2003\u3000\u202f"
EMOJI = ["😀", "🎉", "🇸🇦", "👩‍👩‍👧‍👦", "👍🏽", "❤️", "🏳️‍🌈", "🤲🏿", "🕌", "📰", "\U0001fae0", "#️⃣"]
MARKUP = ["<b>", "</b>", "</a>", "<a href=\"javascript:alert(1)\">", "<script>alert(1)</script>", "&amp;", "&lt;",
          "&gt;", "&", "&#0;", "&#xD800;", "&nbsp;", "<", ">", "<<>>", "<tg-spoiler>", "</pre>", "<code>", "]]>",
          "<!--", "-->", "*bold*", "_it_", "__u__", "~s~", "||spoiler||", "`code`", "```\npre\n```",
          "[link](https://example.com)", "\\", "{{7*7}}", "${x}", "%s%n", "'; DROP TABLE articles; --"]
CONTROL = "".join(chr(c) for c in (1, 2, 7, 8, 11, 12, 27, 127)) + "\u0085\u2028\u2029"
WORDS = ["النفط", "أسعار", "الغاز", "المسال", "أوبك", "مجلس", "الأمن", "قرار", "سوريا", "الإيراني", "وزير",
         "الخارجية", "المحيط", "الهادئ", "التيارات", "البحرية", "الإنتاج", "news", "oil", "Reuters", "2585",
         "لافرنتييف", "عبد اللهيان", "بلا", "2024", "زلزال"]
COMMANDS = ["start", "help", "ask", "latest", "sources", "reindex", "stats", "delete", "nosuch", "ASK", "start_x"]


def stopwords() -> list[str]:
    text = resources.files("retrieval.resources").joinpath("lucene_savoy_arabic_stopwords.txt").read_text("utf-8")
    return [w.strip() for w in text.splitlines() if w.strip() and not w.startswith("#")]


class HostileText:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.stop = stopwords()
        self.kinds = [self.soup, self.soup, self.arabic_with_marks, self.markup_around_words, self.max_length,
                      self.stopwords_only, self.punctuation_only, self.digits_only, self.mixed_scripts,
                      self.emoji_only, self.bidi_and_zero_width, self.real_question_dressed_up]

    def __call__(self, limit: int = MAX_MESSAGE) -> str:
        text = self.rng.choice(self.kinds)()
        text = text[:limit]
        # Telegram never delivers an empty message (nor a lone surrogate: these are Python str code points).
        return text if text else "؟"

    def _pick(self, pool: str, n: int) -> str:
        return "".join(self.rng.choice(pool) for _ in range(n))

    def soup(self) -> str:
        pools = [ARABIC_LETTERS, ARABIC_MARKS, LATIN_MARKS, DIGITS, PUNCTUATION, SPACES, BIDI, ZERO_WIDTH, CONTROL,
                 "abcdefghijklmnopqrstuvwxyzABCXYZ", "".join(EMOJI)]
        parts = []
        for _ in range(self.rng.randint(1, 40)):
            roll = self.rng.random()
            if roll < 0.15:
                parts.append(self.rng.choice(MARKUP))
            elif roll < 0.3:
                parts.append(self.rng.choice(WORDS))
            elif roll < 0.35:
                parts.append(chr(self.rng.randint(0x20, 0xD7FF)))  # any BMP character below the surrogates
            elif roll < 0.38:
                parts.append(chr(self.rng.randint(0x10000, 0x10FFFF)))
            else:
                parts.append(self._pick(self.rng.choice(pools), self.rng.randint(1, 6)))
        return "".join(parts)

    def arabic_with_marks(self) -> str:
        # Several combining marks stacked on every letter, Zalgo-style, in Arabic and Latin.
        out = []
        for _ in range(self.rng.randint(1, 60)):
            out.append(self.rng.choice(ARABIC_LETTERS + "abc"))
            out.append(self._pick(ARABIC_MARKS + LATIN_MARKS, self.rng.randint(1, 8)))
            if self.rng.random() < 0.2:
                out.append(" ")
        return "".join(out)

    def markup_around_words(self) -> str:
        return " ".join(f"{self.rng.choice(MARKUP)}{self.rng.choice(WORDS)}{self.rng.choice(MARKUP)}"
                        for _ in range(self.rng.randint(1, 8)))

    def max_length(self) -> str:
        unit = self.rng.choice([self.rng.choice(WORDS) + " ", "<b>&amp;", "😀", "\u200f", "ب" + "\u0651\u064e",
                                self.soup() or "x"])
        return (unit * (MAX_MESSAGE // len(unit) + 1))[:self.rng.choice([MAX_MESSAGE, MAX_MESSAGE - 1, 401, 400])]

    def stopwords_only(self) -> str:
        return " ".join(self.rng.choice(self.stop) for _ in range(self.rng.randint(1, 30)))

    def punctuation_only(self) -> str:
        return self._pick(PUNCTUATION + " ", self.rng.randint(1, 200))

    def digits_only(self) -> str:
        return self._pick(DIGITS + " ", self.rng.randint(1, 300)).strip() or "0"

    def mixed_scripts(self) -> str:
        return " ".join(self.rng.choice(WORDS) + self._pick("abcxyz" + ARABIC_LETTERS, self.rng.randint(0, 4))
                        for _ in range(self.rng.randint(1, 20)))

    def emoji_only(self) -> str:
        return "".join(self.rng.choice(EMOJI) for _ in range(self.rng.randint(1, 50)))

    def bidi_and_zero_width(self) -> str:
        pool = [*BIDI, *ZERO_WIDTH, *WORDS]
        return "".join(self.rng.choice(pool) for _ in range(self.rng.randint(1, 30)))

    def real_question_dressed_up(self) -> str:
        words = [self.rng.choice(WORDS) for _ in range(self.rng.randint(1, 5))]
        dressing = [*BIDI, *ZERO_WIDTH, "ـ", "\u0651", "<b>", "&amp;", "😀", "؟", "\n"]
        return "".join(w + self.rng.choice(dressing) for w in words)


def command_text(rng: random.Random, text: HostileText, bot_username: str) -> str:
    command = "/" + rng.choice(COMMANDS)
    if rng.random() < 0.3:
        command += "@" + rng.choice([bot_username, "other_bot", "x" * 32])
    arguments = text(400) if rng.random() < 0.8 else ""
    return f"{command} {arguments}" if arguments else command


def callback_data(rng: random.Random, question_ids: list[int], article_ids: list[str]) -> str:
    """Forged or stale button data, always within Telegram's 64 bytes (Telegram refuses longer)."""
    choices = [
        lambda: f"p:{rng.choice(question_ids)}:{rng.choice([0, 3, 6, 9, 30, 10**6])}",  # stale or valid pages
        lambda: f"p:{rng.choice([0, -1, 10**9, 10**19, 10**30, 2**63])}:{rng.randint(-5, 10**18)}",
        lambda: f"p:{rng.choice(question_ids)}:{rng.choice(['', 'x', '1.5', '١', '+3', '3:4', ' 3'])}",
        lambda: f"a:{rng.choice([*article_ids, 'deleted-article', '../../etc/passwd', '%', '<b>', ''])}",
        lambda: f"r:{rng.choice([1, 0, -7, 10**12, 10**25, 'x', '٣'])}",
        lambda: rng.choice(["", ":", "p", "p:", "a", "r:", "::::", "null", "{}", "\u200f", "😀"]),
        lambda: "".join(chr(rng.randint(0x20, 0x2FFF)) for _ in range(rng.randint(1, 30))),
    ]
    data = rng.choice(choices)()
    while len(data.encode("utf-8")) > MAX_CALLBACK_BYTES:
        data = data[:-1]
    return data or "x"  # Telegram never sends empty callback data for a data button


def inline_query_text(rng: random.Random, text: HostileText) -> str:
    if rng.random() < 0.1:
        return ""
    return text(MAX_INLINE_QUERY)


def inline_offset(rng: random.Random) -> str:
    return rng.choice(["", "", "", "10", "20", "0", "-10", "abc", "99999999999999999999", "١٠", "²", "10 ", "9" * 64])
