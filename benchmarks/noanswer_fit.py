"""Fit the no-answer model (retrieval/confidence.py) on the ARCD train split; report it on the test split.

    python -m benchmarks.noanswer_fit                # fit, print the constants and the trade-off curve

Needs the indexes `benchmarks.eval` caches (run it once with the default
corpus options). Each ARCD question is asked twice through the engine's own
ranking: against the pooled index (its paragraph is there: answerable) and
against the news corpus alone (unanswerable). The features of the leading
article (`confidence.features`) of the *train* split's questions fit a
logistic regression (numpy, Newton's method, a small L2 penalty, features
standardised); the cut-off is chosen on the train split for the share of
answerable questions to answer (`--answer`, default 0.96: the target is
0.95, and a cut chosen on one sample answers a little less on another).
Then, with that cut, the test split's questions (other Wikipedia articles)
and the news known-item titles (answerable, never used for fitting) are
measured. Nothing is tuned on the test split.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from benchmarks import qa_data
from benchmarks.cached import cached_dbs, engine_over
from benchmarks.eval import DEFAULT_CACHE, DEFAULT_CORPUS, DEFAULT_QA
from retrieval import confidence, segmentfile
from retrieval.analysis import analyze_query
from retrieval.engine import FULL_COVERAGE, RetrievalConfig, SearchEngine

SPLITS = DEFAULT_QA.parent


@dataclass(frozen=True)
class QuestionSet:
    x: np.ndarray  # features of the questions the model judges
    refused: int  # refused before the model (no terms, weak coverage)
    answered: int  # answered without it (every question word in the best passage)


def question_features(engine: SearchEngine, question: str) -> np.ndarray | bool:
    """The model's features for a question, or whether it is answered when the engine decides without the model."""
    index = engine.index
    assert index is not None
    terms = analyze_query(question)
    if not terms:
        return False
    expanded = engine.expand(index, terms)
    if not expanded:
        return False
    query_terms, weights, evidence = engine.leading_evidence(index, terms, expanded,
                                                             max(4, engine.config.rerank_depth))
    if not evidence or evidence[0].article_coverage < engine.config.min_coverage:
        return False
    if evidence[0].passage_coverage >= FULL_COVERAGE:
        return True
    return confidence.features(index, terms, query_terms, weights, evidence)


def feature_rows(engine: SearchEngine, questions: Sequence[str]) -> QuestionSet:
    """Features of the questions the model judges, and how many the engine refused / answered without it."""
    rows = [question_features(engine, q) for q in questions]
    kept = [r for r in rows if isinstance(r, np.ndarray)]
    x = np.array(kept).reshape(len(kept), len(confidence.FEATURES))
    return QuestionSet(x, sum(r is False for r in rows), sum(r is True for r in rows))


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = 1e-2, steps: int = 50) -> tuple[np.ndarray, float]:
    """Weights and intercept maximising the penalised log-likelihood (Newton's method)."""
    xb = np.hstack([x, np.ones((x.shape[0], 1))])
    w = np.zeros(xb.shape[1])
    penalty = np.full(xb.shape[1], l2)
    penalty[-1] = 0.0  # the intercept is not shrunk
    for _ in range(steps):
        p = 1 / (1 + np.exp(-(xb @ w)))
        grad = xb.T @ (p - y) + penalty * w
        hess = (xb * (p * (1 - p))[:, None]).T @ xb + np.diag(penalty)
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.abs(step).max() < 1e-10:
            break
    return w[:-1], float(w[-1])



@dataclass(frozen=True)
class StandardisedModel:
    """A logistic model over standardised feature columns: `model(rows)` is P(answerable) of each row."""

    cols: list[int] | slice  # the feature columns it reads
    mean: np.ndarray
    scale: np.ndarray
    w: np.ndarray
    b: float

    def __call__(self, rows: np.ndarray) -> np.ndarray:
        return 1 / (1 + np.exp(-(((rows[:, self.cols] - self.mean) / self.scale) @ self.w + self.b)))


def fit_standardised(answerable: Sequence[np.ndarray], unanswerable: np.ndarray, l2: float,
                     cols: list[int] | slice = slice(None)) -> StandardisedModel:
    """`fit_logistic` on the columns `cols` of the rows given, each column scaled to mean 0 and deviation 1."""
    x = np.vstack([*answerable, unanswerable])[:, cols]
    y = np.concatenate([np.ones(sum(len(a) for a in answerable)), np.zeros(len(unanswerable))])
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale == 0] = 1.0
    w, b = fit_logistic((x - mean) / scale, y, l2)
    return StandardisedModel(cols, mean, scale, w, b)

def auc(pos: np.ndarray, neg: np.ndarray) -> float:
    """Probability that a random positive scores above a random negative (ties count half)."""
    both = np.concatenate([pos, neg])
    ranks = np.argsort(np.argsort(both, kind="stable"), kind="stable").astype(np.float64) + 1
    # average ranks of ties
    for v in np.unique(both):
        same = both == v
        if same.sum() > 1:
            ranks[same] = ranks[same].mean()
    return float((ranks[:pos.size].sum() - pos.size * (pos.size + 1) / 2) / (pos.size * neg.size))


Data = dict[tuple[str, str], QuestionSet]


def answered_share(data: Data, key: tuple[str, str], scorer: Callable[[np.ndarray], np.ndarray],
                   cut: float) -> float:
    """Share of a question set answered at `cut` (questions refused before the model count as not answered)."""
    qs = data[key]
    total = len(qs.x) + qs.refused + qs.answered
    return (float((scorer(qs.x) >= cut).sum()) + qs.answered) / total if total else 0.0


def tradeoff(data: Data, scorer: Callable[[np.ndarray], np.ndarray],
             answer: float) -> tuple[list[tuple[float, ...]], float]:
    """Rows (train answered, cut, train refused, test answered, test refused, known answered) and the cut for `answer`.

    Each cut is the highest that still answers the given share of the train
    split's answerable questions; the test split only ever sees that cut.
    """
    cuts = np.unique(np.concatenate([scorer(data["train", "answerable"].x), [0.0]]))
    train_answered = np.array([answered_share(data, ("train", "answerable"), scorer, c) for c in cuts])

    def cut_for(share: float) -> float | None:
        ok = cuts[train_answered >= share]
        return float(ok.max()) if ok.size else None

    rows = []
    for share in (0.99, 0.98, 0.97, 0.96, 0.95, 0.93, 0.90, 0.85, 0.80):
        cut = cut_for(share)
        if cut is None:
            continue
        rows.append((answered_share(data, ("train", "answerable"), scorer, cut), cut,
                     1 - answered_share(data, ("train", "unanswerable"), scorer, cut),
                     answered_share(data, ("test", "answerable"), scorer, cut),
                     1 - answered_share(data, ("test", "unanswerable"), scorer, cut),
                     answered_share(data, ("known", "answerable"), scorer, cut)))
    return rows, cut_for(answer) or 0.0


def fit_arguments(description: str, headlines: int) -> argparse.ArgumentParser:
    """The arguments every no-answer fit takes (this script's and the labs' that extend it)."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--answer", type=float, default=0.96, help="share of answerable train questions to answer")
    p.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    p.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE)
    p.add_argument("--known-items", type=int, default=1000)
    p.add_argument("--l2", type=float, default=1e-2)
    p.add_argument("--headlines", type=int, default=headlines,
                   help="also fit on this many news titles (another sample than eval's) as answerable questions")
    return p


def main(argv: Sequence[str] | None = None) -> None:
    args = fit_arguments(__doc__.split("\n\n")[0], headlines=0).parse_args(argv)

    config = RetrievalConfig()
    dbs = cached_dbs(args.cache_dir, args.corpus, DEFAULT_QA, config)
    engines = {}
    for task, db in dbs.items():
        index_file = db.with_name(db.name + ".index.npz")
        if not index_file.exists():
            raise SystemExit(f"{index_file} missing: run benchmarks.eval with the default corpus options first")
        engines[task] = engine_over(segmentfile.load_index(index_file), config)
    split_questions = {name: [q.text for q in qa_data.load_squad(SPLITS / f"arcd-{name}.json")[1]]
                       for name in ("train", "test")}
    news = qa_data.load_corpus(args.corpus)
    known = [q.text for q in qa_data.known_items(news, args.known_items, 13)]
    # Titles to fit on: a sample of their own, none of them among the titles the check asks.
    headlines = [t for q in qa_data.known_items(news, args.headlines + args.known_items, 7)
                 if (t := q.text) not in set(known)][:args.headlines]

    data: Data = {}
    for name, questions in split_questions.items():
        data[name, "answerable"] = feature_rows(engines["arcd"], questions)
        data[name, "unanswerable"] = feature_rows(engines["noanswer"], questions)
    data["known", "answerable"] = feature_rows(engines["known"], known)
    data["headlines", "answerable"] = feature_rows(engines["known"], headlines)

    a, u = data["train", "answerable"], data["train", "unanswerable"]
    xa, xu = a.x, u.x
    print(f"train: {len(xa)} answerable (+{a.refused} refused and {a.answered} answered without the model), "
          f"{len(xu)} unanswerable (+{u.refused} refused and {u.answered} answered without it)")
    print("single-feature AUC on train (answerable above unanswerable):")
    for i, name in enumerate(confidence.FEATURES):
        print(f"  {name:<18} {auc(xa[:, i], xu[:, i]):.3f}")

    prob = fit_standardised([xa, data["headlines", "answerable"].x], xu, args.l2)

    pa, pu = prob(xa), prob(xu)
    print(f"model AUC on train: {auc(pa, pu):.3f}; on test: "
          f"{auc(prob(data['test', 'answerable'].x), prob(data['test', 'unanswerable'].x)):.3f}")

    def coverage(rows: np.ndarray) -> np.ndarray:
        return rows[:, confidence.FEATURES.index("passage_coverage")]

    chosen = 0.0
    for label, scorer in (("the model", prob), ("passage coverage alone (the coverage rule's signal)", coverage)):
        curve, cut = tradeoff(data, scorer, args.answer)
        if scorer is prob:
            chosen = cut
        print(f"\n{label}: trade-off (cut chosen on train for each share of answerable answered; test and "
              "known-item measured at that cut):")
        print(f"  {'train answered':>14} {'cut':>7} {'train refused-unans':>19} {'test answered':>13} "
              f"{'test refused-unans':>18} {'known answered':>14}")
        for row in curve:
            print("  " + " ".join(f"{v:>{w}.{4 if i == 1 else 3}f}"
                                  for i, (v, w) in enumerate(zip(row, (14, 7, 19, 13, 18, 14), strict=True))))

    print("\n# constants for retrieval/confidence.py (fitted by benchmarks/noanswer_fit.py on arcd-train.json)")
    print(f"FEATURE_MEAN = ({', '.join(f'{v:.6g}' for v in prob.mean)})")
    print(f"FEATURE_SCALE = ({', '.join(f'{v:.6g}' for v in prob.scale)})")
    print(f"COEFFICIENTS = ({', '.join(f'{v:.6g}' for v in prob.w)})")
    print(f"INTERCEPT = {prob.b:.6g}")
    print(f"# cut for {args.answer:.0%} of train answerable answered: min_confidence = {chosen:.4f}")


if __name__ == "__main__":
    main()
