"""The search configuration: read by every part of the engine, importing none of them."""

from __future__ import annotations

from dataclasses import dataclass, field

from . import bm25
from .excerpts import DEFAULT_EXCERPT_CHARS
from .passages import DEFAULT_MAX_CHARS, DEFAULT_TARGET_CHARS
from .readers import DEFAULT_MAX_DECOMPRESSED

# Bump when the analysis chain or passage splitting changes meaning: stored
# terms are then re-derived from the article bodies on the next open.
PIPELINE_VERSION = "7"
# Coverage at which every question word is in the passage (float sums of idf shares).
FULL_COVERAGE = 1 - 1e-9


@dataclass(frozen=True)
class RetrievalConfig:
    # k1 0.9 / b 0.5 rather than rank-bm25's 1.5 / 0.75: passages are short
    # and of even length (little to normalise), and stemming already folds
    # repeated word forms, so term frequency should saturate sooner.
    bm25: bm25.BM25Params = field(default_factory=lambda: bm25.BM25Params(k1=0.9, b=0.5))
    passage_target_chars: int = DEFAULT_TARGET_CHARS
    passage_max_chars: int = DEFAULT_MAX_CHARS
    excerpt_chars: int = DEFAULT_EXCERPT_CHARS
    # Titles as a field: the title's terms are added this many times to every
    # passage of the article. A passage often names its subject only by a
    # pronoun ("he was born in ..."); the title says who or what it is about.
    title_weight: int = 2
    # No-answer rule: the leading article must hold at least this share of
    # the question's idf mass (a question whose rare words are all missing is
    # not answered by an article matching only its common words). The
    # article, not only its best passage: a headline's words are spread over
    # the story it heads, and judged on one passage 2-3% of real headlines
    # were refused on a corpus of 5,000 articles (fewer on a larger one, where
    # a near-duplicate story happens to lead); docs/retrieval-quality.md, row 38.
    min_coverage: float = 0.3
    # The no-answer model (retrieval/confidence.py): refuse when the
    # estimated probability that the leading article answers is below this;
    # 0 turns the model off and leaves only `min_coverage`. 0.17 is the cut
    # that answers 96% of the ARCD train split's answerable questions
    # (benchmarks/noanswer_fit.py; test split: 95.7% of answerable questions
    # answered, 17% of unanswerable ones refused; 98.7% of headlines answered).
    min_confidence: float = 0.17
    # Between min_confidence and this, the results are shown as "closest matches, which may not
    # answer your question" (SearchResult.confidence "low") instead of being refused or shown as
    # an answer; a question naming a year the archive never mentions (an event after its last
    # article) is shown so too. Chosen by benchmarks/outcomes.py (docs/retrieval-quality.md).
    low_confidence: float = 0.56
    # Re-ranking of the leading articles (retrieval/rerank.py): how many are
    # re-ordered; the lead passage's score × (1 + lead_boost), since news
    # puts the story's gist first; and the share of a question word's
    # one-occurrence score credited when the article has it outside the
    # best passage. 0.3 / 0.2 chosen on a separate sample of titles
    # (docs/retrieval-quality.md, rows 20-22).
    rerank_depth: int = 30
    lead_boost: float = 0.3
    spread_weight: float = 0.2
    # Spelling variants: query words of at least `fuzzy_min_chars` letters
    # also match index terms one edit away, at `fuzzy_weight`.
    fuzzy: bool = True
    fuzzy_min_chars: int = 5
    fuzzy_weight: float = 0.6
    # A word the index has never seen is looked up from this length (ترمب for ترامب), and a
    # spelling variant standing for it counts as the word itself for the no-answer check: a name
    # spelled one letter off is still the name (tests/test_name_variants.py).
    fuzzy_unknown_min_chars: int = 4
    max_input_bytes: int = DEFAULT_MAX_DECOMPRESSED
    # The zone of stored publication times that carry no offset, and of date filters (newsrank).
    timezone: str = "Asia/Riyadh"
    # One result per story: copies of a story (retrieval/storygroups.py) after its best version are
    # dropped from answers and listed under it (`Hit.also`).
    one_per_story: bool = True

    @property
    def pipeline_signature(self) -> str:
        return f"{PIPELINE_VERSION}:{self.passage_target_chars}:{self.passage_max_chars}:{self.title_weight}"
