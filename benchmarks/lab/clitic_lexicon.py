"""Build retrieval/resources/clitic_exceptions.txt: where a word-initial و ف ب ك ل is (not) a clitic.

    python -m benchmarks.lab.clitic_lexicon                   # ANT, all but the first 8,000 articles
    python -m benchmarks.lab.clitic_lexicon --corpus news.jsonl.gz --skip 0 --out /tmp/exceptions.txt

`stemmer.clitic_default` reads و/ف as the conjunction and ب/ك/ل as part of the word. A corpus
says where that is wrong. For a form W = c + Y seen at least `--min-count` times:

* c is a root letter if the article stands before it (الوزارة, الفريق, البيان: an article
  cannot precede a clitic), or if a preposition does (لبكين, ببيروت: prepositions do not stack,
  so بكين is one word), in more than 1 in 20 of W's occurrences;
* otherwise c is a clitic if Y is a word in its own right, seen bare or with the article at
  least 1/8 as often as W (وقوات beside قوات/القوات, بقوة beside قوة/القوة), and is part of
  the word if not (بريطانيا, فرنسا, لبنان: no ريطانيا, رنسا, بنان).

Forms whose evidence agrees with the default are left out; و/ف before a hamza alef or the
article, and و/ف before a bare alef, keep the default (the evidence cannot separate وافق "agreed"
from و + افق "horizon"), so only forms of the five letters followed by another letter are listed.
The first 8,000 articles, the sample `benchmarks.conflation` measures on, are skipped by default,
so the benchmark measures the list on forms it was not built from.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

from benchmarks.conflation import DEFAULT_CORPUS, read_texts
from retrieval import analysis, stemmer, stopwords

OUT = Path(analysis.__file__).parent / "resources" / "clitic_exceptions.txt"
ROOT_SHARE = 20   # c is a root letter if ال+W or a preposition+W is seen in > 1/ROOT_SHARE of W's uses
WORD_SHARE = 8    # Y is a word if seen (bare or with ال) at least 1/WORD_SHARE as often as W


def evidence_says_clitic(word: str, counts: Counter[str]) -> bool | None:
    """What the corpus says about `word`'s first letter: True clitic, False root letter, None no say."""
    first, rest = word[0], word[1:]
    if first in stemmer.CONJUNCTIONS and (rest[0] in "ا" + stopwords._HAMZA_ALEFS):
        return None
    if word.startswith("لل"):
        return None  # ل + ال, decided by rule
    n = counts[word]
    article = counts["ال" + word]
    # ل + لX reads as لل + X (ل + ال + X), so it says nothing about لX.
    preposition = sum(counts[p + word] for p in stemmer.PREPOSITIONS if not (p == "ل" == first))
    if ROOT_SHARE * max(article, preposition) > n:
        return False
    return WORD_SHARE * (counts[rest] + counts["ال" + rest]) >= n


def exceptions(counts: Counter[str], min_count: int) -> list[str]:
    out = []
    for word, n in counts.items():
        if n < min_count or len(word) < 4 or word[0] not in stemmer.CONJUNCTIONS + stemmer.PREPOSITIONS:
            continue
        if not all("\u0621" <= c <= "\u064a" for c in word):
            continue
        says = evidence_says_clitic(word, counts)
        if says is not None and says != stemmer.clitic_default(word):
            out.append(word)
    return sorted(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS, help="JSONL(.gz), records with title/text")
    parser.add_argument("--skip", type=int, default=8000, help="leave out the first N records")
    parser.add_argument("--min-count", type=int, default=3)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    if not args.corpus.exists():
        parser.error(f"--corpus {args.corpus}: no such file")
    table = analysis._PRE_STEM_TABLE
    counts: Counter[str] = Counter()
    for i, text in enumerate(read_texts(args.corpus, 0)):
        if i >= args.skip:
            counts.update(analysis._TOKEN_RE.findall(text.translate(table).lower()))
    words = exceptions(counts, args.min_count)
    header = (f"# Words whose first letter (و ف ب ك ل) is decided against stemmer.clitic_default.\n"
              f"# Built by `python -m benchmarks.lab.clitic_lexicon` from {args.corpus.name} "
              f"(records after the first {args.skip}, forms seen >= {args.min_count} times).\n")
    args.out.write_text(header + "\n".join(words) + "\n", encoding="utf-8")
    print(f"{len(words)} exceptions written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
