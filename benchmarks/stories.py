"""Story grouping: precision and recall on labelled pairs, and the cost per article at 100k articles.

benchmarks/story_pairs.jsonl holds 120 pairs of articles of the shared corpus (ANT multi-source),
each labelled by reading both: `same_text` = one is a copy or a light rewrite of the other (the
same wire text, the same article in two sections, an updated version), what grouping must find;
`same_event` = the same news development, also when written independently (which no text
comparison can find; reported for what it is). 100 pairs were drawn from the LSH candidates of
the whole corpus, stratified by shingle Jaccard (0.1-0.3: 16, 0.3-0.4: 18, 0.4-0.5: 20, 0.5-0.6:
18, 0.6-0.8: 16, 0.8-1: 12), and 20 from pairs of one day, different outlets and three or more
shared title words that LSH does not propose. The sample is stratified, not drawn in proportion
to the corpus: its precision is that of the hard middle band, where the threshold decides.

    .venv/bin/python -m benchmarks.stories [--corpus PATH] [--articles 100000]

The timing run groups every corpus article, then variants of them (sentences rotated, a number
added: other shingles) until `--articles`, and reports the CPU time per article of the last
10,000 (signature, LSH lookup, verification, insertion), with the story index at that size:
one article at a time, then the same articles in ingest's batches (`--batch`, 500), and whether
the two gave every article the same story.
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import resource
import statistics
import time
from datetime import datetime
from pathlib import Path

import numpy as np

from retrieval import stories, storyindex

HERE = Path(__file__).resolve().parent
DEFAULT_CORPUS = HERE.parent.parent / "shared" / "corpora" / "ant-multisource.jsonl.gz"


def stamp(published: str) -> float:
    try:
        return datetime.fromisoformat(published).timestamp()
    except ValueError:
        return float("nan")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    p.add_argument("--pairs", type=Path, default=HERE / "story_pairs.jsonl")
    p.add_argument("--articles", type=int, default=100_000, help="story index size for the timing run (0: skip)")
    p.add_argument("--batch", type=int, default=500, help="articles per batch in the batched timing (ingest's)")
    args = p.parse_args()
    with gzip.open(args.corpus, "rt", encoding="utf-8") as f:
        corpus = [json.loads(line) for line in f]
    by_id = {a["id"]: a for a in corpus}
    pairs = [json.loads(line) for line in args.pairs.read_text(encoding="utf-8").splitlines() if line.strip()]

    def decide(a: dict, b: dict) -> tuple[bool, float, bool]:
        """(published close enough, estimated similarity, one of them too short to judge)."""
        sa = stories.article_signature(a.get("title", ""), a["text"])
        sb = stories.article_signature(b.get("title", ""), b["text"])
        index = storyindex.StoryIndex()
        index.add(a["id"], sa, stamp(a.get("published", "")), a["id"])
        near = index.best_match(sb, stamp(b.get("published", "")), threshold=0.0) is not None
        short = min(len(stories.shingles(x.get("title", ""), x["text"])) for x in (a, b)) < stories.MIN_SHINGLES
        return near, stories.similarity(sa, sb), short

    scored = [(decide(by_id[x["a"]], by_id[x["b"]]), x) for x in pairs]

    def report(label: str, threshold: float) -> str:
        grouped = [near and sim >= (stories.SHORT_THRESHOLD if short else threshold)
                   for (near, sim, short), _ in scored]
        tp = sum(1 for g, (_, x) in zip(grouped, scored, strict=True) if g and x[label])
        fp = sum(1 for g, (_, x) in zip(grouped, scored, strict=True) if g and not x[label])
        pos = sum(x[label] for _, x in scored)
        return f"precision {tp / max(tp + fp, 1):.3f} ({tp}/{tp + fp}), recall {tp / max(pos, 1):.3f} ({tp}/{pos})"

    print(f"{len(pairs)} labelled pairs: {sum(x['same_text'] for x in pairs)} same text, "
          f"{sum(x['same_event'] for x in pairs)} same event")
    for label in ("same_text", "same_event"):
        print(f"  against {label:10}: {report(label, stories.THRESHOLD)}")
    print(f"  settings: {stories.SHINGLE_WORDS}-word shingles of the title and first {stories.LEAD_WORDS} words, "
          f"{stories.PERMUTATIONS} permutations, {stories.BANDS} bands × {stories.ROWS}, "
          f"similarity ≥ {stories.THRESHOLD} (≥ {stories.SHORT_THRESHOLD} under {stories.MIN_SHINGLES} shingles), "
          f"≤ {stories.MAX_DAYS_APART:g} days apart")
    print("  threshold sweep against same_text (chosen on this sample: no held-out estimate):")
    for t in (0.2, 0.25, 0.3, 0.35, 0.4, 0.5):
        print(f"    ≥ {t:.2f}: {report('same_text', t)}")

    if args.articles <= 0:
        return
    rng = random.Random(7)
    items: list[tuple[str, str, str, float]] = []  # key, title, text, time
    while len(items) < args.articles:
        for a in corpus:
            if len(items) >= args.articles:
                break
            text = a["text"]
            if len(items) >= len(corpus):  # a variant: sentences rotated and a number added, so other shingles
                parts = text.split(". ")
                cut = rng.randrange(len(parts)) if len(parts) > 1 else 0
                text = f"{rng.randrange(10**6)} " + ". ".join(parts[cut:] + parts[:cut])
            items.append((f"{a['id']}#{len(items)}", a.get("title", ""), text, stamp(a.get("published", ""))))
    last = max(0, len(items) - 10_000)

    # One article at a time: the specification (signature_and_threshold, best_match, add).
    index = storyindex.StoryIndex()
    times: list[float] = []
    one: list[str] = []
    for n, (key, title, text, ts) in enumerate(items):
        started = time.process_time()
        sig, threshold = stories.signature_and_threshold(title, text)
        match = index.best_match(sig, ts, exclude=key, threshold=threshold)
        index.add(key, sig, ts, match[1] if match else key)
        if n >= last:
            times.append(time.process_time() - started)
        one.append(match[1] if match else key)
    grouped = sum(story != item[0] for story, item in zip(one, items, strict=True))
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"timing: {len(items):,} articles in the story index, {grouped:,} joined an existing story; "
          f"peak RSS of the whole run {rss:,.0f} MiB (the corpus itself included)")
    print(f"  one at a time, CPU per article over the last 10,000: mean {statistics.fmean(times) * 1000:.3f} ms, "
          f"median {statistics.median(times) * 1000:.3f} ms, p99 {np.percentile(times, 99) * 1000:.3f} ms")

    # In ingest's batches (batch_signatures, assign): what ingest runs.
    index = storyindex.StoryIndex()
    batched: list[str] = []
    cpu, timed = 0.0, 0
    for start in range(0, len(items), args.batch):
        chunk = items[start:start + args.batch]
        started = time.process_time()
        sigs, counts = stories.batch_signatures([c[1] for c in chunk], [c[2] for c in chunk])
        batched += index.assign([c[0] for c in chunk], sigs, np.array([c[3] for c in chunk]),
                                stories.thresholds(counts))
        if start >= last:
            cpu += time.process_time() - started
            timed += len(chunk)
    print(f"  in batches of {args.batch}, CPU per article over the last {timed:,} (whole batches):"
          f" {cpu / max(1, timed) * 1e6:.1f} µs; the same stories as one at a time:"
          f" {'yes' if batched == one else 'NO'}")


if __name__ == "__main__":
    main()
