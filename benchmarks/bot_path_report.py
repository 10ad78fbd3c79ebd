"""The figures of `benchmarks/bot_path.py`: latency percentiles per kind of question and where each
question's time went, from the stand-in's clock and the bot's `bot.timing` spans.
"""

from __future__ import annotations

import argparse
import os
import statistics
from collections import defaultdict
from collections.abc import Sequence

import numpy as np


def pct(values: Sequence[float]) -> dict[str, float]:
    a = np.asarray(values, dtype=float)
    return {"n": int(a.size), "p50": float(np.percentile(a, 50)), "p95": float(np.percentile(a, 95)),
            "p99": float(np.percentile(a, 99)), "max": float(a.max())}


# Parts of the handler that run one after the other.
SEQUENTIAL = ("search", "question log", "format answer")
TYPING = "typing action"


def breakdown(records: list[dict], parts: dict[int, list]) -> dict[str, dict[str, float]]:
    """Per question, where its milliseconds went (ms; medians and means over the questions).

    The rows between "PTB: getUpdates answer → handler starts" and "PTB: reply
    sent → stand-in receives it" add up to the total. The typing action's round
    trip is shown on its own: it runs beside the search, so what the handler
    waits for it after the search is in "handler, other".
    """
    rows: dict[str, list[float]] = defaultdict(list)
    for r in records:
        spans = parts.get(r["update_id"], [])
        handler = [s for s in spans if s[0] == "handler"]
        send = [s for s in spans if s[0] == "send reply"]
        if not handler or not send:
            continue
        h_start, send_start = handler[0][1], send[0][1]
        rows["PTB: getUpdates answer → handler starts"].append((h_start - r["delivered"]) * 1000)
        inside = 0.0
        for part in SEQUENTIAL:
            ms = sum(e - s for name, s, e in spans if name == part) * 1000
            rows[part].append(ms)
            inside += ms
        rows["handler, other (typing action waited for, if any)"].append((send_start - h_start) * 1000 - inside)
        rows["PTB: reply sent → stand-in receives it"].append((r["replied"] - send_start) * 1000)
        rows["total (stand-in clock)"].append(r["latency_ms"])
        rows[f"({TYPING} round trip, before or beside the search)"].append(
            sum(e - s for name, s, e in spans if name == TYPING) * 1000)
    return {name: {"p50": statistics.median(v), "mean": statistics.fmean(v), "n": len(v)}
            for name, v in rows.items()}


def latency_table(results: dict[str, dict]) -> list[str]:
    lines = ["| code | questions | n | answered | p50 ms | p95 ms | p99 ms | max ms |",
             "|---|---|---:|---:|---:|---:|---:|---:|"]
    for version, result in results.items():
        records = result["records"]
        for kind in ("all", "private", "group", "inline"):
            chosen = [r for r in records if kind == "all" or r["kind"] == kind]
            if not chosen:
                continue
            s = pct([r["latency_ms"] for r in chosen])
            answered = sum(r["answered"] for r in chosen)
            label = {"all": "all", "private": "private chat", "group": "group `/ask`",
                     "inline": "inline query"}[kind]
            lines.append(f"| {version} | {label} | {s['n']} | {answered} | {s['p50']:.2f} | {s['p95']:.2f}"
                         f" | {s['p99']:.2f} | {s['max']:.2f} |")
    return lines


def breakdown_table(results: dict[str, dict], inline: bool) -> list[str]:
    tables = {v: breakdown([r for r in res["records"] if (r["kind"] == "inline") == inline], res["parts"])
              for v, res in results.items()}
    names = list(dict.fromkeys(name for t in tables.values() for name in t))
    if not names:
        return []
    head = " | ".join(f"{v} median | {v} mean" for v in tables)
    lines = [f"| part | {head} |", "|---|" + "---:|" * (2 * len(tables))]
    for name in names:
        cells = " | ".join(f"{t[name]['p50']:.2f} | {t[name]['mean']:.2f}" if name in t else "— | —"
                           for t in tables.values())
        lines.append(f"| {name} | {cells} |")
    return lines


def report_text(results: dict[str, dict], passages: int, args: argparse.Namespace) -> str:
    n = len(next(iter(results.values()))["records"])
    lines = [f"Answer path through the bot at {passages:,} passages: {n} questions per version of the code,"
             f" one at a time, ≥ {args.interval_ms:g} ms apart; load average {os.getloadavg()[0]:.1f} at the end."]
    if args.api_delay_ms:
        lines[0] += f" The stand-in answered each call {args.api_delay_ms:g} ms late (a simulated network round trip)."
    if len(results) > 1:
        lines[0] += (f" Baseline `{args.baseline_code}` and current code took turns over {args.rounds} slices"
                     " of the same questions.")
    lines += ["", *latency_table(results)]
    if len(results) > 1:
        p50 = {v: pct([r["latency_ms"] for r in res["records"]])["p50"] for v, res in results.items()}
        lines += ["", f"p50 baseline / current: {p50['baseline'] / p50['current']:.2f}×"]
    for inline, label in ((False, "private chat and group `/ask`"), (True, "inline queries")):
        table = breakdown_table(results, inline)
        if table:
            lines += ["", f"Where the time goes, {label} (ms per question):", "", *table]
    return "\n".join(lines)
