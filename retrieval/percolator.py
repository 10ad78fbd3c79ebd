"""Followed topics matched against new articles: a reverse index of the topics' terms (the percolator idea).

A topic is a set of analysed terms (the question chain of retrieval/analysis.py), optionally
limited to some outlets. It matches an article confidently when every one of its terms is in
the article and at least one is in the article's lead passage (which carries the title's terms
too: the story is about it, not mentioning it in passing).

Each topic is indexed under one of its terms only, its rarest (the fewest articles hold it, as
the caller's document frequencies tell): an article then looks up each of its distinct terms
once and checks just the topics filed under them, so the cost per article grows with the topics
that share its rare terms, not with all topics.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from .analysis import analyze


@dataclass(frozen=True, slots=True)
class Topic:
    id: int
    terms: frozenset[str]
    sources: frozenset[str] = frozenset()  # stored source names; empty = any outlet


class Percolator:
    def __init__(self, df: Callable[[str], int] | None = None) -> None:
        # Document frequency of a term (lower = rarer); without one, the longest term stands in for the rarest.
        self._df = df or (lambda term: -len(term))
        self._topics: dict[int, Topic] = {}
        self._filed: dict[int, str] = {}
        self._by_term: dict[str, dict[int, Topic]] = {}

    def __len__(self) -> int:
        return len(self._topics)

    def add(self, topic: Topic) -> None:
        if not topic.terms:
            raise ValueError("a topic needs at least one term")
        self.remove(topic.id)
        key = min(topic.terms, key=lambda t: (self._df(t), t))
        self._topics[topic.id] = topic
        self._filed[topic.id] = key
        self._by_term.setdefault(key, {})[topic.id] = topic

    def remove(self, topic_id: int) -> None:
        if self._topics.pop(topic_id, None) is None:
            return
        key = self._filed.pop(topic_id)
        filed = self._by_term[key]
        del filed[topic_id]
        if not filed:
            del self._by_term[key]

    def match(self, terms: Iterable[str], lead: Iterable[str], source: str = "") -> list[Topic]:
        """The topics an article with these terms (and these in its lead) matches, by id."""
        have = terms if isinstance(terms, set | frozenset) else set(terms)
        lead_terms = lead if isinstance(lead, set | frozenset) else set(lead)
        found = []
        by_term = self._by_term
        for term in have:
            filed = by_term.get(term)
            if filed is None:
                continue
            for topic in filed.values():
                if (topic.terms <= have and not topic.terms.isdisjoint(lead_terms)
                        and (not topic.sources or source in topic.sources)):
                    found.append(topic)
        return sorted(found, key=lambda t: t.id)


def article_terms(passage_terms: Iterable[str]) -> tuple[set[str], set[str]]:
    """(all terms, lead terms) of an article from its stored passages' terms, in passage order."""
    everything: set[str] = set()
    lead: set[str] = set()
    for n, terms in enumerate(passage_terms):
        words = terms.split()
        everything.update(words)
        if n == 0:
            lead.update(words)
    return everything, lead


def text_terms(title: str, body: str) -> tuple[set[str], set[str]]:
    """(all terms, lead terms) analysed from text (for articles not yet split into passages)."""
    first = next((p for p in body.split("\n") if p.strip()), "")
    lead = set(analyze(f"{title}\n{first}"))
    return lead | set(analyze(body)), lead
