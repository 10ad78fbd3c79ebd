"""Arabic news retrieval: articles, Arabic analysis, SQLite storage, BM25 ranking.

This package never imports `telegram`. Front ends (the Telegram bot, the
command line) use it through `retrieval.engine.SearchEngine`.
"""
