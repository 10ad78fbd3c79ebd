"""Where `query.rank`'s time goes: the mean per question of each of its steps, in the answer path.

Opens a database (`--db`), asks `--warmup` questions untimed, then asks `--questions` more through
`SearchEngine.search(q, k=3)` (as `benchmarks.answer_path` does, the same questions) with a timer
around each step of ranking: analysis, term ids, expansion, the top-k kernel (`ViewsKernel.leading`),
the question's words (`query_terms`), re-ranking (`RerankViews.evidence`, or `rerank_parts` when the
one-call kernel does not apply), the no-answer check (`judge`, of which `features`), and `rank` and
`search` whole. Steps nest (the kernel inside `leading_evidence`, inside `rank`): a line is its step's
whole time, callees included. Each timer adds ~0.2 µs a call; the process is pinned to one core.

The means are of one run in one process: on a shared machine compare two versions with
`search_ab --paired`, not with two runs of this.

    .venv/bin/python -m benchmarks.lab.rank_steps --db /tmp/r5/news.db
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks import answer_path
from benchmarks.lab import timers
from retrieval import confidence, query, rerank, topk
from retrieval.engine import RetrievalConfig, SearchEngine

# (owner, attribute, label): what is timed, module functions looked up at call time by `query`.
STEPS: tuple[tuple[Any, str, str], ...] = (
    (query, "analyze_query", "analysis"),
    (query, "term_ids", "term ids"),
    (query, "expand", "expansion"),
    (topk.ViewsKernel, "leading", "top-k kernel (ViewsKernel.leading)"),
    (query, "query_terms", "question words (query_terms)"),
    (rerank.RerankViews, "evidence", "re-ranking (RerankViews.evidence)"),
    (rerank, "rerank_parts", "re-ranking (rerank_parts)"),
    (query, "judge", "no-answer check (judge)"),
    (confidence, "features", "  of which the features"),
    (query, "leading_evidence", "leading_evidence"),
    (query, "rank", "rank"),
)


async def measure(db: Path, questions: Sequence[str], warmup: int) -> dict[str, float]:
    """Mean µs per question of each step (and of the whole search) over questions[warmup:]."""
    engine = await SearchEngine.open(db, RetrievalConfig())
    totals: dict[str, float] = defaultdict(float)
    originals = [(owner, name, getattr(owner, name)) for owner, name, _ in STEPS]
    try:
        for q in questions[:warmup]:
            await engine.search(q, k=3)
        if engine.story_map is not None:
            await engine.story_map.settled()
        for owner, name, label in STEPS:
            timers.wrap(owner, name, totals, label)
        for q in questions[warmup:]:
            start = time.perf_counter()
            await engine.search(q, k=3)
            totals["search (k=3)"] += time.perf_counter() - start
    finally:
        for owner, name, original in originals:
            setattr(owner, name, original)
        await engine.close()
    asked = max(len(questions) - warmup, 1)
    return {label: totals[label] / asked * 1e6 for _, _, label in STEPS if label in totals} | {
        "search (k=3)": totals["search (k=3)"] / asked * 1e6}


def main(argv: Sequence[str] | None = None) -> int:
    args, _, passages, questions = answer_path.lab_inputs(__doc__.split("\n\n")[0], argv, k=False)
    means = asyncio.run(measure(args.db, questions, args.warmup))
    print(f"query.rank step by step at {passages:,} passages, mean µs a question over {args.questions} "
          f"after {args.warmup} warm-up ones:")
    for label, us in means.items():
        print(f"  {label:40s} {us:8.1f}")
    print(json.dumps({"passages": passages, "questions": args.questions, "mean_us": means}, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
