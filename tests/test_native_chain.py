"""The C analysis chain (retrieval/_chain.c) against the pure-Python chain, its specification."""

import os
import re
import sys
import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from retrieval import analysis as a

pytestmark = pytest.mark.skipif(not a.NATIVE_CHAIN and os.environ.get("NEWSBOT_ALLOW_PURE_PYTHON") == "1",
                                reason="native chain not built, allowed by NEWSBOT_ALLOW_PURE_PYTHON=1")

# Every case the chain treats specially, and a few it must not trip on.
TRICKY = (
    "أَعْلَنَتْ وَزَارَةُ الخَارِجِيَّةِ",            # harakat, shadda, sukun
    "كتـــاب الـــعربي",                                # tatweel
    "\ufefb \ufef7\ufef5\ufef9 \ufefc",                   # lam-alef ligatures
    "مسؤول مسئول مسوول رئيس",                          # hamza seats
    "أحمد إبراهيم آمال ٱلله ٲ ٳ",                        # alef forms
    "مستشفى مدينة ی ې ۀ ھ ک گ ڤ پ چ ژ",                 # yeh/heh, Persian letters
    "٢٥٨٥ ۲۰۲۱ 2585 ١٫٥",                               # Arabic-Indic and Persian digits
    "The VOICE MBC İstanbul ΣΟΦΟΣ Σ σ ς ẞ ǅ",           # Latin and Greek case, dotted I, final sigma
    "snake_case _x_ __ a_b_c",                           # underscores split tokens
    "ا" * 150 + " " + "b" * 64 + " " + "c" * 65,        # runs cut at 64 characters
    "في من على إلى عن ما ماذا هل كيف لماذا",             # stopwords and question words
    "والحكومة فالرئيس وأمطار فإن والد فالح والي وفي",      # the conjunction before ال / a hamza alef
    "سو\u200fريا\u200b \u200c\u200d \u061c \ufeff \u00ad",  # invisible marks
    "قال:«الرئيس»، (حول) سوريا-روسيا! ...؟ ؛ …",        # punctuation
    "a\u00a0b\u2003c\u3000d\x85e\u2028f\u2029g\x1c\x1dh\x1e\x1fi\tj\nk\rl\x0bm\x0cn",  # whitespace kinds
    "😀 مرحبا😀 𝐀𝐁𝐂 𝟙𝟚 𐌰𐌱 x😀y",                       # non-BMP: emoji, math letters, Gothic
    "\ud800 a\udfffb",                                    # lone surrogates
    "ﷲ ﷺ ﻻ ﺍﻟﻌﺮﺑﻴﺔ",                                     # presentation forms
    "Ⅻ ½ ² ⁵ ①",                                        # numerics that are not decimal digits
    "",
    "   \n\t ",
)

_ALPHABET = st.sampled_from("".join(TRICKY) + " _-") | st.characters()


def test_native_chain_is_built():
    # CI builds the extension (`pip install -e .`); a silent fallback to Python there would hide a
    # broken build behind a slower ingest.
    assert a.NATIVE_CHAIN, "retrieval._chain is not importable: run `pip install -e .` with a C compiler"


@pytest.mark.parametrize("text", TRICKY)
def test_tricky_text_gives_the_python_chains_terms(text):
    assert a.analyze(text) == a.reference_analyze(text)
    assert a.analyze_query(text) == a.reference_analyze_query(text)
    assert a.analyze_joined(text) == " ".join(a.reference_analyze(text))


def test_all_tricky_text_at_once():
    text = " ".join(TRICKY)
    assert a.analyze(text) == a.reference_analyze(text)
    assert a.analyze_joined(text) == " ".join(a.reference_analyze(text))


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=_ALPHABET, max_size=200))
def test_generated_text_gives_the_python_chains_terms(text):
    assert a.analyze(text) == a.reference_analyze(text)
    assert a.analyze_query(text) == a.reference_analyze_query(text)
    assert a.analyze_joined(text) == " ".join(a.reference_analyze(text))


def test_the_tables_are_the_normaliser_and_tokenizer_per_character():
    mapped, token_chars = a.native_tables()
    token_char = re.compile(a._TOKEN_CHAR)
    for code in range(0x10000):
        ch = chr(code)
        expected = None if 0xD800 <= code < 0xE000 or code == 0x03A3 else ch.translate(a._PRE_STEM_TABLE).lower()
        assert mapped[code] == expected, hex(code)
        assert token_chars[code] == (token_char.fullmatch(ch) is not None), hex(code)


def _small_chain(stopwords=a.STOPWORDS, cache_limit=3):
    mapped, token_chars = a.native_tables()
    from retrieval._chain import Chain

    return Chain(mapped, token_chars, lambda t: a._term(t, stopwords), lambda c: a._chain(c, {}, stopwords),
                 a.MAX_TOKEN_CHARS, cache_limit)


def test_a_cache_cleared_when_full_gives_the_same_terms():
    chain = _small_chain(cache_limit=3)
    text = " ".join(TRICKY) * 3
    assert chain.analyze(text) == a.reference_analyze(text)
    assert chain.cached() <= 3
    chain.clear()
    assert chain.cached() == 0
    assert chain.analyze_joined(text) == " ".join(a.reference_analyze(text))


def test_threads_sharing_a_chain_get_the_same_terms():
    chain = _small_chain(cache_limit=50)
    texts = [f"{t} كلمة{i} word{i}" for i in range(40) for t in TRICKY[:6]]
    expected = [a.reference_analyze(t) for t in texts]
    failures = []

    def work():
        for _ in range(3):
            if [chain.analyze(t) for t in texts] != expected:
                failures.append(1)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures


def test_errors_of_the_callbacks_and_of_the_input_surface():
    mapped, token_chars = a.native_tables()
    from retrieval._chain import Chain

    def broken(token):
        raise LookupError(f"no term for {token}")

    chain = Chain(mapped, token_chars, broken, lambda c: [], a.MAX_TOKEN_CHARS, 10)
    with pytest.raises(LookupError, match="no term for"):
        chain.analyze("كلمة")
    with pytest.raises(TypeError):
        chain.analyze(b"bytes")
    wrong_type = Chain(mapped, token_chars, lambda t: 42, lambda c: [], a.MAX_TOKEN_CHARS, 10)
    with pytest.raises(TypeError, match="str or None"):
        wrong_type.analyze_joined("كلمة")
    with pytest.raises(ValueError):
        Chain(mapped[:10], token_chars, broken, broken, a.MAX_TOKEN_CHARS, 10)


def test_legacy_strings_are_read_not_taken_as_empty():
    # Python 3.11 can still hold str objects made by the old wchar_t API, whose kind, data and
    # length exist only after PyUnicode_READY: the chain read them as empty and dropped their terms.
    legacy = getattr(pytest.importorskip("_testcapi"), "unicode_legacy_string", None)
    if legacy is None:
        pytest.skip("this Python has no legacy str objects")
    text = "كلمة word 😀x"
    with pytest.warns(DeprecationWarning):
        legacy_text = legacy(text)
    assert a.analyze(legacy_text) == a.reference_analyze(text)
    mapped, token_chars = a.native_tables()
    from retrieval._chain import Chain

    with pytest.warns(DeprecationWarning):
        chain = Chain(mapped, token_chars, lambda t: legacy(t + "ي"), lambda c: [legacy("fallback")],
                      a.MAX_TOKEN_CHARS, 10)
        assert chain.analyze_joined(text) == "كلمةي wordي fallback"


def test_a_chain_initialised_while_reading_its_tables_refuses_the_second_init():
    # `mapped` may be any sequence; iterating it runs Python code that can initialise the same
    # Chain: the outer __init__ then overwrote the inner one's table and callbacks, leaking them.
    mapped, token_chars = a.native_tables()
    from retrieval._chain import Chain

    chains = [Chain.__new__(Chain)]

    def inner_term_of(token):
        return token

    def mapped_that_initialises_the_chain():
        chains[0].__init__(mapped, token_chars, inner_term_of, lambda c: [], a.MAX_TOKEN_CHARS, 10)
        yield from mapped

    refs = sys.getrefcount(inner_term_of)
    with pytest.raises(RuntimeError, match="already initialised"):
        chains[0].__init__(mapped_that_initialises_the_chain(), token_chars, len, len, a.MAX_TOKEN_CHARS, 10)
    assert chains[0].analyze("word") == ["word"]  # the inner init is the one in force
    chains.clear()  # the chain goes, and with it its one reference to the callback
    assert sys.getrefcount(inner_term_of) == refs


@pytest.mark.parametrize("error", [KeyboardInterrupt, MemoryError])
def test_an_interrupt_inside_the_callback_surfaces_and_leaves_the_cache_whole(error):
    mapped, token_chars = a.native_tables()
    from retrieval._chain import Chain

    fail_on = {"بلد"}

    def term_of(token):
        if token in fail_on:
            raise error
        return a._term(token, a.STOPWORDS)

    chain = Chain(mapped, token_chars, term_of, lambda c: a._chain(c, {}, a.STOPWORDS), a.MAX_TOKEN_CHARS, 100)
    with pytest.raises(error):
        chain.analyze_joined("كلمة وزير بلد")
    assert chain.cached() == 2  # the tokens before the failing one, nothing half-filled
    fail_on.clear()
    text = "كلمة وزير بلد"
    assert chain.analyze(text) == chain.analyze_joined(text).split() == a.reference_analyze(text)
