"""Retrieval quality: the project's chain against two baselines on the same data.

    python -m benchmarks.eval                      # ARCD pooled with the full news corpus
    python -m benchmarks.eval --corpus-limit 3000 --questions 400 --known-items 300   # quick

Three tasks, each over its own temporary database built through
`SearchEngine.ingest_paths` (the bot's own ingest path) and cached under
`--cache-dir`, keyed by a hash of the inputs and of the analysis pipeline:

* arcd      — every distinct paragraph of the SQuAD-format QA file is an article
              (Wikipedia title as title), pooled with the news corpus as
              distractors; every answerable question is asked; gold = the
              paragraph's article.
* known     — news articles indexed *without* titles; a seeded sample of
              titles asked as questions; gold = the article itself.
* noanswer  — the news corpus alone (the QA paragraphs left out); every QA
              question asked; the right outcome is "nothing found".

Systems, side by side on the same passages:

* naive   — whitespace tokens, BM25Okapi with rank-bm25's defaults;
* lucene  — `benchmarks.lucene` (port of Lucene's ArabicAnalyzer), BM25Okapi defaults;
* project — `SearchEngine.search`, exactly what the bot calls.

The two baselines are scored with `retrieval.bm25` (variant okapi, k1=1.5,
b=0.75, epsilon=0.25), which reproduces `rank_bm25.BM25Okapi.get_scores`
exactly for the same tokens (tests/test_bm25.py; `--verify` re-checks it
here on a sample) but reads posting lists instead of scanning ~200k passages
per question. All systems rank articles by their best passage.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import random
import sqlite3
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from benchmarks import bm25_reference, lucene, qa_data

# The cached databases are `benchmarks.cached`'s; other tools reach them as `eval.X` too.
from benchmarks.cached import build_db as build_db
from benchmarks.cached import cache_name as cache_name
from benchmarks.cached import file_identity as file_identity
from benchmarks.cached import log, source_hash
from benchmarks.cached import pipeline_key as pipeline_key
from benchmarks.qa_data import Question
from retrieval import bm25, indexfile, scoring, store
from retrieval.engine import PIPELINE_VERSION, RetrievalConfig, SearchEngine

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
DEFAULT_QA = SHARED / "eval" / "arcd.json"
DEFAULT_CORPUS = SHARED / "corpora" / "ant-multisource.jsonl.gz"
DEFAULT_CACHE = REPO / "benchmarks" / ".cache"
DEFAULT_OUT = REPO / "benchmarks" / "results" / "quality.json"
K = 10
SYSTEMS = ("naive", "lucene", "project")
# The project's row counting the gold when it is listed under a shown story (the reader sees it, with its
# link); "project" counts article ids only, as the baselines (which list every article) are counted.
SEEN = "project+also"
TASKS = ("arcd", "known", "noanswer")
RANK_BM25_DEFAULTS = bm25.BM25Params(variant="okapi", k1=1.5, b=0.75, epsilon=0.25)
TITLE_SOURCE = "?"  # outlet shown for an article the corpus gives none


# --- outcomes and metrics ------------------------------------------------------------

@dataclasses.dataclass(frozen=True, slots=True)
class Outcome:
    ranked: list[str]  # article ids, best first (at most K)
    gold: str
    seconds: float
    no_answer: bool
    # The project's ranking read as the reader sees it: a hit that lists the gold among its story's other
    # versions (`Hit.also`, one result per story) counts as the gold at that rank.
    seen: list[str] | None = None


def metrics(outcomes: Sequence[Outcome]) -> dict[str, float]:
    n = len(outcomes)
    if n == 0:
        return {"n": 0}
    ranks = [o.ranked.index(o.gold) + 1 if o.gold in o.ranked else None for o in outcomes]
    ms = sorted(o.seconds * 1000 for o in outcomes)
    return {
        "n": n,
        "hit@1": sum(r is not None and r <= 1 for r in ranks) / n,
        "hit@3": sum(r is not None and r <= 3 for r in ranks) / n,
        "hit@10": sum(r is not None for r in ranks) / n,
        "mrr@10": sum(1 / r for r in ranks if r is not None) / n,
        "no_answer": sum(o.no_answer for o in outcomes) / n,
        "p50_ms": statistics.median(ms),
        "p95_ms": ms[min(n - 1, round(0.95 * n) - 1)],
    }


# --- baselines ---------------------------------------------------------------------------

@dataclasses.dataclass
class Baseline:
    index: bm25.BM25Index
    article_names: list[str]  # article number → article id
    tokenize: Callable[[str], list[str]]


def whitespace_tokens(text: str) -> list[str]:
    return text.split()


BASELINE_TOKENIZERS: dict[str, Callable[[str], list[str]]] = {
    "naive": whitespace_tokens,
    "lucene": lucene.analyze,
}


def read_passages(db: Path) -> tuple[list[str], list[str]]:
    """(passage text, article id) for every passage, in passage-id order."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as con:
        rows = con.execute(f"SELECT {store.PASSAGE_TEXT_SQL}, p.article_id FROM passages p"
                           " JOIN articles a ON a.id = p.article_id ORDER BY p.id").fetchall()
    return [r[0] for r in rows], [r[1] for r in rows]


def load_baseline(name: str, db: Path, cache_dir: Path) -> Baseline:
    """The baseline's BM25 index over the database's passages, cached as .npz."""
    tokenize = BASELINE_TOKENIZERS[name]
    key = cache_name(f"bl-{name}", db.name, source_hash("benchmarks/lucene.py"))
    npz, names_file = cache_dir / f"{key}.npz", cache_dir / f"{key}.articles.json"
    if npz.exists() and names_file.exists():
        return Baseline(indexfile.load_index(npz), json.loads(names_file.read_text()), tokenize)
    started = time.perf_counter()
    texts, article_ids = read_passages(db)
    numbers: dict[str, int] = {}
    article_numbers = [numbers.setdefault(a, len(numbers)) for a in article_ids]
    index = bm25.build_index((tokenize(t) for t in texts), range(len(texts)), article_numbers, RANK_BM25_DEFAULTS)
    indexfile.save_index(index, npz)
    names = list(numbers)
    names_file.write_text(json.dumps(names))
    log(f"  baseline {name} over {db.name}: {len(texts)} passages in {time.perf_counter() - started:.0f} s")
    return Baseline(index, names, tokenize)


def top_articles(index: bm25.BM25Index, cand: np.ndarray, scores: np.ndarray, k: int) -> list[int]:
    """Article numbers of the best k articles, each ranked by its best passage."""
    m = min(cand.size, 64)
    while True:
        picked: list[int] = []
        for i in scoring.rank(cand, scores, m):
            a = int(index.article_ids[cand[i]])
            if a not in picked:
                picked.append(a)
                if len(picked) == k:
                    return picked
        if m >= cand.size:
            return picked
        m = min(cand.size, m * 8)


def ask_baseline(bl: Baseline, questions: Sequence[Question]) -> list[Outcome]:
    out = []
    for q in questions:
        started = time.perf_counter()
        weights = bm25_reference.query_weights(bl.index, bl.tokenize(q.text))
        cand, scores = scoring.score(bl.index, weights)
        if bl.index.params.variant == "okapi":
            keep = scores > 0  # rank-bm25 gives 0 to passages without a query term
            cand, scores = cand[keep], scores[keep]
        ranked = [bl.article_names[a] for a in top_articles(bl.index, cand, scores, K)]
        out.append(Outcome(ranked, q.gold, time.perf_counter() - started, not ranked))
    return out


def verify_against_rank_bm25(bl: Baseline, db: Path, questions: Sequence[Question], n_passages: int = 3000) -> str:
    """Top 10 of rank-bm25 and of retrieval.bm25 over the same tokens on a passage sample must agree."""
    from rank_bm25 import BM25Okapi

    texts, _ = read_passages(db)
    rng = random.Random(5)
    docs = [bl.tokenize(t) for t in rng.sample(texts, min(n_passages, len(texts)))]
    model = BM25Okapi(docs)
    index = bm25.build_index(docs, range(len(docs)), range(len(docs)), RANK_BM25_DEFAULTS)
    agree = 0
    for q in questions:
        tokens = bl.tokenize(q.text)
        ref = model.get_scores(tokens)
        ours = dict(bm25_reference.top_passages(index, tokens, K))
        ref_top = [i for i in sorted(range(len(ref)), key=lambda i: (-ref[i], i))[:K] if ref[i] > 0]
        agree += all(abs(ref[i] - ours.get(i, 0.0)) < 1e-4 * max(1.0, abs(ref[i])) for i in ref_top)
    return f"{agree}/{len(questions)} questions: rank-bm25 top-{K} scores reproduced on {len(docs)} passages"


# --- the project's chain -------------------------------------------------------------------

async def ask_project(engine: SearchEngine, questions: Sequence[Question]) -> list[Outcome]:
    out = []
    for q in questions:
        started = time.perf_counter()
        result = await engine.search(q.text, k=K)
        seconds = time.perf_counter() - started
        ranked = [h.article_id for h in result.hits]
        seen = [q.gold if any(c.article_id == q.gold for c in h.also) else h.article_id for h in result.hits]
        out.append(Outcome(ranked, q.gold, seconds, not result.hits, seen))
    return out


# --- running ------------------------------------------------------------------------------------

def parse_overrides(pairs: Sequence[str]) -> RetrievalConfig:
    """`--set min_coverage=0.4 --set bm25.k1=1.2` → a RetrievalConfig."""
    config = RetrievalConfig()
    bm25_changes: dict[str, object] = {}
    changes: dict[str, object] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep:
            raise SystemExit(f"--set needs key=value, got {pair!r}")
        target, name = (bm25_changes, key[5:]) if key.startswith("bm25.") else (changes, key)
        current = getattr(config.bm25 if target is bm25_changes else config, name, dataclasses.MISSING)
        if current is dataclasses.MISSING:
            raise SystemExit(f"--set: unknown setting {key!r}")
        if isinstance(current, bool):
            value: object = raw.lower() in ("1", "true", "yes", "on")
        elif isinstance(current, (int, float)) and not isinstance(current, bool):
            value = type(current)(float(raw)) if isinstance(current, float) else int(raw)
        elif current is None:
            value = float(raw)
        else:
            value = raw
        target[name] = value
    if bm25_changes:
        changes["bm25"] = dataclasses.replace(config.bm25, **bm25_changes)
    return dataclasses.replace(config, **changes)


def by_outlet(outcomes: Sequence[Outcome], source_of: dict[str, str]) -> dict[str, list[Outcome]]:
    """Known-item outcomes grouped by the outlet of their gold article (headline styles differ by outlet)."""
    groups: dict[str, list[Outcome]] = {}
    for o in outcomes:
        groups.setdefault(source_of.get(o.gold) or TITLE_SOURCE, []).append(o)
    return dict(sorted(groups.items()))


def format_table(results: dict[str, dict[str, dict[str, float]]]) -> str:
    cols = ("n", "hit@1", "hit@3", "hit@10", "mrr@10", "no_answer", "p50_ms", "p95_ms")
    lines = []
    for task, by_system in results.items():
        lines.append(f"\n{task}")
        lines.append(f"  {'system':<12}" + "".join(f"{c:>10}" for c in cols))
        for system, m in by_system.items():
            cells = []
            for c in cols:
                v = m.get(c)
                cells.append(f"{'':>10}" if v is None else f"{v:>10d}" if c == "n" else f"{v:>10.3f}"
                             if not c.endswith("_ms") else f"{v:>10.1f}")
            lines.append(f"  {system:<12}" + "".join(cells))
    return "\n".join(lines)


def summary(results: dict[str, dict[str, dict[str, float]]]) -> dict[str, float]:
    out: dict[str, float] = {}
    for task in ("arcd", "known"):
        r = results.get(task, {})
        if "project" in r and "lucene" in r:
            out[f"{task}_mrr_gain_over_lucene"] = r["project"]["mrr@10"] - r["lucene"]["mrr@10"]
            out[f"{task}_hit3_gain_over_lucene"] = r["project"]["hit@3"] - r["lucene"]["hit@3"]
    if "project" in results.get("arcd", {}):
        out["answerable_answered"] = 1 - results["arcd"]["project"]["no_answer"]
    if "project" in results.get("noanswer", {}):
        out["unanswerable_refused"] = results["noanswer"]["project"]["no_answer"]
    return out


async def run(args: argparse.Namespace) -> dict:
    config = parse_overrides(args.set)
    cache = args.cache_dir
    cache.mkdir(parents=True, exist_ok=True)
    tasks = args.tasks
    systems = args.systems

    qa_articles, qa_questions = qa_data.load_squad(args.qa)
    questions = qa_data.sample(qa_questions, args.questions)
    news = [] if args.no_corpus else qa_data.load_corpus(args.corpus, args.corpus_limit, args.seed)
    if not news and {"known", "noanswer"} & set(tasks):
        log("no news corpus: known-item and no-answer tasks skipped")
        tasks = [t for t in tasks if t == "arcd"]
    known = qa_data.known_items(news, args.known_items, args.seed) if news else []
    log(f"data: {len(qa_articles)} QA paragraphs, {len(questions)}/{len(qa_questions)} questions, "
        f"{len(news)} news articles, {len(known)} known-item titles")

    corpus_id = "none" if args.no_corpus else f"{file_identity(args.corpus)}:{args.corpus_limit}:{args.seed}"
    pkey = pipeline_key(config)
    news_db = cache / (cache_name("news", corpus_id, pkey) + ".db")
    pooled_db = cache / (cache_name("pooled", corpus_id, file_identity(args.qa), pkey) + ".db")
    untitled_db = cache / (cache_name("untitled", corpus_id, pkey) + ".db")
    dbs = {"arcd": pooled_db, "known": untitled_db, "noanswer": news_db}

    staging = cache / "staging"
    staging.mkdir(exist_ok=True)
    log("building (or reusing) databases ...")
    if news and ("noanswer" in tasks or "arcd" in tasks):
        await build_db(news_db, [qa_data.write_jsonl(staging / "news.jsonl", news)], config)
    if "arcd" in tasks:
        qa_file = qa_data.write_jsonl(staging / "qa.jsonl", qa_articles)
        await build_db(pooled_db, [qa_file], config, base=news_db if news else None)
    if "known" in tasks:
        await build_db(untitled_db, [qa_data.write_jsonl(staging / "untitled.jsonl", qa_data.without_titles(news))],
                       config)
    for f in staging.iterdir():
        f.unlink()

    asked = {"arcd": questions, "known": known, "noanswer": questions}
    source_of = {a["id"]: str(a.get("source") or "") for a in news}
    results: dict[str, dict[str, dict[str, float]]] = {}
    known_by_outlet: dict[str, dict[str, dict[str, float]]] = {}
    notes: list[str] = []
    for task in tasks:
        results[task] = {}
        for system in systems:
            log(f"{task}: {system} ...")
            if system == "project":
                engine = await SearchEngine.open(dbs[task], config)
                try:
                    outcomes = await ask_project(engine, asked[task])
                finally:
                    await engine.close()
            else:
                bl = load_baseline(system, dbs[task], cache)
                outcomes = ask_baseline(bl, asked[task])
                if args.verify and task == "arcd":
                    notes.append(f"{system}: " + verify_against_rank_bm25(bl, dbs[task], asked[task][:args.verify]))
            results[task][system] = metrics(outcomes)
            if system == "project" and task != "noanswer" and config.one_per_story:
                results[task][SEEN] = metrics([dataclasses.replace(o, ranked=o.seen or []) for o in outcomes])
            if task == "known":
                for outlet, group in by_outlet(outcomes, source_of).items():
                    known_by_outlet.setdefault(f"known:{outlet}", {})[system] = metrics(group)
    return {
        "label": args.label,
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "data": {"qa": str(args.qa), "corpus": None if args.no_corpus else str(args.corpus),
                 "corpus_limit": args.corpus_limit, "qa_paragraphs": len(qa_articles),
                 "questions": len(questions), "news_articles": len(news), "known_items": len(known)},
        "config": dataclasses.asdict(config),
        "pipeline_version": PIPELINE_VERSION,
        "baseline_scoring": "retrieval.bm25 okapi k1=1.5 b=0.75 epsilon=0.25 = rank_bm25.BM25Okapi defaults, "
                            "identical scores for identical tokens",
        "results": results,
        "known_by_outlet": known_by_outlet,
        "summary": summary(results),
        "notes": notes,
    }


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks.eval", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--qa", type=Path, default=DEFAULT_QA, help="SQuAD-format QA file (default: ARCD)")
    p.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS, help="JSONL(.gz) news corpus")
    p.add_argument("--no-corpus", action="store_true", help="QA paragraphs alone, no news distractors")
    p.add_argument("--corpus-limit", type=int, help="random sample of this many news articles")
    p.add_argument("--questions", type=int, help="random sample of this many QA questions")
    p.add_argument("--known-items", type=int, default=1000, help="titles asked in the known-item task")
    p.add_argument("--seed", type=int, default=13)
    p.add_argument("--tasks", nargs="+", choices=TASKS, default=list(TASKS))
    p.add_argument("--systems", nargs="+", choices=SYSTEMS, default=list(SYSTEMS))
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a RetrievalConfig field, e.g. min_coverage=0.4 or bm25.k1=1.2")
    p.add_argument("--verify", type=int, default=0, metavar="N",
                   help="re-check baseline scores against rank-bm25 itself on N questions")
    p.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE)
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help="JSON results file")
    p.add_argument("--label", default="", help="name of this run in the JSON file")
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    report = asyncio.run(run(args))
    print(format_table(report["results"]))
    if report["known_by_outlet"]:
        print("\nknown-item task by outlet of the gold article:", end="")
        print(format_table(report["known_by_outlet"]))
    print()
    for key, value in report["summary"].items():
        print(f"  {key}: {value:+.3f}" if "gain" in key else f"  {key}: {value:.3f}")
    for note in report["notes"]:
        print(f"  verify {note}")
    print(f"  (baselines scored by {report['baseline_scoring']})")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")
    print(f"  results written to {args.out}")


if __name__ == "__main__":
    main()
