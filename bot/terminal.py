"""Plain-text rendering of answers and statistics for the terminal."""

from __future__ import annotations

from pathlib import Path

from retrieval.engine import SearchResult, Stats

from .newsformat import also_line, understood_lines
from .texts import LOW_CONFIDENCE_HINT, NO_ANSWER, UNTITLED


def source_line(source: str, section: str, published: str) -> str:
    return " · ".join(part for part in (source, section, published[:10]) if part)


def format_result(result: SearchResult) -> str:
    head = "".join(f"{line}\n" for line in understood_lines(result))
    if not result.hits:
        return head + NO_ANSWER.get(result.no_answer or "weak", NO_ANSWER["weak"])
    blocks = [head.rstrip("\n")] if head else []
    for n, hit in enumerate(result.hits, start=result.offset + 1):
        lines = [f"{n}. {hit.title or UNTITLED}"]
        if meta := source_line(hit.source, hit.section, hit.published):
            lines.append(f"   {meta}")
        lines.append(f"   {hit.excerpt}")
        if hit.url:
            lines.append(f"   {hit.url}")
        if also := also_line(hit):  # the story's other versions
            lines.append(f"   {also}")
        blocks.append("\n".join(lines))
    if result.confidence == "low":
        blocks.insert(0, LOW_CONFIDENCE_HINT)
    return "\n\n".join(blocks)


def format_stats(stats: Stats, db: Path) -> str:
    lines = [f"database: {db}", f"articles: {stats.articles}", f"passages: {stats.passages}",
             f"sources:  {stats.sources}"]
    if stats.index:
        i = stats.index
        lines += [f"index:    {i.passages} passages, {i.terms} terms, {i.size_bytes / 1e6:.1f} MB",
                  f"built:    {i.built_at} in {i.build_seconds:.2f} s"]
    else:
        lines.append("index:    not built")
    if stats.segments:
        seg = stats.segments
        lines.append(f"segments: {seg.count} ({seg.passages} passages), {seg.deleted_share:.1%} deleted, "
                     f"last merge {seg.last_merge or '—'}")
    return "\n".join(lines)
