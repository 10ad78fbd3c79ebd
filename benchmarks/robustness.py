"""The project's margin over the Lucene port on several independent corpus samples at once.

    python -m benchmarks.robustness                     # the default samples, defaults only
    python -m benchmarks.robustness lead_boost=0 fuzzy=false bm25.k1=1.2 title_weight=1 qwords=keep

A gain tuned on one sample can be that sample's luck. This loads the
databases `benchmarks.eval` cached for each sample (`--corpus-limit N
--seed S`; run eval once per sample first, `--tasks arcd known` is enough),
asks the Lucene baseline once per sample, then asks each variant through
`SearchEngine.rank` (the CPU half of `SearchEngine.search`: MRR and hit@3
equal eval's for the same setting) and prints project − Lucene on every
sample, for ARCD-pooled and the news known-item task, with the worst sample
and the mean. `--by-source` splits the known-item task by outlet; `--noanswer`
adds the share of QA questions refused against the news alone.

A variant is comma-separated `key=value` overrides, as eval's `--set`, plus
two that need more than a config:

* `bm25.k1` / `bm25.b` / `bm25.variant` rebuild the index in memory from
  the stored terms (the cached index was built with the defaults);
* `title_weight=N` re-weights the title terms appended to every passage
  (the stored terms end with the title's terms × the default weight);
* `qwords=keep` asks with the question words kept (index-side stopwords only).
"""

from __future__ import annotations

import argparse
import dataclasses
import sqlite3
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import retrieval.query as engine_module
from benchmarks import qa_data
from benchmarks.cached import cached_dbs
from benchmarks.eval import (
    DEFAULT_CACHE,
    DEFAULT_CORPUS,
    DEFAULT_QA,
    K,
    Outcome,
    ask_baseline,
    by_outlet,
    load_baseline,
    metrics,
    parse_overrides,
)
from benchmarks.qa_data import Question
from retrieval import bm25, segmentfile
from retrieval.analysis import STOPWORDS, _ChunkTerms, analyze
from retrieval.engine import TITLE_CHARS, TITLE_TERMS, RetrievalConfig, SearchEngine

DEFAULT_SAMPLES = ("5000:1", "5000:2", "5000:3", "15000:1", "15000:2", "15000:3", "full")
FULL_SEED = 13  # eval's default seed: the full corpus's known-item titles


@dataclass(frozen=True)
class Sample:
    label: str
    limit: int | None
    seed: int

    @classmethod
    def parse(cls, spec: str) -> Sample:
        if spec == "full":
            return cls("full", None, FULL_SEED)
        limit, _, seed = spec.partition(":")
        return cls(f"{int(limit) // 1000}k/s{seed}", int(limit), int(seed or FULL_SEED))


@dataclass
class TaskData:
    db: Path
    index: bm25.BM25Index
    article_names: dict[int, str]  # articles.rowid → articles.id
    questions: list[Question]
    lucene: list[Outcome]
    stored: list[tuple[int, int, list[str], int]] | None = None  # (passage id, article rowid, terms, title terms)
    rebuilt: dict[tuple, bm25.BM25Index] = dataclasses.field(default_factory=dict)


@dataclass
class SampleData:
    sample: Sample
    tasks: dict[str, TaskData]
    source_of: dict[str, str]  # known-item gold article → outlet


def article_names(db: Path) -> dict[int, str]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as con:
        return dict(con.execute("SELECT rowid, id FROM articles").fetchall())


def load_sample(sample: Sample, args: argparse.Namespace, arcd: list[Question]) -> SampleData:
    dbs = cached_dbs(args.cache_dir, args.corpus, args.qa, RetrievalConfig(), sample.limit, sample.seed)
    news = qa_data.load_corpus(args.corpus, sample.limit, sample.seed)
    asked = {"arcd": arcd, "known": qa_data.known_items(news, args.known_items, sample.seed)}
    if args.noanswer:
        asked["noanswer"] = arcd
    tasks = {}
    for name, questions in asked.items():
        db = dbs[name]
        index_file = db.with_name(db.name + ".index.npz")
        if not index_file.exists():
            limit = f" --corpus-limit {sample.limit}" if sample.limit else ""
            raise SystemExit(f"{index_file} missing: run `python -m benchmarks.eval{limit} --seed {sample.seed}"
                             f" --tasks arcd known` first")
        # Lucene never refuses: the no-answer task is judged on the project alone.
        lucene = [] if name == "noanswer" else ask_baseline(load_baseline("lucene", db, args.cache_dir), questions)
        tasks[name] = TaskData(db, segmentfile.load_index(index_file), article_names(db), questions, lucene)
    return SampleData(sample, tasks, {a["id"]: str(a.get("source") or "") for a in news})


# --- variants that need more than a RetrievalConfig ------------------------------------------

def stored_terms(task: TaskData) -> list[tuple[int, int, list[str], int]]:
    """Each passage's stored terms, with how many of its last terms are one copy of its article's title."""
    if task.stored is None:
        with sqlite3.connect(f"file:{task.db}?mode=ro", uri=True) as con:
            rows = con.execute("SELECT p.id, a.rowid, p.terms, a.title FROM passages p"
                               " JOIN articles a ON a.id = p.article_id ORDER BY p.id").fetchall()
        title_len: dict[str, int] = {}
        task.stored = []
        for pid, arowid, terms, title in rows:
            n = title_len.get(title)
            if n is None:
                n = title_len[title] = len(analyze(title[:TITLE_CHARS])[:TITLE_TERMS])
            task.stored.append((pid, arowid, terms.split(), n))
    return task.stored


def index_for(task: TaskData, params: bm25.BM25Params, title_weight: int) -> bm25.BM25Index:
    """The task's index with other BM25 parameters or title weight (built in memory, remembered)."""
    default = RetrievalConfig()
    if params == task.index.params and title_weight == default.title_weight:
        return task.index
    key = (params, title_weight)
    if key not in task.rebuilt:
        started = time.perf_counter()
        rows = stored_terms(task)

        def docs() -> Sequence[list[str]]:
            for _, _, terms, n in rows:
                if n == 0 or title_weight == default.title_weight:
                    yield terms
                else:
                    body = terms[:len(terms) - n * default.title_weight]
                    yield body + terms[len(body):len(body) + n] * title_weight

        task.rebuilt[key] = bm25.build_index(docs(), [r[0] for r in rows], [r[1] for r in rows], params)
        print(f"  (rebuilt {task.db.name[:12]} k1 {params.k1} b {params.b} {params.variant} titles ×{title_weight}"
              f" in {time.perf_counter() - started:.0f} s)", flush=True)
    return task.rebuilt[key]


_keep_question_words = _ChunkTerms(STOPWORDS, 1 << 14)


def split_variant(variant: str) -> tuple[RetrievalConfig, dict[str, str]]:
    """Config overrides, and the pseudo-settings this script handles itself."""
    special = {}
    plain = []
    for pair in (v for v in variant.split(",") if v):
        key, _, value = pair.partition("=")
        if key == "qwords":
            special[key] = value
        else:
            plain.append(pair)
    return parse_overrides(plain), special


def ask(task: TaskData, config: RetrievalConfig, special: dict[str, str]) -> list[Outcome]:
    index = index_for(task, config.bm25, config.title_weight)
    engine = SearchEngine.over_index(index, config)
    saved: Callable[[str], list[str]] = engine_module.analyze_query
    if special.get("qwords") == "keep":
        engine_module.analyze_query = _keep_question_words.analyze
    try:
        out = []
        for q in task.questions:
            started = time.perf_counter()
            ranking = engine.rank(q.text, K)
            seconds = time.perf_counter() - started
            ranked = [task.article_names[int(index.article_ids[p])] for p, _ in ranking.picked]
            out.append(Outcome(ranked, q.gold, seconds, not ranked))
    finally:
        engine_module.analyze_query = saved
    return out


# --- reporting -------------------------------------------------------------------------------------

def margins(project: Sequence[Outcome], lucene: Sequence[Outcome]) -> dict[str, float]:
    p, lu = metrics(project), metrics(lucene)
    return {"mrr": p["mrr@10"] - lu["mrr@10"], "h3": p["hit@3"] - lu["hit@3"], "p_mrr": p["mrr@10"],
            "l_mrr": lu["mrr@10"], "na": p["no_answer"], "p50": p["p50_ms"]}


def run_variant(data: list[SampleData], variant: str, show_sources: bool) -> dict[str, dict[str, dict]]:
    config, special = split_variant(variant)
    table: dict[str, dict[str, dict]] = {}
    for sd in data:
        row = table[sd.sample.label] = {}
        for name, task in sd.tasks.items():
            outcomes = ask(task, config, special)
            if name == "noanswer":
                row[name] = {"refused": metrics(outcomes)["no_answer"]}
                continue
            row[name] = margins(outcomes, task.lucene)
            if name == "known" and show_sources:
                lucene_groups = by_outlet(task.lucene, sd.source_of)
                for source, group in sorted(by_outlet(outcomes, sd.source_of).items()):
                    row[f"known:{source}"] = margins(group, lucene_groups[source])
    return table


def print_variant(label: str, table: dict[str, dict[str, dict]]) -> None:
    print(f"\n== {label}")
    print(f"  {'sample':<10}{'ARCD Δmrr':>10}{'Δh@3':>8}{'(proj':>7}{'luc)':>7}{'na':>7}"
          f"{'known Δmrr':>12}{'Δh@3':>8}{'(proj':>7}{'luc)':>7}{'na':>7}{'p50':>6}{'unans refused':>15}")
    for sample, row in table.items():
        a, k = row["arcd"], row["known"]
        refused = f"{row['noanswer']['refused']:>15.3f}" if "noanswer" in row else ""
        print(f"  {sample:<10}{a['mrr']:>+10.3f}{a['h3']:>+8.3f}{a['p_mrr']:>7.3f}{a['l_mrr']:>7.3f}{a['na']:>7.3f}"
              f"{k['mrr']:>+12.3f}{k['h3']:>+8.3f}{k['p_mrr']:>7.3f}{k['l_mrr']:>7.3f}{k['na']:>7.3f}"
              f"{k['p50']:>6.1f}{refused}")
    samples = [r for s, r in table.items() if s != "full"]
    if samples:
        for what, pick in (("worst", min), ("mean", statistics.fmean)):
            a = pick(r["arcd"]["mrr"] for r in samples)
            k = pick(r["known"]["mrr"] for r in samples)
            print(f"  {what + ' (samples)':<18}{a:>+6.3f}{'':>36}{k:>+8.3f}")
    sources = sorted({key for row in table.values() for key in row if key.startswith("known:")})
    if sources:
        print("  known-item Δmrr by outlet (project mrr / lucene mrr):")
        for source in sources:
            cells = "  ".join(f"{s} {row[source]['mrr']:+.3f} ({row[source]['p_mrr']:.2f}/{row[source]['l_mrr']:.2f})"
                              for s, row in table.items() if source in row)
            print(f"    {source[6:]:<9} {cells}")


def main(argv: Sequence[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("variants", nargs="*", help="key=value[,key=value] overrides, one variant each")
    p.add_argument("--samples", nargs="+", default=list(DEFAULT_SAMPLES),
                   help="LIMIT:SEED (eval's --corpus-limit and --seed) or 'full'")
    p.add_argument("--no-defaults", action="store_true", help="skip the defaults row")
    p.add_argument("--by-source", action="store_true", help="split the known-item task by outlet")
    p.add_argument("--noanswer", action="store_true",
                   help="also ask the QA questions of the news alone (share refused: the no-answer task)")
    p.add_argument("--qa", type=Path, default=DEFAULT_QA)
    p.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    p.add_argument("--known-items", type=int, default=1000)
    p.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE)
    args = p.parse_args(argv)
    _, arcd = qa_data.load_squad(args.qa)
    data = []
    for spec in args.samples:
        started = time.perf_counter()
        data.append(load_sample(Sample.parse(spec), args, arcd))
        print(f"  loaded {spec} in {time.perf_counter() - started:.0f} s", flush=True)
    for variant in ([] if args.no_defaults else [""]) + args.variants:
        print_variant(variant or "defaults", run_variant(data, variant, args.by_source))


if __name__ == "__main__":
    main()
