"""The percolator: followed topics matched against articles through a reverse index of their terms."""

from __future__ import annotations

from retrieval.analysis import analyze_query
from retrieval.percolator import Percolator, Topic, text_terms


def topic(n: int, text: str, sources: frozenset[str] = frozenset()) -> Topic:
    return Topic(n, frozenset(analyze_query(text)), sources)


TITLE = "زلزال بقوة 6 درجات يضرب غرب تركيا"
BODY = ("ضرب زلزال بقوة ست درجات ولاية إزمير في غرب تركيا صباح اليوم، وقالت إدارة الكوارث إن فرق الإنقاذ "
        "انتشرت في المناطق المتضررة.\nوفي سياق آخر، أعلنت الحكومة اليونانية استعدادها لإرسال مساعدات.")


def test_all_terms_needed_and_one_in_the_lead() -> None:
    p = Percolator()
    p.add(topic(1, "زلزال تركيا"))
    p.add(topic(2, "زلزال اليابان"))
    p.add(topic(3, "الحكومة اليونانية"))  # only in the second paragraph: mentioned in passing
    p.add(topic(4, "إزمير"))
    p.add(topic(5, "زلزال تركيا", frozenset({"bbc"})))
    terms, lead = text_terms(TITLE, BODY)
    assert [t.id for t in p.match(terms, lead, "skynews")] == [1, 4]
    assert [t.id for t in p.match(terms, lead, "bbc")] == [1, 4, 5]
    p.remove(1)
    p.remove(99)  # unknown: nothing to do
    assert [t.id for t in p.match(terms, lead, "skynews")] == [4]
    assert len(p) == 4


def test_each_topic_filed_under_its_rarest_term() -> None:
    df = {"زلزال": 500, "تركي": 2000}
    p = Percolator(lambda t: df.get(t, 0))
    t = topic(1, "زلزال تركيا")
    p.add(t)
    assert list(p._by_term) == [min(t.terms, key=lambda x: (df.get(x, 0), x))]
