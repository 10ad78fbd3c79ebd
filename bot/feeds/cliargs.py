"""The `newsbot feeds ...` and `newsbot watch` arguments, apart from the commands.

Kept free of the fetching stack (aiohttp, lxml, trafilatura) so that every other `newsbot` command
starts without importing it; `bot.cli` imports `bot.feeds.commands` only to run a feed command.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def add_cli(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    feeds = sub.add_parser("feeds", help="manage followed news feeds (RSS/Atom)")
    fsub = feeds.add_subparsers(dest="feeds_command", required=True)
    add = fsub.add_parser("add", parents=[common], help="follow a feed (fetched once to check it)")
    add.add_argument("url")
    add.add_argument("--name", help="display name of the outlet (default: the feed's title)")
    lst = fsub.add_parser("list", parents=[common], help="followed feeds with their status")
    lst.add_argument("--jsonl", action="store_true", help="one JSON object per feed")
    rm = fsub.add_parser("remove", parents=[common], help="stop following a feed (its articles stay)")
    rm.add_argument("url")
    for verb, what in (("pause", "stop polling a feed for now (kept, shown as paused)"),
                       ("resume", "poll a paused feed again")):
        fsub.add_parser(verb, parents=[common], help=what).add_argument("url")
    imp = fsub.add_parser("import", parents=[common], help="follow every feed of an OPML file")
    imp.add_argument("file", type=Path)
    fsub.add_parser("export", parents=[common], help="the followed feeds as OPML on stdout")
    watch = sub.add_parser("watch", parents=[common], help="poll due feeds until stopped")
    watch.add_argument("--once", action="store_true", help="poll every feed once now, print a line each, exit")
