"""Time expressions in questions with the window each must give, for a fixed now.

The table is data (`date_table.json`, beside this file): tests/test_newsquery.py checks
retrieval/newsquery.py against it, and benchmarks/dateparser_ar.py reads the same file to score
dateparser. NOW is Wednesday 24 November 2021, 15:00 in Riyadh. Each row: a question, the
expression as written, the first and last day of the window it asks about (inclusive, in
Asia/Riyadh), and the words that must remain to be searched.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

TABLE = Path(__file__).with_name("date_table.json")

_data = json.loads(TABLE.read_text(encoding="utf-8"))
TZ = ZoneInfo(_data["timezone"])
NOW = datetime.fromisoformat(_data["now"]).replace(tzinfo=TZ)

# (question, expression as written, first day, last day, remaining text)
ROWS: list[tuple[str, str, str, str, str]] = [tuple(row) for row in _data["rows"]]

# Questions with no time expression: words that look like one must stay search terms.
NO_DATE: list[str] = [question for question, _why in _data["no_date"]]
