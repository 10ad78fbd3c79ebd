"""Do everyday question frames cost answers? Short topics asked bare and wrapped in each frame.

    python -m benchmarks.frames                                  # the whole news corpus, 300 topics
    python -m benchmarks.frames --articles 3000 --topics 500 --corpus news.jsonl.gz
    python -m benchmarks.frames --keep-frames                    # the same without frame stripping

A topic is the first two or three words of a news article's title that the index knows (a
headline opens with its topic: what a reader who saw it would type), asked of an index of the articles
*without* their titles, as the known-item task of benchmarks/eval.py does; the gold article is
the title's own. Each topic is asked bare and inside every frame of `FRAMES` (the issue's list),
through `SearchEngine.search`, exactly what the bot calls. Per frame: the share of questions
refused (no answer) and hit@3, beside the bare topic's; the target is at most +2 points of
refusals and at most -0.03 hit@3 per frame.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import tempfile
from pathlib import Path

from benchmarks import qa_data
from benchmarks.eval import DEFAULT_CORPUS, build_db
from retrieval import analysis, normalize
from retrieval.engine import RetrievalConfig, SearchEngine

FRAMES = ("ماذا حدث في {}؟", "ما قصة {}؟", "هل صحيح أن {}؟", "ما الجديد بخصوص {}؟", "ما آخر أخبار {}؟",
          "أريد أن أعرف عن {}", "ماذا قال {}؟", "ماذا قالت {}؟", "كيف رد {}؟")


def topics(engine: SearchEngine, articles: list[dict], n: int, seed: int) -> list[tuple[str, str]]:
    """(topic, gold article id): the first 2 or 3 words of a title that the index knows, as a headline opens."""
    index = engine.index
    assert index is not None
    rng = random.Random(seed)
    out = []
    for article in rng.sample([a for a in articles if str(a.get("title") or "").strip()], len(articles)):
        words = []
        for word, _, _ in normalize.tokenize_with_spans(article["title"]):
            terms = analysis.analyze_query(word)
            if len(terms) == 1 and terms[0] in index.vocabulary and not word.isdigit():
                words.append(word)
        size = 2 + len(out) % 2
        if len(words) < size:
            continue
        out.append((" ".join(words[:size]), article["id"]))
        if len(out) == n:
            break
    return out


async def measure(db: Path, articles: list[dict], n: int, seed: int) -> dict:
    engine = await SearchEngine.open(db, RetrievalConfig())
    try:
        asked = topics(engine, articles, n, seed)
        rows = {}
        for frame in ("{}", *FRAMES):
            refused = hit3 = 0
            for topic, gold in asked:
                result = await engine.search(frame.format(topic), k=3)
                refused += result.no_answer is not None
                hit3 += any(h.article_id == gold for h in result.hits)
            rows[frame] = {"refused": refused / len(asked), "hit@3": hit3 / len(asked)}
        return {"topics": len(asked), "examples": asked[:5], "rows": rows}
    finally:
        await engine.close()


def report(result: dict) -> str:
    bare = result["rows"]["{}"]
    lines = [f"{result['topics']} topics (2-3 title words), index without titles", "",
             f"{'frame':<28}{'refused':>9}{'Δ':>8}{'hit@3':>8}{'Δ':>8}  target met"]
    for frame, row in result["rows"].items():
        d_ref, d_hit = row["refused"] - bare["refused"], row["hit@3"] - bare["hit@3"]
        ok = "" if frame == "{}" else ("yes" if d_ref <= 0.02 + 1e-9 and d_hit >= -0.03 - 1e-9 else "NO")
        name = "(bare topic)" if frame == "{}" else frame.replace("{}", "…")
        lines.append(f"{name:<28}{row['refused']:>9.3f}{d_ref:>+8.3f}{row['hit@3']:>8.3f}{d_hit:>+8.3f}  {ok}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS, help="JSONL(.gz) news articles with titles")
    parser.add_argument("--articles", type=int, default=0, help="seeded sample of the corpus (0: all of it)")
    parser.add_argument("--topics", type=int, default=300)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep-frames", action="store_true", help="measure without dropping question frames")
    parser.add_argument("--json", type=Path, help="write the result here")
    args = parser.parse_args(argv)
    if not args.corpus.exists():
        parser.error(f"--corpus {args.corpus}: no such file")
    if args.keep_frames:
        analysis._FRAME_TERMS = ()
    articles = qa_data.load_corpus(args.corpus, args.articles or None, seed=args.seed)
    with tempfile.TemporaryDirectory(prefix="newsbot-frames-") as tmp:
        jsonl = qa_data.write_jsonl(Path(tmp) / "untitled.jsonl", qa_data.without_titles(articles))
        db = Path(tmp) / "untitled.db"
        asyncio.run(build_db(db, [jsonl], RetrievalConfig()))
        result = asyncio.run(measure(db, articles, args.topics, args.seed))
    result["keep_frames"] = args.keep_frames
    print(report(result))
    if args.json:
        args.json.write_text(json.dumps(result, ensure_ascii=False, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
