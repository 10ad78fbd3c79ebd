"""Stopwords, matched on the form the analysis chain sees before stemming.

The Lucene/Savoy Arabic list for passages and questions, and the question words (ما، متى، كيف ...)
for questions only; `retrieval.analysis` drops them before stemming.
"""

from __future__ import annotations

from collections.abc import Iterable
from importlib import resources

from .normalize import _NORMALIZE_TABLE, _table

# --- the normaliser the chain runs before stemming ------------------------------------

# Everything `normalize` does except three folds the term decision needs to see undone: taa
# marbuta (the feminine ending the stemmer removes, unlike a pronoun ه), the hamza alefs (a hamza
# after و/ف means the و/ف is the conjunction, `strip_prefixes`), and alef maqsura (the
# stopwords are decided on it: على is a particle, علي the name Ali).
_HAMZA_ALEFS = "أإآ"
_KEPT_FOR_STEMMING = "ة" + _HAMZA_ALEFS + "ى"
_PRE_STEM_TABLE = {k: v for k, v in _NORMALIZE_TABLE.items() if chr(k) not in _KEPT_FOR_STEMMING}


# --- stopwords -----------------------------------------------------------------

def _load_stopwords() -> list[str]:
    raw = resources.files("retrieval.resources").joinpath(
        "lucene_savoy_arabic_stopwords.txt").read_text(encoding="utf-8")
    return [w for w in (line.strip() for line in raw.splitlines()) if w and not w.startswith("#")]


# How a token is matched against the stopword lists: as written, but for the spellings writers use
# interchangeably for one word (hamza alefs, taa marbuta / heh: أن and ان, هذة and هذه). Alef
# maqsura is *not* folded, since that turns particles into names (على → علي, the name Ali: a
# folded list would drop it, and `علي خامنئي` would search for `خامنئي` alone).
_STOP_TABLE = _table({"ة": "ه"}, {a: "ا" for a in _HAMZA_ALEFS})


def stop_form(word: str) -> str:
    """A word as the stopword lists are matched: normalised, alef maqsura kept, ة→ه and أإآ→ا."""
    return word.translate(_PRE_STEM_TABLE).lower().translate(_STOP_TABLE)


LUCENE_STOPWORDS: frozenset[str] = frozenset(stop_form(w) for w in _load_stopwords())

# Words that ask rather than tell, plus request verbs and fillers people type
# into a search box. They carry no topic, so they are dropped from questions
# only: in a passage, "من" or "كم" may be part of what is said. Question words
# are typed with ي for ى as often as not (متي), and none of those spellings is
# a name, so both are listed.
_QUESTION_WORDS = """
ما ماذا من متى أين اين كيف لماذا لم هل كم أي اي ايش شو وين ليش إيه
وما وماذا ومن ومتى وأين وكيف ولماذا وهل وكم فما فمن فهل أما بماذا لماذا
عن عما ممن ماهو ماهي ما هو هي هو هم هن
أريد اريد أعرف اعرف أخبرني اخبرني اعطني أعطني ابحث أبحث قل لي
""".split()
QUESTION_WORDS: frozenset[str] = frozenset(stop_form(w) for w in _QUESTION_WORDS) | frozenset(
    stop_form(w).replace("ى", "ي") for w in _QUESTION_WORDS)

STOPWORDS: frozenset[str] = LUCENE_STOPWORDS
QUERY_STOPWORDS: frozenset[str] = LUCENE_STOPWORDS | QUESTION_WORDS


def remove_stopwords(tokens: Iterable[str], stopwords: frozenset[str] = STOPWORDS) -> list[str]:
    """Drop tokens whose `stop_form` is in `stopwords`."""
    return [t for t in tokens if stop_form(t) not in stopwords]
