"""Which word forms an analysis chain maps to one term, measured on a corpus's vocabulary.

    python -m benchmarks.conflation                      # ANT, first 8,000 articles, forms seen ≥ 5 times
    python -m benchmarks.conflation --corpus other.jsonl.gz --articles 0 --min-count 3 --json out.json

A reader treats some word forms as one word: a noun with and without the article (قوات /
القوات), with a clitic conjunction or preposition in front (وقوات, بالقوات, للقوات), and a sound
plural beside its singular (حكومة / حكومات, مصري / مصريون). The families are found in the
vocabulary itself (both forms must occur), and a pair counts as conflated when both forms give
the same non-empty terms. Three chains side by side: the project's indexing chain
(`retrieval.analysis.analyze`), the Lucene ArabicAnalyzer port (`benchmarks.lucene`) and plain
Snowball (PyStemmer's Arabic stemmer on the token).

Conflating more is only half of it: a chain that cut every word to its first two letters would
conflate everything. Over-stemming is measured on `OVER_STEMMING`, pairs of frequent words with
different roots and meanings that share letters a stemmer may take for affixes (a root ف, ب, و,
س or ت read as a clitic, a final ات/ان/ين that belongs to the stem). The list was built by
taking the pairs that any of the chains merges among the 4,000 most frequent forms of the ANT
vocabulary, plus the classic light-stemming traps, and keeping those that a reader would never
confuse (the gloss says why): the share of the list a chain merges is its over-stemming rate.
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import Stemmer

from benchmarks import lucene
from retrieval import analysis, stopwords

REPO = Path(__file__).resolve().parent.parent
DEFAULT_CORPUS = REPO.parent / "shared" / "corpora" / "ant-multisource.jsonl.gz"

# (word, word, why they are different words). Both spelled as the chain's pre-stem normaliser
# leaves them (hamza alef and taa marbuta kept).
OVER_STEMMING: tuple[tuple[str, str, str], ...] = (
    # a root letter read as a clitic (و ف ب ل ك س) or the article
    ("وزارة", "زار", "ministry (root و-ز-ر) / visited (ز-و-ر)"),
    ("وزير", "زير", "minister (و-ز-ر) / womaniser, jar (ز-ي-ر)"),
    ("فريق", "ريق", "team (ف-ر-ق) / saliva (ر-ي-ق)"),
    ("بيان", "يان", "statement (ب-ي-ن) / the name Yan"),
    ("سيارة", "يارا", "car (س-ي-ر) / the name Yara"),
    ("سياسة", "ياسة", "politics (س-و-س) / the name Yasa"),
    ("بلد", "لد", "country (ب-ل-د) / Lod, the town"),
    ("ولد", "لد", "boy, born (و-ل-د) / Lod"),
    ("كتاب", "تاب", "book (ك-ت-ب) / repented (ت-و-ب)"),
    ("فيلم", "يلم", "film / gathers (ل-م-م)"),
    ("فوز", "وز", "victory (ف-و-ز) / geese"),
    ("بحر", "حر", "sea (ب-ح-ر) / free, heat (ح-ر-ر)"),
    ("بحث", "حث", "research (ب-ح-ث) / urged (ح-ث-ث)"),
    ("وحدة", "حدة", "unit (و-ح-د) / sharpness (ح-د-د)"),
    ("لجنة", "جنة", "committee (ل-ج-ن) / paradise (ج-ن-ن)"),
    ("فرق", "رق", "teams, difference (ف-ر-ق) / slavery (ر-ق-ق)"),
    ("بنك", "نك", "bank / the syllable نك"),
    ("سلام", "لام", "peace (س-ل-م) / blamed (ل-و-م)"),
    ("سكان", "كان", "inhabitants (س-ك-ن) / was (ك-و-ن)"),
    ("لبنان", "بنان", "Lebanon / fingertips"),
    ("كبير", "بير", "big (ك-ب-ر) / well, the name Pierre"),
    ("وطن", "طن", "homeland (و-ط-ن) / ton"),
    ("وقت", "قت", "time (و-ق-ت) / clover"),
    ("بكين", "كين", "Beijing / Kane"),
    ("كمال", "مال", "the name Kamal / money"),
    ("والد", "الد", "father / fiercest (ل-د-د)"),
    ("وافق", "افق", "agreed (و-ف-ق) / horizon (ا-ف-ق)"),
    ("فلاح", "لاح", "farmer (ف-ل-ح) / appeared (ل-و-ح)"),
    ("بريد", "ريد", "mail (ب-ر-د) / the name Reed"),
    ("الهام", "هام", "inspiration (ل-ه-م) / important (ه-م-م)"),
    # a final letter of the stem read as a suffix
    ("ايران", "اير", "Iran / the syllable اير"),
    ("عمان", "عم", "Oman, Amman / uncle"),
    ("سودان", "سود", "Sudan / black (plural)"),
    ("لبنان", "لبن", "Lebanon / milk, yoghurt"),
    ("انسان", "انس", "human / the name Anas"),
    ("امين", "ام", "secretary, trustworthy / mother"),
    ("حسين", "حس", "Hussein / sense"),
    ("يمين", "يم", "right (side) / sea"),
    ("سنين", "سن", "years / age, tooth"),
    ("زيتون", "زيت", "olives / oil"),
    ("كانون", "كان", "December-January / was"),
    ("ملك", "مل", "king / bored"),
    ("بيروت", "بيرو", "Beirut / Peru"),
    ("ثابت", "ثاب", "fixed (ث-ب-ت) / returned (ث-و-ب)"),
    ("صفات", "صف", "qualities (و-ص-ف) / row, class (ص-ف-ف)"),
    ("حياته", "حي", "his life (ح-ي-ي) / neighbourhood (ح-و-ي)"),
    ("انتهاك", "انتهى", "violation (ن-ه-ك) / ended (ن-ه-ي)"),
    ("تحرك", "تحري", "movement (ح-ر-ك) / investigation (ح-ر-ي)"),
    ("اتجاه", "اتجار", "direction (و-ج-ه) / trafficking (ت-ج-ر)"),
    ("مارك", "مارتن", "Mark / Martin"),
    ("تحت", "التحتية", "under / infrastructure"),
    ("مقابل", "مقابلة", "opposite, in exchange / interview"),
    ("علي", "عل", "Ali / perhaps"),
    ("موسى", "موس", "Moses, Musa / razor"),
    ("جنيه", "جني", "pound (currency) / harvest (ج-ن-ي)"),
    ("إعدادات", "أعداد", "settings (ع-د-د, form IV) / numbers"),
    ("دين", "د", "religion / the letter د"),
    ("بات", "ب", "became / the letter ب"),
    ("مات", "م", "died / the letter م"),
)


def read_texts(path: Path, articles: int) -> Iterator[str]:
    """Title and text of the first `articles` records (0: all) of a JSONL(.gz) corpus."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as f:
        for n, line in enumerate(f):
            if articles and n >= articles:
                break
            record = json.loads(line)
            yield f"{record.get('title') or ''}\n{record.get('text') or ''}"


def vocabulary(texts: Iterator[str], min_count: int) -> Counter[str]:
    """Word forms (as the chain's normaliser leaves them before stemming) seen at least `min_count` times."""
    table = analysis._PRE_STEM_TABLE
    counts: Counter[str] = Counter()
    for text in texts:
        counts.update(analysis._TOKEN_RE.findall(text.translate(table).lower()))
    arabic = re.compile("[\u0621-\u064a]+")
    return Counter({w: c for w, c in counts.items() if c >= min_count and arabic.fullmatch(w)})


ARTICLE = "ال"
CLITICS = ("و", "ف", "ب", "ل", "ك")
CLITIC_ARTICLES = ("وال", "فال", "بال", "كال", "لل")


def families(vocab: Counter[str]) -> dict[str, list[tuple[str, str]]]:
    """Pairs of forms a reader reads as one word, both in `vocab`, by family."""
    out: dict[str, list[tuple[str, str]]] = {
        "X / ال+X": [], "Xات / ال+Xات": [], "clitics (و ف ب ل ك, وال بال فال كال لل)": [],
        "sound plural / singular (ون ين ات)": []}
    for word in vocab:
        # Function words are dropped, not conflated: a pair of them says nothing about stemming.
        if len(word) < 3 or word.startswith(ARTICLE) or stopwords.stop_form(word) in stopwords.LUCENE_STOPWORDS:
            continue
        if ARTICLE + word in vocab:
            out["X / ال+X"].append((word, ARTICLE + word))
            if word.endswith("ات") and len(word) >= 5:
                out["Xات / ال+Xات"].append((word, ARTICLE + word))
        for prefix in CLITICS + CLITIC_ARTICLES:
            if prefix + word in vocab:
                out["clitics (و ف ب ل ك, وال بال فال كال لل)"].append((word, prefix + word))
        singulars = []
        if word.endswith(("ون", "ين")) and len(word) >= 5:
            singulars.append(word[:-2])
        if word.endswith("ات") and len(word) >= 5:
            singulars += [word[:-2] + "ة", word[:-2]]
        for singular in singulars:
            if singular in vocab:
                out["sound plural / singular (ون ين ات)"].append((singular, word))
    return out


def chains() -> dict[str, Callable[[str], tuple[str, ...]]]:
    stem = Stemmer.Stemmer("arabic").stemWord
    return {
        "project": lambda w: tuple(analysis.analyze(w)),
        "lucene": lambda w: tuple(lucene.analyze(w)),
        "snowball": lambda w: (stem(w),) if stem(w) else (),
    }


def conflated(terms: Callable[[str], tuple[str, ...]], a: str, b: str) -> bool:
    ta = terms(a)
    return bool(ta) and ta == terms(b)


def measure(vocab: Counter[str], systems: dict[str, Callable[[str], tuple[str, ...]]]) -> dict:
    result: dict = {"vocabulary": len(vocab), "families": {}, "over_stemming": {}, "misses": {}}
    for name, pairs in families(vocab).items():
        row: dict = {"pairs": len(pairs)}
        for system, terms in systems.items():
            missed = [(a, b) for a, b in pairs if not conflated(terms, a, b)]
            row[system] = round(1 - len(missed) / len(pairs), 4) if pairs else None
            missed.sort(key=lambda p: -min(vocab[p[0]], vocab[p[1]]))
            result["misses"].setdefault(system, {})[name] = [f"{a}/{b}→{' '.join(terms(a))}|{' '.join(terms(b))}"
                                                             for a, b in missed[:15]]
        result["families"][name] = row
    for system, terms in systems.items():
        merged = [f"{a}/{b}" for a, b, _ in OVER_STEMMING if conflated(terms, a, b)]
        result["over_stemming"][system] = {"rate": round(len(merged) / len(OVER_STEMMING), 4), "merged": merged}
    result["over_stemming_pairs"] = len(OVER_STEMMING)
    return result


def report(result: dict, systems: list[str], show_misses: bool) -> str:
    lines = [f"vocabulary: {result['vocabulary']:,} forms", "",
             f"{'family':<44}{'pairs':>7}" + "".join(f"{s:>10}" for s in systems)]
    for name, row in result["families"].items():
        lines.append(f"{name:<44}{row['pairs']:>7}" + "".join(
            f"{row[s]:>10.3f}" if row[s] is not None else f"{'-':>10}" for s in systems))
    lines.append(f"{'over-stemming (' + str(result['over_stemming_pairs']) + ' distinct-word pairs)':<51}"
                 + "".join(f"{result['over_stemming'][s]['rate']:>10.3f}" for s in systems))
    for s in systems:
        lines.append(f"  {s} merges: {' '.join(result['over_stemming'][s]['merged'])}")
    if show_misses:
        for s in systems:
            for name, missed in result["misses"][s].items():
                lines.append(f"  {s} misses {name}: {' '.join(missed)}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS, help="JSONL(.gz), records with title/text")
    parser.add_argument("--articles", type=int, default=8000, help="first N records (0: all)")
    parser.add_argument("--min-count", type=int, default=5, help="forms seen fewer times are left out")
    parser.add_argument("--misses", action="store_true", help="list the most frequent pairs each chain misses")
    parser.add_argument("--json", type=Path, help="write the result here")
    args = parser.parse_args(argv)
    if not args.corpus.exists():
        parser.error(f"--corpus {args.corpus}: no such file")
    vocab = vocabulary(read_texts(args.corpus, args.articles), args.min_count)
    systems = chains()
    result = measure(vocab, systems)
    result.update(corpus=str(args.corpus), articles=args.articles, min_count=args.min_count)
    print(report(result, list(systems), args.misses))
    if args.json:
        args.json.write_text(json.dumps(result, ensure_ascii=False, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
