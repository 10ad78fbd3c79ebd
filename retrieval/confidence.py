"""Is the best answer good enough to show? A small logistic model over ranking evidence.

The features describe how well the leading article matches the question,
each on a scale that does not depend on the size of the index (shares of
the question's idf mass, scores divided by what the question could score,
rarity as idf over the largest idf the index can give):

* passage_coverage / article_coverage — share of the question's idf mass in
  the best passage / anywhere in its article;
* norm_score — the best passage's score over the score it would have with
  every question word once in a passage of average length;
* gap — how far the first article is ahead of the second;
* depth_ratio — the tenth article's score over the first's: a question on a
  topic the corpus covers at length but does not answer finds many articles
  nearly as good as the first; one whose answer is there finds one standing out;
* log_terms — how many distinct words the question has;
* missing_rarity — rarity of the rarest question word the best passage
  lacks (a missing name weighs more than a missing common word);
* max_rarity — rarity of the rarest question word at all;
* unknown_share — share of question words the index has never seen, in any spelling.

The coefficients are fitted by `benchmarks/noanswer_fit.py` on the ARCD train
split (questions asked with their paragraphs in the index = answerable, and
against the news corpus alone = unanswerable) and copied here; see
docs/retrieval-quality.md for the figures on the test split.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable

import numpy as np

from . import bm25
from .rerank import Evidence, QueryTerm

FEATURES = ("passage_coverage", "article_coverage", "norm_score", "gap", "depth_ratio", "log_terms",
            "missing_rarity", "max_rarity", "unknown_share")
# The article whose score depth_ratio compares with the first's (fewer found: the last one).
DEPTH = 10


def features(index: bm25.BM25Index, terms: list[str], query: list[QueryTerm], weights: dict[int, float],
             evidence: list[Evidence], *, contains: Callable[[int, int], bool] | None = None) -> np.ndarray:
    """The feature vector (in FEATURES order) for the leading article of `evidence`.

    `contains(term id, passage)`: whether a passage holds a term (default `bm25.contains` on `index`).
    """
    if contains is None:
        def contains(tid: int, passage: int) -> bool:
            return bm25.contains(index, tid, passage)
    top = evidence[0]
    largest_idf = math.log(index.n_passages + 1) or 1.0
    # What the question could score: each word once, in a passage of average length.
    reachable = sum(max((weights.get(tid, 0.0) * float(index.idf[tid]) for tid, _ in t.matches),
                        default=0.0) for t in query) or 1.0
    second = evidence[1].score if len(evidence) > 1 else 0.0
    deep = evidence[min(DEPTH, len(evidence)) - 1].score if len(evidence) > 1 else 0.0
    missing = [t.idf for t in query if not any(contains(tid, top.passage) for tid, _ in t.matches)]
    # Unknown: neither the word nor a spelling variant of it is in the index.
    unknown = sum(not t.matches for t in query)
    return np.array([
        top.passage_coverage,
        top.article_coverage,
        top.passage_score / reachable,
        (top.score - second) / top.score if top.score > 0 else 0.0,
        deep / top.score if top.score > 0 else 0.0,
        math.log(len(query)),
        min(max(missing, default=0.0) / largest_idf, 1.0),
        min(max(t.idf for t in query) / largest_idf, 1.0),
        unknown / len(query),
    ], dtype=np.float64)


# Fitted by `python -m benchmarks.noanswer_fit --headlines 300` on the ARCD
# train split (the questions the model judges: 407 with their paragraph in
# the index, 530 against the news alone; questions whose best passage holds
# every word are answered without it) and on news titles asked of the
# untitled news index (a sample of their own, none among the titles eval
# asks): titles are questions too, and without them the model refused 6% of
# real headlines. Features are standardised with these means and scales.
FEATURE_MEAN = (0.621787, 0.647776, 0.821573, 0.123742, 0.653387, 1.59378, 0.527884, 0.669434, 0.0170134)
FEATURE_SCALE = (0.155249, 0.165024, 0.218846, 0.132181, 0.163886, 0.378459, 0.213659, 0.176936, 0.0718619)
COEFFICIENTS = (0.803472, -0.230649, 0.273097, -0.413999, -0.941315, 0.785036, 0.368016, -0.0562724, -0.139351)
INTERCEPT = 0.399362


# A year as a question writes it: four digits from 1900 to 2099.
_YEAR = re.compile(r"(?:19|20)\d\d")
_CENTURIES = frozenset(("19", "20"))
# The archive's present: the latest year mentioned in at least this share of the passages that
# mention the most-mentioned year. News mentions its own year far more than any other (the 2018
# news corpus: 2018 in 5,004 passages, 2019 in 925, 2022 in 362 for the World Cup to come), and in
# an archive of many years each year is mentioned most while it is the present.
PRESENT_YEAR_SHARE = 0.25


def archive_year(index: bm25.BM25Index) -> int | None:
    """The latest year the archive reports as its present (None: it mentions no year)."""
    def build(index: bm25.BM25Index) -> int | None:
        # The 200 possible years looked up, not the vocabulary scanned: a near-real-time index is a
        # new object after every refresh, and a scan of its vocabulary cost the next question
        # ~150 ms at 100k passages. (The analysis chain writes years in ASCII digits: it folds
        # Arabic-Indic and Persian ones.)
        years = {}
        for year in range(1900, 2100):
            tid = index.vocabulary.get(str(year))
            if tid is not None and index.df(tid) > 0:
                years[year] = index.df(tid)
        if not years:
            return None
        floor = PRESENT_YEAR_SHARE * max(years.values())
        return max(year for year, df in years.items() if df >= floor)

    return index.derived("archive_year", build)


def names_unseen_year(index: bm25.BM25Index, terms: list[str]) -> bool:
    """Whether the question names a year after the archive's present (or one no passage mentions).

    The unanswerable questions a news bot meets most are about events its archive does not
    cover, and they name their year (`من فاز في الانتخابات الرئاسية الأمريكية 2024؟` against a
    2018 archive): the other words match old stories well (Putin re-elected "until 2024"), so the
    matches are shown as the closest ones, never as the answer.
    """
    present = None
    for term in terms:
        # The regex only for what may match it: four characters starting 19 or 20.
        if len(term) == 4 and term[:2] in _CENTURIES and _YEAR.fullmatch(term):
            if term not in index.vocabulary:
                return True
            present = archive_year(index) if present is None else present
            if present is not None and int(term) > present:
                return True
    return False


# As arrays once (not three conversions a question).
_MEAN, _SCALE, _COEFFICIENTS = (np.asarray(v, dtype=np.float64) for v in (FEATURE_MEAN, FEATURE_SCALE, COEFFICIENTS))


def answerable_probability(x: np.ndarray) -> float:
    """The model's estimate that the leading article answers the question."""
    z = float(((x - _MEAN) / _SCALE) @ _COEFFICIENTS) + INTERCEPT
    return 1.0 / (1.0 + math.exp(-z))
