"""The C analysis chain (retrieval/_chain.c) against the pure-Python chain, its specification."""

import os
import re
import sys
import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from retrieval import analysis as a

from .conftest import run_in_threads

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
    "وإلى فإلى والذي فالتي وأن فأنا وآخر فآمال وإذا وأيضا",  # the conjunction on a stopword, and on آ / إ
    "الة ألة إلى إلي علة هذة هذه وهذة فهذه الأمم ٱلة",     # stopwords spelled with taa marbuta / hamza alef
    "سو\u200fريا\u200b \u200c\u200d \u061c \ufeff \u00ad",  # invisible marks
    "قال:«الرئيس»، (حول) سوريا-روسيا! ...؟ ؛ …",        # punctuation
    "a\u00a0b\u2003c\u3000d\x85e\u2028f\u2029g\x1c\x1dh\x1e\x1fi\tj\nk\rl\x0bm\x0cn",  # whitespace kinds
    "😀 مرحبا😀 𝐀𝐁𝐂 𝟙𝟚 𐌰𐌱 x😀y",                       # non-BMP: emoji, math letters, Gothic
    "\ud800 a\udfffb",                                    # lone surrogates
    "ﷲ ﷺ ﻻ ﺍﻟﻌﺮﺑﻴﺔ",                                     # presentation forms
    "Ⅻ ½ ² ⁵ ①",                                        # numerics that are not decimal digits
    "",
    "   \n\t ",
    # The C chain looks tokens up in batches of 32 (retrieval/_chain.c, Batch): a chunk holding an
    # unsafe character (Σ) after many tokens of its own, or after many one-token chunks.
    ",".join(f"w{i}" for i in range(40)) + ",Σ,كلمة " + ",".join(f"v{i}" for i in range(40)),
    " ".join(f"كلمة{i}" for i in range(20)) + " xΣy " + " ".join(f"قول{i}" for i in range(15)) + " Σ",
    "_".join("ب" * 70 for _ in range(5)) + "Σ " + "ت" * 2000,
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


def _chain_of(new_stemmer, fallback=lambda c: [], stopwords=a.STOPWORDS, cache_limit=10, snowball=None):
    mapped, token_chars = a.native_tables()
    from retrieval._chain import Chain

    return Chain(mapped, token_chars, stopwords, new_stemmer, fallback, a.MAX_TOKEN_CHARS, a.MAX_STEM_CHARS,
                 cache_limit, snowball=snowball)


def _small_chain(stopwords=a.STOPWORDS, cache_limit=3, snowball=None):
    return _chain_of(a.new_stemmer, lambda c: a._chain(c, {}, stopwords), stopwords, cache_limit, snowball)


# The two ways the C chain reaches Snowball: libstemmer's C API (what the product uses) and a
# Python callable per thread (when PyStemmer does not export that API).
STEMMING_ROUTES = {"libstemmer": a.snowball_c_api(), "callable": None}


def test_native_chain_calls_libstemmer_directly():
    # PyStemmer's wheels export libstemmer's functions; if a build stops doing so, ingest silently
    # pays a Python call per new token again: CI should say so.
    assert a.snowball_c_api() is not None, "PyStemmer's module no longer exports libstemmer's C API"
    assert a.NATIVE_SNOWBALL


_TERM_CASES = ["ال", "الذي", "في", "مدينة", "والمدينة", "حكومته", "يكتبون", "ايران", "الايراني", "2024",
               "covid", "ة", "ه" * 70, "ب" * 64, "ب" * 65, "فيه", "ـ", "\u0621", "\u064a\u064a", "\u0620ب",
               "\u064bب", "Ωμέγα", "_x", "والحكومة", "وأمطار", "فإن", "والد", "والي", "فالح", "وآخر", "أن", "إلى",
               "وإلى", "فالمدينة", "والذي", "أحمد", "آمال", "وألة", "فإلى", "والة", "هذة", "ٱلة", "وٱلحكومة", "واال",
               "فال", "وال", "فاله", "والاا", "ﻻ", "a" * 255]


_TERM_CHAINS = {(stopwords, route): _small_chain(stopwords, snowball=api)
                for stopwords in (a.STOPWORDS, a.QUERY_STOPWORDS) for route, api in STEMMING_ROUTES.items()} \
    if a.NATIVE_CHAIN else {}


@settings(max_examples=400, deadline=None)
@given(st.one_of(st.sampled_from(_TERM_CASES),
                 st.text(alphabet="ابتةهيىوؤئءأإآٱٲٳلفي٠1aZ_ـ\u064b", min_size=1, max_size=70),
                 st.text(alphabet=st.characters(max_codepoint=0xFFFF, exclude_categories=("Cs",)), min_size=1,
                         max_size=12)))
def test_the_term_of_a_new_token_is_the_specifications(token: str):
    # The C chain computes a new token's term itself but for the Snowball call: _term (with
    # strip_conjunction and snowball_stem) stays the specification, stopwords of both sides included.
    for (stopwords, _), chain in _TERM_CHAINS.items():
        assert chain.term(token) == a._term(token, stopwords)


def test_every_stopword_and_its_conjunction_forms_are_dropped_as_the_specification_drops_them():
    chain = _small_chain()
    for word in sorted(a.QUERY_STOPWORDS):
        for token in (word, "و" + word, "ف" + word, "وال" + word, word.replace("ا", "أ"), word.replace("ه", "ة")):
            assert chain.term(token) == a._term(token, a.STOPWORDS), token


def test_a_cache_cleared_when_full_gives_the_same_terms():
    chain = _small_chain(cache_limit=3)
    text = " ".join(TRICKY) * 3
    assert chain.analyze(text) == a.reference_analyze(text)
    assert chain.cached() <= 3
    chain.clear()
    assert chain.cached() == 0
    assert chain.analyze_joined(text) == " ".join(a.reference_analyze(text))


@pytest.mark.parametrize("route", STEMMING_ROUTES)
def test_threads_sharing_a_chain_get_the_same_terms(route):
    chain = _small_chain(cache_limit=50, snowball=STEMMING_ROUTES[route])
    texts = [f"{t} كلمة{i} word{i}" for i in range(40) for t in TRICKY[:6]]
    expected = [a.reference_analyze(t) for t in texts]
    failures = []

    def work():
        for _ in range(3):
            if [chain.analyze(t) for t in texts] != expected:
                failures.append(1)

    run_in_threads(work)
    assert not failures


def test_errors_of_the_callbacks_and_of_the_input_surface():
    mapped, token_chars = a.native_tables()
    from retrieval._chain import Chain

    def broken(token):
        raise LookupError(f"no stem for {token}")

    chain = _chain_of(lambda: broken)
    with pytest.raises(LookupError, match="no stem for"):
        chain.analyze("كلمة")
    assert chain.analyze("word في") == ["word"]  # no Snowball for a Latin word, none for a stopword
    with pytest.raises(TypeError):
        chain.analyze(b"bytes")
    with pytest.raises(TypeError, match="must return str"):
        _chain_of(lambda: lambda t: 42).analyze_joined("كلمة")

    def no_stemmer():
        raise OSError("no stemmer here")

    with pytest.raises(OSError, match="no stemmer here"):
        _chain_of(no_stemmer).analyze("كلمة")
    with pytest.raises(ValueError, match="BMP"):
        chain.term("😀")
    with pytest.raises(ValueError):
        Chain(mapped[:10], token_chars, a.STOPWORDS, broken, broken, a.MAX_TOKEN_CHARS, a.MAX_STEM_CHARS, 10)
    with pytest.raises(TypeError, match="set or frozenset"):
        Chain(mapped, token_chars, list(a.STOPWORDS), broken, broken, a.MAX_TOKEN_CHARS, a.MAX_STEM_CHARS, 10)


def test_a_bad_libstemmer_api_is_refused_by_name():
    with pytest.raises(TypeError, match="tuple of 4 function addresses"):
        _small_chain(snowball=(1, 2))
    with pytest.raises(ValueError, match="address is 0"):
        _small_chain(snowball=(0, 0, 0, 0))
    api = a.snowball_c_api()
    with pytest.raises(ValueError, match="another libstemmer"):
        _small_chain(snowball=(api[0], api[1], api[3], api[2]))
    assert _small_chain(snowball=api).calls_libstemmer()
    assert not _small_chain().calls_libstemmer()


def test_a_surrogate_in_a_token_goes_to_the_callable_as_before():
    # Only Chain.term can be handed one (the tables send surrogates to the Python fallback); it has
    # no UTF-8 for libstemmer, and the callable raises for it as PyStemmer's stemWord does.
    chain = _small_chain(snowball=a.snowball_c_api())
    with pytest.raises(UnicodeEncodeError):
        chain.term("كلم\ud800")


def test_each_thread_stems_with_a_stemmer_of_its_own():
    made = []

    def new_stemmer():
        made.append(threading.get_ident())
        return lambda t: t

    chain = _chain_of(new_stemmer, cache_limit=1000)
    chain.analyze("كلمة اولى")
    chain.analyze("كلمة ثانية")
    worker = threading.Thread(target=chain.analyze, args=("كلمة ثالثة",))
    worker.start()
    worker.join()
    assert made == [threading.get_ident(), worker.ident]


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
        chain = Chain(mapped, token_chars, frozenset({legacy("ذلك")}), lambda: lambda t: legacy(t + "ة"),
                      lambda c: [legacy("fallback")], a.MAX_TOKEN_CHARS, a.MAX_STEM_CHARS, 10)
        assert chain.analyze_joined(text + " ذلك") == "كلمهه word fallback"


def test_a_chain_initialised_while_reading_its_tables_refuses_the_second_init():
    # `mapped` may be any sequence; iterating it runs Python code that can initialise the same
    # Chain: the outer __init__ then overwrote the inner one's table and callbacks, leaking them.
    mapped, token_chars = a.native_tables()
    from retrieval._chain import Chain

    chains = [Chain.__new__(Chain)]

    def inner_stemmer():
        return str

    def mapped_that_initialises_the_chain():
        chains[0].__init__(mapped, token_chars, frozenset(), inner_stemmer, len, a.MAX_TOKEN_CHARS,
                           a.MAX_STEM_CHARS, 10)
        yield from mapped

    refs = sys.getrefcount(inner_stemmer)
    with pytest.raises(RuntimeError, match="already initialised"):
        chains[0].__init__(mapped_that_initialises_the_chain(), token_chars, a.STOPWORDS, len, len,
                           a.MAX_TOKEN_CHARS, a.MAX_STEM_CHARS, 10)
    # The inner init is the one in force (its stopwords: none; a Latin word never reaches the stemmer,
    # which each thread would keep).
    assert chains[0].analyze("word 2024") == ["word", "2024"]
    chains.clear()  # the chain goes, and with it its one reference to the callback
    assert sys.getrefcount(inner_stemmer) == refs


@pytest.mark.parametrize("error", [KeyboardInterrupt, MemoryError])
def test_an_interrupt_inside_the_callback_surfaces_and_leaves_the_cache_whole(error):
    fail_on = {"بلد"}
    stem_word = a.new_stemmer()

    def stem(token):
        if token in fail_on:
            raise error
        return stem_word(token)

    chain = _chain_of(lambda: stem, lambda c: a._chain(c, {}, a.STOPWORDS), cache_limit=100)
    with pytest.raises(error):
        chain.analyze_joined("كلمة وزير بلد")
    assert chain.cached() == 2  # the tokens before the failing one, nothing half-filled
    fail_on.clear()
    text = "كلمة وزير بلد"
    assert chain.analyze(text) == chain.analyze_joined(text).split() == a.reference_analyze(text)


def _passage_terms_reference(text, start, stop, suffix):
    terms = " ".join(a.reference_analyze(text[start:stop])).encode()
    return terms + b" " + suffix if terms and suffix else terms or suffix


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=_ALPHABET, max_size=200), st.data())
def test_passage_terms_as_utf8_are_the_joined_terms_of_the_span(text, data):
    start = data.draw(st.integers(0, len(text)))
    stop = data.draw(st.integers(start, len(text)))
    suffix = data.draw(st.sampled_from(["", "عنوان خبر", "x 😀"])).encode()
    assert a.passage_terms_utf8(text, start, stop, suffix) == _passage_terms_reference(text, start, stop, suffix)


def test_passage_terms_of_tricky_text_and_bad_spans():
    text = " ".join(TRICKY)
    for start, stop in ((0, len(text)), (3, 40), (len(text), len(text)), (10, 10)):
        assert a.passage_terms_utf8(text, start, stop, b"t") == _passage_terms_reference(text, start, stop, b"t")
    for start, stop in ((-1, 3), (5, 4), (0, len(text) + 1)):
        with pytest.raises(ValueError):
            a.passage_terms_utf8(text, start, stop, b"")
