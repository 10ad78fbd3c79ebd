"""Does a passage's *body* coverage separate answerable from unanswerable better than its coverage with the title?

    python -m benchmarks.lab.noanswer_title_lab           # ~25 s after benchmarks.eval has cached its indexes

Every passage is indexed with its article's title terms appended
(`engine.prepare`, `title_weight` times), so a passage of another article
about the same entity (a news story whose headline names it) matches the
question's topic word through the title alone, and the coverage features
stay high although the passage states nothing about the asked fact. This
lab measures, without touching the index, features that count only the
words found in the passage's body: it reads the top passage's stored terms
and its article's title from the cached database, strips the appended title
terms, and adds to `confidence.features`:

* body_coverage — share of the question's idf mass in the passage body;
* title_only_share — share matched only through the title;
* title_share — share of the question's idf mass that is title words of
  that article (how much of the question is the topic the title names);
* rest_body_coverage — body coverage of the idf mass of the question words
  that are *not* title words of that article (1 when every word is).

Then it fits the same logistic model as `benchmarks/noanswer_fit.py` (same
data, same train-chosen cut) with each extra feature set and prints the
test split's trade-off next to the current model's, plus how many test
questions it refuses when asked of the *pooled* index with only their own
paragraph held out ("held out": the paragraph's Wikipedia siblings, which
share its title, stay in the index — the case the title terms should hurt
most). `--fit-unanswerable heldout` fits on that case instead of the news
alone; `--full-gate body` judges the "every word present → answer without
the model" rule on body words only. Results: docs/retrieval-quality.md,
row 32 (the features did not help; nothing of this is in `retrieval/`).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from benchmarks import qa_data
from benchmarks.cached import article_names, cached_dbs, engine_over
from benchmarks.eval import DEFAULT_QA
from benchmarks.noanswer_fit import (
    SPLITS,
    Data,
    QuestionSet,
    answered_share,
    auc,
    fit_arguments,
    fit_standardised,
    tradeoff,
)
from retrieval import bm25, confidence, query, rerank, segmentfile, topk
from retrieval.analysis import analyze, analyze_query
from retrieval.engine import FULL_COVERAGE, TITLE_CHARS, TITLE_TERMS, RetrievalConfig, SearchEngine

EXTRA = ("body_coverage", "title_only_share", "title_share", "rest_body_coverage")


class PassageSource:
    """Stored body terms and title terms of a passage, read from the cached database."""

    def __init__(self, db: Path, index: bm25.BM25Index, title_weight: int) -> None:
        self._con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        self._index = index
        self._title_weight = title_weight
        self.term_of = {tid: term for term, tid in index.vocabulary.items()}

    def body_and_title(self, passage: int) -> tuple[set[str], set[str]]:
        pid = int(self._index.passage_ids[passage])
        terms, title = self._con.execute(
            "SELECT p.terms, a.title FROM passages p JOIN articles a ON a.id = p.article_id WHERE p.id = ?",
            (pid,)).fetchone()
        title_terms = analyze(title[:TITLE_CHARS])[:TITLE_TERMS]
        stored = terms.split()
        appended = len(title_terms) * self._title_weight
        body = stored[:len(stored) - appended] if appended else stored
        assert stored[len(body):] == title_terms * self._title_weight, "stored terms do not end with the title's"
        return set(body), set(title_terms)


def extra_features(source: PassageSource, query: list[rerank.QueryTerm], top: rerank.Evidence) -> np.ndarray:
    body, title = source.body_and_title(top.passage)
    idf = np.array([t.idf for t in query])
    in_body = np.array([max((c for tid, c in t.matches if source.term_of[tid] in body), default=0.0)
                        for t in query])
    in_title = np.array([max((c for tid, c in t.matches if source.term_of[tid] in title), default=0.0)
                         for t in query])
    in_passage = np.maximum(in_body, in_title)
    total = idf.sum() or 1.0
    is_title_word = in_title > 0
    rest = idf[~is_title_word].sum()
    return np.array([
        float(idf @ in_body) / total,
        float(idf @ np.maximum(in_passage - in_body, 0.0)) / total,
        float(idf @ is_title_word) / total,
        float(idf[~is_title_word] @ in_body[~is_title_word]) / rest if rest > 0 else 1.0,
    ])


def question_row(engine: SearchEngine, source: PassageSource, question: str,
                 full_gate: str, held_out: int | None = None) -> np.ndarray | bool:
    """Base + extra features, or whether it is decided without the model (as noanswer_fit.question_features)."""
    index = engine.index
    assert index is not None
    terms = analyze_query(question)
    if not terms:
        return False
    expanded = engine.expand(index, terms)
    if not expanded:
        return False
    weights = {index.vocabulary[t]: w for t, w in expanded.items()}
    depth = max(4, engine.config.rerank_depth)
    leaders = topk.top_articles(index, weights, depth + 1)[0].tolist()
    # The held-out article (its paragraph "left out"): its siblings stay.
    leaders = [p for p in leaders if int(index.article_ids[p]) != held_out][:depth]
    query_terms = query.query_terms(index, terms, expanded, engine.config)
    evidence = rerank.rerank(index, rerank.article_layout(index), weights, query_terms, leaders,
                             rerank.RerankWeights(engine.config.lead_boost, engine.config.spread_weight))
    if not evidence or evidence[0].passage_coverage < engine.config.min_coverage:
        return False
    extra = extra_features(source, query_terms, evidence[0])
    full = extra[0] if full_gate == "body" else evidence[0].passage_coverage
    if full >= FULL_COVERAGE:
        return True
    return np.concatenate([confidence.features(index, terms, query_terms, weights, evidence), extra])


def rows(engine: SearchEngine, source: PassageSource, questions: Sequence[str], full_gate: str,
         held_out: Sequence[int | None] | None = None) -> QuestionSet:
    got = [question_row(engine, source, q, full_gate, h)
           for q, h in zip(questions, held_out or [None] * len(questions), strict=True)]
    kept = [r for r in got if isinstance(r, np.ndarray)]
    x = np.array(kept).reshape(len(kept), len(confidence.FEATURES) + len(EXTRA))
    return QuestionSet(x, sum(r is False for r in got), sum(r is True for r in got))


def main(argv: Sequence[str] | None = None) -> None:
    p = fit_arguments(__doc__.split("\n\n")[0], headlines=300)
    p.add_argument("--full-gate", choices=("passage", "body"), default="passage",
                   help="coverage that lets a question through without the model: the passage's or its body's")
    p.add_argument("--fit-unanswerable", choices=("unanswerable", "heldout"), default="unanswerable",
                   help="train questions to fit as unanswerable: against the news alone, or against the pooled "
                        "index without their own paragraph (its Wikipedia siblings stay)")
    args = p.parse_args(argv)

    config = RetrievalConfig()
    dbs = cached_dbs(args.cache_dir, args.corpus, DEFAULT_QA, config)
    engines, sources = {}, {}
    for task, db in dbs.items():
        index = segmentfile.load_index(db.with_name(db.name + ".index.npz"))
        engines[task] = engine_over(index, config)
        sources[task] = PassageSource(db, index, config.title_weight)
    split_questions, split_gold = {}, {}
    # The pooled database numbers the paragraphs of the whole ARCD file: find each split question's there.
    full_articles, _ = qa_data.load_squad(DEFAULT_QA)
    pooled_id = {a["text"]: a["id"] for a in full_articles}
    rowid_of = {name: rowid for rowid, name in article_names(dbs["arcd"]).items()}
    for name in ("train", "test"):
        articles, questions = qa_data.load_squad(SPLITS / f"arcd-{name}.json")
        text_of = {a["id"]: a["text"] for a in articles}
        split_questions[name] = [q.text for q in questions]
        split_gold[name] = [rowid_of[pooled_id[text_of[q.gold]]] for q in questions]
    news = qa_data.load_corpus(args.corpus)
    known = [q.text for q in qa_data.known_items(news, args.known_items, 13)]
    headlines = [t for q in qa_data.known_items(news, args.headlines + args.known_items, 7)
                 if (t := q.text) not in set(known)][:args.headlines]

    data: Data = {}
    for name, questions in split_questions.items():
        data[name, "answerable"] = rows(engines["arcd"], sources["arcd"], questions, args.full_gate)
        data[name, "unanswerable"] = rows(engines["noanswer"], sources["noanswer"], questions, args.full_gate)
        data[name, "heldout"] = rows(engines["arcd"], sources["arcd"], questions, args.full_gate, split_gold[name])
    data["known", "answerable"] = rows(engines["known"], sources["known"], known, args.full_gate)
    data["headlines", "answerable"] = rows(engines["known"], sources["known"], headlines, args.full_gate)

    names = confidence.FEATURES + EXTRA
    xa, xu = data["train", "answerable"].x, data["train", args.fit_unanswerable].x
    for key, qs in data.items():
        print(f"{key}: {len(qs.x)} judged, {qs.refused} refused and {qs.answered} answered without the model")
    print("single-feature AUC on train (answerable above unanswerable):")
    for i, name in enumerate(names):
        held = data["train", "heldout"].x[:, i]
        print(f"  {name:<18} {auc(xa[:, i], xu[:, i]):.3f}  mean: answerable {xa[:, i].mean():.3f}, "
              f"fitted as unanswerable {xu[:, i].mean():.3f}, held out {held.mean():.3f}")

    base = list(range(len(confidence.FEATURES)))
    variants = {"current 9": base}
    for j, name in enumerate(EXTRA):
        variants[f"+ {name}"] = [*base, len(base) + j]
    variants["+ all four"] = base + [len(base) + j for j in range(len(EXTRA))]
    xh = data["headlines", "answerable"].x
    for label, cols in variants.items():
        prob = fit_standardised([xa, xh], xu, args.l2, cols)

        curve, _ = tradeoff(data, prob, args.answer)
        curve = [(*row, 1 - answered_share(data, ("test", "heldout"), prob, row[1])) for row in curve]
        test_auc = auc(prob(data["test", "answerable"].x), prob(data["test", "unanswerable"].x))
        print(f"\n{label}: AUC train {auc(prob(xa), prob(xu)):.3f} test {test_auc:.3f}")
        print(f"  {'train ans':>9} {'cut':>7} {'train ref':>9} {'test ans':>8} {'test ref':>8} {'known ans':>9} "
              f"{'test heldout ref':>16}")
        for row in curve:
            print("  " + " ".join(f"{v:>{wd}.{4 if i == 1 else 3}f}"
                                  for i, (v, wd) in enumerate(zip(row, (9, 7, 9, 8, 8, 9, 16), strict=True))))


if __name__ == "__main__":
    main()
