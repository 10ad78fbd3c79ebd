"""Followed topics against new articles: time to match one article with 10,000 topics followed.

Topics are 1-3 words taken from the titles of random articles of the shared corpus (what readers
follow: names, places, events), analysed like questions; each is filed under its rarest term
(document frequencies from the corpus). Every article of a sample is then matched: its terms
and lead as the alert service reads them (analysed title and body; title and first paragraph).
The same matches by checking every topic (no reverse index) are timed beside it as the baseline
and must agree.

    .venv/bin/python -m benchmarks.percolator [--topics 10000] [--articles 2000] [--corpus PATH]
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import statistics
import time
from collections import Counter
from pathlib import Path

import numpy as np

from retrieval.analysis import analyze, analyze_query
from retrieval.percolator import Percolator, Topic, text_terms

DEFAULT_CORPUS = Path(__file__).resolve().parent.parent.parent / "shared" / "corpora" / "ant-multisource.jsonl.gz"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--topics", type=int, default=10_000)
    p.add_argument("--articles", type=int, default=2_000)
    p.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    args = p.parse_args()
    rng = random.Random(15)
    with gzip.open(args.corpus, "rt", encoding="utf-8") as f:
        corpus = [json.loads(line) for line in f]
    sample = rng.sample(corpus, min(len(corpus), 5000))
    df: Counter[str] = Counter()
    for a in sample:
        df.update(set(analyze(a.get("title", "") + "\n" + a["text"])))
    topics = []
    while len(topics) < args.topics:
        words = analyze_query(rng.choice(corpus).get("title", ""))
        if not words:
            continue
        n = rng.choice((1, 2, 2, 3))
        start = rng.randrange(max(len(words) - n + 1, 1))
        topics.append(Topic(len(topics) + 1, frozenset(words[start:start + n])))
    perc = Percolator(lambda t: df.get(t, 0))
    for t in topics:
        perc.add(t)
    articles = [text_terms(a.get("title", ""), a["text"]) for a in rng.sample(corpus, args.articles)]
    times, naive_times, matched = [], [], 0
    for terms, lead in articles:
        # CPU time (the machine is shared: wall time there measures the neighbours too).
        started = time.process_time()
        found = perc.match(terms, lead)
        times.append(time.process_time() - started)
        started = time.process_time()
        naive = [t for t in topics if t.terms <= terms and not t.terms.isdisjoint(lead)]
        naive_times.append(time.process_time() - started)
        assert [t.id for t in found] == [t.id for t in naive]
        matched += len(found)
    ms = np.array(times) * 1000
    naive_ms = np.array(naive_times) * 1000
    per_article = statistics.fmean(len(t) for t, _ in articles)
    print(f"{len(topics):,} topics, {len(articles):,} articles ({per_article:.0f} distinct terms each), "
          f"{matched / len(articles):.1f} topics matched an article on average")
    print(f"reverse index, CPU: median {np.median(ms):.3f} ms, p99 {np.percentile(ms, 99):.3f} ms, "
          f"max {ms.max():.3f} ms per article")
    print(f"every topic checked (baseline), CPU: median {np.median(naive_ms):.3f} ms, "
          f"p99 {np.percentile(naive_ms, 99):.3f} ms ({np.median(naive_ms) / np.median(ms):.0f}x the median)")


if __name__ == "__main__":
    main()
