"""Three outcomes: an answer, closest matches flagged "low", or no answer. Thresholds chosen here.

    python -m benchmarks.outcomes          # after `python -m benchmarks.eval` (its cached indexes)

`SearchEngine.rank` refuses when the leading article holds under `min_coverage` of the question's
idf mass or the no-answer model's probability (retrieval/confidence.py) is under
`min_confidence`; it flags the results "low" when the probability is under `low_confidence` or the
question names a year no passage mentions; otherwise they are the answer ("high"). This script
asks every question once, keeps what the decision needs (refused before the model or not, the
probability, the unseen year, the ranked articles), and applies every pair of thresholds of a grid
to it.

Development questions: ARCD's train split, asked of the pooled index (answerable: the paragraph is
there) and of the news corpus alone (unanswerable), and the odd lines of
benchmarks/data/noanswer_after_2018.txt (events after the corpus's last article, asked of the news
corpus). Held out: ARCD's test split the same way and the even lines. The pair chosen on the
development questions is the one that flags or refuses the most unanswerable questions while
answering (not refusing) at least `--answer` of the answerable ones and flagging at most
`--max-low` of them; the held-out figures are measured at that pair only. Targets (issue 16): on
the held-out questions, ≥ 95% of answerable ones answered, ≥ 50% of unanswerable ones refused or
flagged, ≤ 20% of answerable ones flagged.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from benchmarks import qa_data
from benchmarks.cached import article_names, cached_dbs, engine_over
from benchmarks.eval import DEFAULT_CACHE, DEFAULT_CORPUS, DEFAULT_QA
from retrieval import confidence, segmentfile
from retrieval.analysis import analyze_query
from retrieval.engine import FULL_COVERAGE, RetrievalConfig, SearchEngine

SPLITS = DEFAULT_QA.parent
AFTER_2018 = Path(__file__).resolve().parent / "data" / "noanswer_after_2018.txt"
REFUSE_GRID = (0.0, 0.02, 0.04, 0.06, 0.08, 0.10, 0.12, 0.14, 0.17)
LOW_GRID = tuple(round(x, 2) for x in np.arange(0.0, 0.72, 0.02))


@dataclass(frozen=True)
class Asked:
    """What the three-way decision needs of each question of a set, as arrays."""

    early: np.ndarray  # refused before the model (no terms, unknown words, weak coverage)
    p: np.ndarray  # the model's probability (1.0 when every word is in the best passage)
    year: np.ndarray  # names a year no passage mentions
    gold_top3: np.ndarray  # the gold article among the first three (answerable sets)

    def outcomes(self, refuse: float, low: float) -> tuple[np.ndarray, np.ndarray]:
        refused = self.early | (self.p < refuse)
        flagged = ~refused & (self.year | (self.p < low))
        return refused, flagged


def ask(engine: SearchEngine, questions: Sequence[tuple[str, str | None]], names: dict[int, str]) -> Asked:
    index = engine.index
    assert index is not None
    early, p, year, gold_top3 = [], [], [], []
    for text, gold in questions:
        terms = analyze_query(text)
        expanded = engine.expand(index, terms) if terms else {}
        evidence = []
        if expanded:
            query_terms, weights, evidence = engine.leading_evidence(index, terms, expanded,
                                                                     engine.config.rerank_depth)
        refused = not evidence or evidence[0].article_coverage < engine.config.min_coverage
        early.append(refused)
        if refused or evidence[0].passage_coverage >= FULL_COVERAGE:
            p.append(1.0)
        else:
            p.append(confidence.answerable_probability(
                confidence.features(index, terms, query_terms, weights, evidence)))
        year.append(bool(terms) and confidence.names_unseen_year(index, terms))
        top = [names[int(index.article_ids[e.passage])] for e in evidence[:3]]
        gold_top3.append(gold in top)
    return Asked(np.array(early, bool), np.array(p), np.array(year, bool), np.array(gold_top3, bool))


def shares(answerable: Asked, unanswerable: Asked, refuse: float, low: float) -> dict[str, float]:
    ref_a, low_a = answerable.outcomes(refuse, low)
    ref_u, low_u = unanswerable.outcomes(refuse, low)
    return {"answered": float(1 - ref_a.mean()), "gold_shown": float((answerable.gold_top3 & ~ref_a).mean()),
            "answerable_low": float(low_a.mean()), "unanswerable_caught": float((ref_u | low_u).mean()),
            "unanswerable_refused": float(ref_u.mean())}


def concat(*sets: Asked) -> Asked:
    return Asked(*(np.concatenate([getattr(s, f) for s in sets]) for f in ("early", "p", "year", "gold_top3")))


def after_2018(path: Path) -> tuple[list[str], list[str]]:
    lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
    questions = [line for line in lines if line and not line.startswith("#")]
    return questions[0::2], questions[1::2]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--noanswer", type=Path, default=AFTER_2018, help="post-corpus questions, one a line")
    parser.add_argument("--answer", type=float, default=0.96, help="least share of dev answerable answered")
    parser.add_argument("--max-low", type=float, default=0.18, help="most share of dev answerable flagged low")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    config = RetrievalConfig()
    dbs = cached_dbs(args.cache_dir, args.corpus, DEFAULT_QA, config)
    engines, names = {}, {}
    for task in ("arcd", "noanswer"):
        index_file = dbs[task].with_name(dbs[task].name + ".index.npz")
        if not index_file.exists():
            parser.error(f"{index_file} missing: run `python -m benchmarks.eval` (default corpus options) first")
        engines[task] = engine_over(segmentfile.load_index(index_file), config)
        names[task] = article_names(dbs[task])
    dev_after, held_after = after_2018(args.noanswer)
    sets: dict[str, Asked] = {}
    # The pooled index holds ARCD's paragraphs under the ids load_squad gives them in the whole file.
    full_id = {a["text"]: a["id"] for a in qa_data.load_squad(DEFAULT_QA)[0]}
    for split in ("train", "test"):
        paragraphs, questions = qa_data.load_squad(SPLITS / f"arcd-{split}.json")
        to_full = {a["id"]: full_id.get(a["text"]) for a in paragraphs}
        sets[split, "answerable"] = ask(engines["arcd"], [(q.text, to_full[q.gold]) for q in questions],
                                        names["arcd"])
        sets[split, "unanswerable"] = ask(engines["noanswer"], [(q.text, None) for q in questions],
                                          names["noanswer"])
    sets["dev", "after"] = ask(engines["noanswer"], [(q, None) for q in dev_after], names["noanswer"])
    sets["held", "after"] = ask(engines["noanswer"], [(q, None) for q in held_after], names["noanswer"])
    dev_a, dev_u = sets["train", "answerable"], concat(sets["train", "unanswerable"], sets["dev", "after"])
    held_a, held_u = sets["test", "answerable"], concat(sets["test", "unanswerable"], sets["held", "after"])

    best = None
    for refuse in REFUSE_GRID:
        for low in LOW_GRID:
            if low < refuse:
                continue
            d = shares(dev_a, dev_u, refuse, low)
            if d["answered"] >= args.answer and d["answerable_low"] <= args.max_low:
                key = (d["unanswerable_caught"], d["answered"], -d["answerable_low"])
                if best is None or key > best[0]:
                    best = (key, refuse, low)
    if best is None:
        print("no pair of thresholds meets --answer and --max-low on the development questions")
        return 1
    _, refuse, low = best
    print(f"development: {len(dev_a.p)} answerable (ARCD train), {len(dev_u.p)} unanswerable "
          f"({len(sets['train', 'unanswerable'].p)} ARCD train against the news, {len(dev_after)} after 2018)")
    print(f"held out:    {len(held_a.p)} answerable (ARCD test), {len(held_u.p)} unanswerable "
          f"({len(sets['test', 'unanswerable'].p)} ARCD test against the news, {len(held_after)} after 2018)")
    print(f"chosen on development: min_confidence (refuse) = {refuse:.2f}, low_confidence (flag) = {low:.2f}\n")
    header = (f"{'refuse':>7}{'flag':>6} | {'answered':>9}{'gold top3':>10}{'ans. low':>9}{'unans. caught':>14}"
              f"{'refused':>8} | held out: {'answered':>9}{'gold top3':>10}{'ans. low':>9}{'unans. caught':>14}"
              f"{'refused':>8}{'after-2018 caught':>18}")
    print(header)
    curve = []
    for flag in LOW_GRID[::3] if low in LOW_GRID[::3] else sorted(set(LOW_GRID[::3]) | {low}):
        if flag < refuse:
            continue
        d, h = shares(dev_a, dev_u, refuse, flag), shares(held_a, held_u, refuse, flag)
        after = sets["held", "after"].outcomes(refuse, flag)
        caught_after = float((after[0] | after[1]).mean())
        curve.append({"refuse": refuse, "flag": flag, "dev": d, "held": h, "held_after_caught": caught_after})
        mark = "  <- chosen" if flag == low else ""
        print(f"{refuse:>7.2f}{flag:>6.2f} | {d['answered']:>9.3f}{d['gold_shown']:>10.3f}{d['answerable_low']:>9.3f}"
              f"{d['unanswerable_caught']:>14.3f}{d['unanswerable_refused']:>8.3f} | held out: {h['answered']:>9.3f}"
              f"{h['gold_shown']:>10.3f}{h['answerable_low']:>9.3f}{h['unanswerable_caught']:>14.3f}"
              f"{h['unanswerable_refused']:>8.3f}{caught_after:>18.3f}{mark}")
    held = shares(held_a, held_u, refuse, low)
    print(f"\nheld out at the chosen pair: answered {held['answered']:.3f} (target ≥ 0.95), unanswerable refused "
          f"or flagged {held['unanswerable_caught']:.3f} (≥ 0.50), answerable flagged {held['answerable_low']:.3f} "
          "(≤ 0.20)")
    if args.json:
        args.json.write_text(json.dumps({"refuse": refuse, "low": low, "held": held, "curve": curve}, indent=1),
                             encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
