"""Live news: the outlets' RSS/Atom feeds followed, their articles fetched, extracted and ingested.

Modules by concern: `urls` (validation, canonical URLs), `fetch` (the polite HTTP client and its
SSRF guard), `parse` (safe feed parsing), `extract` (article text and dates), `store` (the feeds
tables), `opml`, `poller` (due feeds, backoff, ingest), `commands` (the CLI) and `telegram` (/feeds).
"""
