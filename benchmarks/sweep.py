"""In-memory experiment loop over the databases `benchmarks.eval` cached.

`eval.py` is the measurement of record; this is the fast loop used to decide
what to try there. It reads the passages of a cached pooled database once,
then for each variant (an analysis function for passages, one for
questions, a RetrievalConfig) builds a BM25 index in memory and asks the ARCD
questions (titles in the index) and the news known-item titles (titles left
out) through `SearchEngine.rank`, the CPU half of `SearchEngine.search`.

    python -m benchmarks.sweep --db benchmarks/.cache/pooled-….db bm25.variant=okapi bm25.k1=1.2 ...

Each positional argument is one `key=value` override run as its own variant.
"""

from __future__ import annotations

import argparse
import sqlite3
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import retrieval.query as engine_module
from benchmarks import qa_data
from benchmarks.eval import DEFAULT_CORPUS, DEFAULT_QA, K, Outcome, metrics, parse_overrides
from retrieval import bm25
from retrieval.analysis import analyze, analyze_query
from retrieval.engine import RetrievalConfig, SearchEngine
from retrieval.passages import split_passages

Analyzer = Callable[[str], list[str]]


def read_rows(db: Path, passage_chars: tuple[int, int] | None = None) -> list[tuple[str, str, str]]:
    """(passage text, article id, title): as stored, or re-split from the bodies at (target, max) chars."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as con:
        if passage_chars is None:
            return con.execute("SELECT p.text, a.id, a.title FROM passages p JOIN articles a ON a.id = p.article_id"
                               " ORDER BY p.id").fetchall()
        articles = con.execute("SELECT id, title, body FROM articles ORDER BY rowid").fetchall()
    target, most = passage_chars
    return [(p.text, aid, title) for aid, title, body in articles
            for p in split_passages(body, target_chars=target, max_chars=most)]


class Sweep:
    def __init__(self, db: Path, known_n: int = 1000, seed: int = 13, corpus: Path = DEFAULT_CORPUS,
                 qa: Path = DEFAULT_QA, passage_chars: tuple[int, int] | None = None) -> None:
        self.rows = read_rows(db, passage_chars)
        self.names = list(dict.fromkeys(r[1] for r in self.rows))
        number = {a: i for i, a in enumerate(self.names)}
        self.article_numbers = [number[r[1]] for r in self.rows]
        _, self.arcd = qa_data.load_squad(qa)
        news = qa_data.load_corpus(corpus, None, seed)
        self.known = qa_data.known_items(news, known_n, seed)
        self._terms: dict[str, list[list[str]]] = {}

    def doc_terms(self, name: str, analyzer: Analyzer, titles: int) -> list[list[str]]:
        key = f"{name}:{titles}"
        if key not in self._terms:
            started = time.perf_counter()
            base = self._terms.get(f"{name}:0")
            if base is None:
                base = self._terms[f"{name}:0"] = [analyzer(r[0]) for r in self.rows]
            if titles:
                title_terms: dict[str, list[str]] = {}
                docs = []
                for terms, (_, aid, title) in zip(base, self.rows, strict=True):
                    t = title_terms.get(aid)
                    if t is None:
                        t = title_terms[aid] = analyzer(title) * titles
                    docs.append(terms + t)
                self._terms[key] = docs
            print(f"  analysed {key} in {time.perf_counter() - started:.0f} s", flush=True)
        return self._terms[key]

    def run(self, config: RetrievalConfig, name: str = "light10", analyzer: Analyzer = analyze,
            query_analyzer: Analyzer = analyze_query, titles: int = 0) -> dict[str, dict[str, float]]:
        out = {}
        for task, questions, t in (("arcd", self.arcd, titles), ("known", self.known, 0)):
            docs = self.doc_terms(name, analyzer, t)
            index = bm25.build_index(docs, range(len(docs)), self.article_numbers, config.bm25)
            engine = SearchEngine(":memory:", config, None, None)  # type: ignore[arg-type]
            engine._index = index
            saved = engine_module.analyze_query
            engine_module.analyze_query = query_analyzer
            try:
                outcomes = []
                for q in questions:
                    started = time.perf_counter()
                    ranking = engine.rank(q.text, K)
                    ranked = [self.names[int(index.article_ids[p])] for p, _ in ranking.picked]
                    outcomes.append(Outcome(ranked, q.gold, time.perf_counter() - started, not ranked))
            finally:
                engine_module.analyze_query = saved
            out[task] = metrics(outcomes)
        return out


def show(label: str, result: dict[str, dict[str, float]]) -> None:
    cells = "  ".join(f"{task}: mrr {m['mrr@10']:.3f} h1 {m['hit@1']:.3f} h3 {m['hit@3']:.3f} "
                      f"h10 {m['hit@10']:.3f} na {m['no_answer']:.3f} p50 {m['p50_ms']:.1f}"
                      for task, m in result.items())
    print(f"{label:<40} {cells}", flush=True)


def main(argv: Sequence[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--db", type=Path, required=True)
    p.add_argument("--titles", type=int, default=0)
    p.add_argument("variants", nargs="*", help="key=value[,key=value] overrides, one variant each")
    args = p.parse_args(argv)
    sweep = Sweep(args.db)
    show("defaults", sweep.run(RetrievalConfig(), titles=args.titles))
    for variant in args.variants:
        show(variant, sweep.run(parse_overrides(variant.split(",")), titles=args.titles))


if __name__ == "__main__":
    main()
