"""The C analysis chain (retrieval/_chain.c) against the pure-Python chain, its specification."""

import os
import re
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from retrieval import analysis as a
from retrieval import stemmer

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


def _chain_of(fallback=lambda c: [], stopwords=a.STOPWORDS, cache_limit=10, exceptions=stemmer.CLITIC_EXCEPTIONS):
    mapped, token_chars = a.native_tables()
    from retrieval._chain import Chain

    return Chain(mapped, token_chars, stopwords, exceptions, fallback, a.MAX_TOKEN_CHARS, stemmer.MAX_STEM_CHARS,
                 cache_limit)


def _small_chain(stopwords=a.STOPWORDS, cache_limit=3):
    return _chain_of(lambda c: a._chain(c, {}, stopwords), stopwords, cache_limit)


# Tokens that reach every rule of `_term`: stopwords with their clitics, the article and clitic
# combinations at the length limits, listed clitic exceptions, every suffix at its limit, the folds.
_TERM_CASES = ["ال", "الذي", "في", "مدينة", "والمدينة", "حكومته", "يكتبون", "ايران", "الايراني", "2024",
               "covid", "ة", "ه" * 70, "ب" * 64, "ب" * 65, "فيه", "ـ", "\u0621", "\u064a\u064a", "\u0620ب",
               "\u064bب", "Ωμέγα", "_x", "والحكومة", "وأمطار", "فإن", "والد", "والي", "فالح", "وآخر", "أن", "إلى",
               "وإلى", "فالمدينة", "والذي", "أحمد", "آمال", "وألة", "فإلى", "والة", "هذة", "ٱلة", "وٱلحكومة", "واال",
               "فال", "وال", "فاله", "والاا", "ﻻ", "a" * 255, "على", "علي", "وعلى", "وعلي", "عيسى", "مستشفى",
               "للحكومة", "لله", "الله", "بالقوات", "وبالقوات", "ولللل", "كالعادة", "بقوة", "لقوات", "وزارة",
               "فريق", "بيان", "بكين", "لبنان", "قواتها", "حكومتنا", "اتجاهاتهم", "مصريون", "مصريين", "قالوا",
               "حياته", "بيته", "ةات", "ابات", "اتجاه", "هه", "ههه", "هههه", "يي", "ييي", "يييي", "ثمة", "ثمت",
               "2أحمد", "أ١", "ىىىى", "ووووو", "ففففف", "ببببب", "للللل", "الالال", "كمامه", "نانانا"]
_TERM_CASES += sorted(stemmer.CLITIC_EXCEPTIONS)[::97]


_TERM_CHAINS = {stopwords: _small_chain(stopwords) for stopwords in (a.STOPWORDS, a.QUERY_STOPWORDS)} \
    if a.NATIVE_CHAIN else {}


@settings(max_examples=600, deadline=None)
@given(st.one_of(st.sampled_from(_TERM_CASES),
                 st.text(alphabet="ابتةهيىوؤئءأإآٱٲٳلفكبمنسي٠1aZ_ـ\u064b", min_size=1, max_size=70),
                 st.text(alphabet=st.characters(max_codepoint=0xFFFF, exclude_categories=("Cs",)), min_size=1,
                         max_size=12)))
def test_the_term_of_a_new_token_is_the_specifications(token: str):
    # The C chain computes a new token's term itself: _term (strip_prefixes with the clitic
    # exceptions, strip_suffixes, the folds) stays the specification, stopwords of both sides included.
    for stopwords, chain in _TERM_CHAINS.items():
        assert chain.term(token) == stemmer._term(token, stopwords)


def test_every_listed_clitic_exception_gets_the_specifications_term():
    chain = _small_chain()
    for word in sorted(stemmer.CLITIC_EXCEPTIONS):
        for token in (word, "و" + word, "ال" + word[1:], word + "ها"):
            assert chain.term(token) == stemmer._term(token, a.STOPWORDS), token


def test_every_stopword_and_its_conjunction_forms_are_dropped_as_the_specification_drops_them():
    chain = _small_chain()
    for word in sorted(a.QUERY_STOPWORDS):
        for token in (word, "و" + word, "ف" + word, "ب" + word, "وال" + word, word.replace("ا", "أ"),
                      word.replace("ه", "ة"), word.replace("ي", "ى")):
            assert chain.term(token) == stemmer._term(token, a.STOPWORDS), token


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
    texts = [f"{t} كلمة{i} word{i} وقوات{i}" for i in range(40) for t in TRICKY[:6]]
    expected = [a.reference_analyze(t) for t in texts]
    failures = []

    def work():
        for _ in range(3):
            if [chain.analyze(t) for t in texts] != expected:
                failures.append(1)

    run_in_threads(work)
    assert not failures


class _RaisingKey:
    """A set member that compares by raising: a lookup of `word` in its set runs Python code and fails."""

    def __init__(self, word: str, error: type[BaseException]) -> None:
        self.word, self.error = word, error

    def __hash__(self) -> int:
        return hash(self.word)

    def __eq__(self, other: object) -> bool:
        raise self.error(f"cannot compare {self.word}")


def test_errors_of_the_sets_and_of_the_input_surface():
    mapped, token_chars = a.native_tables()
    from retrieval._chain import Chain

    chain = _chain_of(stopwords=a.STOPWORDS | {_RaisingKey("كلمه", LookupError)})  # كلمة as stopwords are matched
    with pytest.raises(LookupError, match="cannot compare"):
        chain.analyze("كلمة")
    assert chain.analyze("word في") == ["word"]
    chain = _chain_of(exceptions=frozenset({_RaisingKey("بقوة", LookupError)}))
    with pytest.raises(LookupError, match="cannot compare"):
        chain.analyze("بقوة")
    with pytest.raises(TypeError):
        chain.analyze(b"bytes")
    with pytest.raises(ValueError, match="BMP"):
        chain.term("😀")
    with pytest.raises(ValueError):
        Chain(mapped[:10], token_chars, a.STOPWORDS, stemmer.CLITIC_EXCEPTIONS, len, a.MAX_TOKEN_CHARS,
              stemmer.MAX_STEM_CHARS, 10)
    with pytest.raises(TypeError, match="sets or frozensets"):
        Chain(mapped, token_chars, list(a.STOPWORDS), stemmer.CLITIC_EXCEPTIONS, len, a.MAX_TOKEN_CHARS,
              stemmer.MAX_STEM_CHARS, 10)
    with pytest.raises(TypeError, match="sets or frozensets"):
        Chain(mapped, token_chars, a.STOPWORDS, ["بقوة"], len, a.MAX_TOKEN_CHARS, stemmer.MAX_STEM_CHARS, 10)
    with pytest.raises(TypeError, match="callable"):
        Chain(mapped, token_chars, a.STOPWORDS, stemmer.CLITIC_EXCEPTIONS, None, a.MAX_TOKEN_CHARS,
              stemmer.MAX_STEM_CHARS, 10)
    with pytest.raises(ValueError, match="max_stem"):
        Chain(mapped, token_chars, a.STOPWORDS, stemmer.CLITIC_EXCEPTIONS, len, a.MAX_TOKEN_CHARS, 300, 10)


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
        chain = Chain(mapped, token_chars, frozenset({legacy("ذلك")}), frozenset({legacy("بقوة")}),
                      lambda c: [legacy("fallback")], a.MAX_TOKEN_CHARS, stemmer.MAX_STEM_CHARS, 10)
        assert chain.analyze_joined(text + " ذلك بقوة") == "كلم word fallback قو"


def test_a_chain_initialised_while_reading_its_tables_refuses_the_second_init():
    # `mapped` may be any sequence; iterating it runs Python code that can initialise the same
    # Chain: the outer __init__ then overwrote the inner one's table and callbacks, leaking them.
    mapped, token_chars = a.native_tables()
    from retrieval._chain import Chain

    chains = [Chain.__new__(Chain)]
    inner_exceptions = frozenset({"بقوة"})

    def mapped_that_initialises_the_chain():
        chains[0].__init__(mapped, token_chars, frozenset(), inner_exceptions, len, a.MAX_TOKEN_CHARS,
                           stemmer.MAX_STEM_CHARS, 10)
        yield from mapped

    refs = sys.getrefcount(inner_exceptions)
    with pytest.raises(RuntimeError, match="already initialised"):
        chains[0].__init__(mapped_that_initialises_the_chain(), token_chars, a.STOPWORDS, frozenset(), len,
                           a.MAX_TOKEN_CHARS, stemmer.MAX_STEM_CHARS, 10)
    # The inner init is the one in force: no stopwords, بقوة read as ب + قوة.
    assert chains[0].analyze("في بقوة") == ["في", "قو"]
    chains.clear()  # the chain goes, and with it its one reference to the set
    assert sys.getrefcount(inner_exceptions) == refs


@pytest.mark.parametrize("error", [KeyboardInterrupt, MemoryError])
def test_an_interrupt_inside_a_lookup_surfaces_and_leaves_the_cache_whole(error):
    raising = _RaisingKey("بلد", error)
    stopwords = a.STOPWORDS | {raising}
    chain = _chain_of(lambda c: a._chain(c, {}, a.STOPWORDS), stopwords, cache_limit=100)
    with pytest.raises(error):
        chain.analyze_joined("كلمة وزير بلد")
    assert chain.cached() == 2  # the tokens before the failing one, nothing half-filled
    chain = _chain_of(lambda c: a._chain(c, {}, a.STOPWORDS), a.STOPWORDS, cache_limit=100)
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
