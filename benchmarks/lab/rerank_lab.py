"""Fast loop over re-ranking and no-answer settings, on the indexes `benchmarks.eval` cached.

    python -m benchmarks.lab.rerank_lab lead_boost=0.2 spread_weight=0.3,lead_boost=0.2 ...

Loads the cached pooled / untitled / news indexes once (run `benchmarks.eval`
first with the same corpus options), then for each variant (comma-separated
`key=value` RetrievalConfig overrides, as eval's `--set`) asks the ARCD
questions, the known-item titles and (with `--noanswer`) the ARCD questions
against the news alone through `SearchEngine.rank` — the CPU half of
`SearchEngine.search`, so MRR and no-answer figures equal eval's for the same
setting; latency here leaves out fetching the excerpts.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from benchmarks import qa_data
from benchmarks.cached import article_names, cached_dbs, engine_over
from benchmarks.eval import (
    DEFAULT_CACHE,
    DEFAULT_CORPUS,
    DEFAULT_QA,
    K,
    Outcome,
    metrics,
    parse_overrides,
)
from benchmarks.qa_data import Question
from retrieval import bm25, segmentfile
from retrieval.engine import RetrievalConfig


@dataclass
class Task:
    name: str
    index: bm25.BM25Index
    article_names: dict[int, str]  # articles.rowid → articles.id
    questions: list[Question]


def load_tasks(args: argparse.Namespace, names: Sequence[str]) -> list[Task]:
    config = RetrievalConfig()
    dbs = cached_dbs(args.cache_dir, args.corpus, args.qa, config, args.corpus_limit, args.seed)
    _, arcd = qa_data.load_squad(args.qa)
    news = qa_data.load_corpus(args.corpus, args.corpus_limit, args.seed)
    asked = {"arcd": arcd, "known": qa_data.known_items(news, args.known_items, args.known_seed), "noanswer": arcd}
    tasks = []
    for name in names:
        db = dbs[name]
        index_file = db.with_name(db.name + ".index.npz")
        if not index_file.exists():
            raise SystemExit(f"{index_file} missing: run benchmarks.eval with the same corpus options first")
        tasks.append(Task(name, segmentfile.load_index(index_file), article_names(db), asked[name]))
    return tasks


def ask(task: Task, config: RetrievalConfig) -> list[Outcome]:
    engine = engine_over(task.index, config)
    out = []
    for q in task.questions:
        started = time.perf_counter()
        ranking = engine.rank(q.text, K)
        seconds = time.perf_counter() - started
        ranked = [task.article_names[int(task.index.article_ids[p])] for p, _ in ranking.picked]
        out.append(Outcome(ranked, q.gold, seconds, not ranked))
    return out


def show(label: str, results: dict[str, dict[str, float]]) -> None:
    cells = "  ".join(f"{t}: mrr {m['mrr@10']:.3f} h1 {m['hit@1']:.3f} h3 {m['hit@3']:.3f} na {m['no_answer']:.3f} "
                      f"p50 {m['p50_ms']:.1f}" for t, m in results.items())
    print(f"{label:<44} {cells}", flush=True)


def main(argv: Sequence[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("variants", nargs="*", help="key=value[,key=value] overrides, one variant each")
    p.add_argument("--noanswer", action="store_true", help="also ask the ARCD questions against the news alone")
    p.add_argument("--qa", type=Path, default=DEFAULT_QA)
    p.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    p.add_argument("--corpus-limit", type=int)
    p.add_argument("--known-items", type=int, default=1000)
    p.add_argument("--seed", type=int, default=13, help="the corpus sample seed eval used")
    p.add_argument("--known-seed", type=int, default=13,
                   help="seed of the titles sample (eval uses --seed; another value gives titles to tune on)")
    p.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE)
    args = p.parse_args(argv)
    tasks = load_tasks(args, ["arcd", "known", "noanswer"] if args.noanswer else ["arcd", "known"])
    for variant in ["", *args.variants]:
        config = parse_overrides([v for v in variant.split(",") if v])
        show(variant or "defaults", {t.name: metrics(ask(t, config)) for t in tasks})


if __name__ == "__main__":
    main()
