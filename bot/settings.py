"""Settings from the environment (and an optional `.env` file), validated at start.

Names are fixed where scripts and tests outside the code use them:
`TELEGRAM_BOT_TOKEN`, `NEWSBOT_BOT_API_URL`, `NEWSBOT_ADMIN_IDS`, `NEWSBOT_DB`.
Everything else is `NEWSBOT_` + the field name in upper case.
"""

from __future__ import annotations

import re
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from retrieval.bm25 import BM25Params
from retrieval.engine import RetrievalConfig

_RETRIEVAL = RetrievalConfig()
try:
    _VERSION = version("arabic-newsbot")
except PackageNotFoundError:  # running from a checkout that was never installed
    _VERSION = "0"
# What every feed and page request says it is: the bot's name, version and where its README is.
DEFAULT_USER_AGENT = f"arabic-newsbot/{_VERSION} (+README.md of the arabic-newsbot project; polls news feeds)"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="NEWSBOT_", env_file=".env", env_file_encoding="utf-8",
                                      extra="ignore", populate_by_name=True)

    telegram_bot_token: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("TELEGRAM_BOT_TOKEN", "telegram_bot_token"))
    bot_api_url: str = "https://api.telegram.org/bot"
    admin_ids: Annotated[frozenset[int], NoDecode] = frozenset()
    db: Path = Path("data/news.db")
    data_dir: Path = Path("data")

    # Retrieval
    # Retrieval defaults are RetrievalConfig's (measured in docs/retrieval-quality.md): one source of truth.
    bm25_variant: Literal["okapi", "l", "plus"] = _RETRIEVAL.bm25.variant  # type: ignore[assignment]
    bm25_k1: float = Field(default=_RETRIEVAL.bm25.k1, ge=0)
    bm25_b: float = Field(default=_RETRIEVAL.bm25.b, ge=0, le=1)
    bm25_epsilon: float = Field(default=_RETRIEVAL.bm25.epsilon, ge=0)
    min_coverage: float = Field(default=_RETRIEVAL.min_coverage, ge=0, le=1)
    min_confidence: float = Field(default=_RETRIEVAL.min_confidence, ge=0, le=1)
    low_confidence: float = Field(default=_RETRIEVAL.low_confidence, ge=0, le=1)
    fuzzy_names: bool = _RETRIEVAL.fuzzy
    max_input_bytes: int = Field(default=2 * 1024**3, gt=0)

    # Presentation and limits
    results_per_page: int = Field(default=3, ge=1, le=10)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    # Telegram bot
    webhook_url: str | None = None  # set → run_webhook instead of long polling
    webhook_secret: SecretStr | None = None  # X-Telegram-Bot-Api-Secret-Token; random per run if unset
    webhook_listen: str = "0.0.0.0"
    webhook_port: int = Field(default=8443, gt=0, lt=65536)
    max_question_chars: int = Field(default=400, ge=10, le=4000)
    max_article_messages: int = Field(default=8, ge=2, le=50)  # the full-article button sends at most this many
    user_rate_limit: int = Field(default=10, ge=1)  # questions per user per rate window
    chat_rate_limit: int = Field(default=20, ge=1)  # questions per group chat per rate window
    # Page turns, full-article buttons and inline queries per user per rate window
    # (an inline query comes with every keystroke the user pauses on).
    follow_up_rate_limit: int = Field(default=60, ge=1)
    rate_window_seconds: float = Field(default=60.0, gt=0)
    upload_max_bytes: int = Field(default=20 * 1024**2, gt=0)  # Bot API downloads stop at 20 MB
    question_log_days: int = Field(default=90, ge=1)  # question texts older than this are deleted
    hash_salt: SecretStr | None = None  # salt for user-id hashes; a random one is kept in the DB if unset

    # News feeds (bot/feeds/)
    feed_interval_seconds: float = Field(default=300.0, gt=0)  # each feed polled this often
    user_agent: str = Field(default=DEFAULT_USER_AGENT, min_length=1)
    host_delay_seconds: float = Field(default=1.0, ge=0)  # minimum gap between requests to one host
    # Hosts exempt from the private-address refusal (e.g. `127.0.0.1,localhost` for local test servers).
    fetch_allow_hosts: Annotated[frozenset[str], NoDecode] = frozenset()
    feed_max_bytes: int = Field(default=5 * 1024**2, gt=0)
    page_max_bytes: int = Field(default=5 * 1024**2, gt=0)
    fetch_timeout_seconds: float = Field(default=30.0, gt=0)
    fetch_connect_timeout_seconds: float = Field(default=10.0, gt=0)
    fetch_concurrency: int = Field(default=8, ge=1, le=64)

    @field_validator("fetch_allow_hosts", mode="before")
    @classmethod
    def _parse_hosts(cls, value: object) -> object:
        if isinstance(value, str):
            return frozenset(p.strip().lower().strip("[]") for p in value.split(",") if p.strip())
        return value

    # News (retrieval/newsquery.py): the zone "today", "yesterday" and dates in questions are read in.
    timezone: str = _RETRIEVAL.timezone
    # Followed topics (bot/follow.py): alerts per follower per day, and how often new articles are looked for
    # (an ingest in this process wakes the alerts at once; this catches `newsbot ingest` run beside the bot).
    alerts_per_day: int = Field(default=10, ge=1, le=1000)
    alerts_poll_seconds: float = Field(default=30.0, gt=0)
    one_per_story: bool = _RETRIEVAL.one_per_story

    @field_validator("timezone")
    @classmethod
    def _check_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (an IANA name such as Asia/Riyadh)") from None
        return value

    @field_validator("webhook_url")
    @classmethod
    def _check_webhook_url(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        if not value.startswith("https://"):
            raise ValueError("must be an https:// URL (Telegram only calls webhooks over HTTPS)")
        return value

    @field_validator("webhook_secret")
    @classmethod
    def _check_webhook_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", value.get_secret_value()):
            raise ValueError("must be 1-256 characters of A-Z, a-z, 0-9, _ and -")
        return value

    @property
    def bot_file_url(self) -> str:
        """File download base URL, derived from the API URL as Telegram lays them out."""
        base = self.bot_api_url.rstrip("/")
        head, sep, tail = base.rpartition("/")
        return f"{head}/file/{tail}" if sep else f"{base}/file/bot"

    @field_validator("admin_ids", mode="before")
    @classmethod
    def _parse_ids(cls, value: object) -> object:
        if isinstance(value, str):
            parts = [p.strip() for p in value.replace(";", ",").split(",") if p.strip()]
            try:
                return frozenset(int(p) for p in parts)
            except ValueError:
                raise ValueError("must be comma-separated Telegram user ids (integers)") from None
        return value

    def retrieval_config(self) -> RetrievalConfig:
        return RetrievalConfig(
            bm25=BM25Params(variant=self.bm25_variant, k1=self.bm25_k1, b=self.bm25_b, epsilon=self.bm25_epsilon),
            min_coverage=self.min_coverage, min_confidence=self.min_confidence,
            low_confidence=self.low_confidence, fuzzy=self.fuzzy_names,
            max_input_bytes=self.max_input_bytes, timezone=self.timezone, one_per_story=self.one_per_story)


class SettingsError(RuntimeError):
    """Invalid settings, with a message naming each bad setting."""


def _env_name(loc: tuple) -> str:
    field = str(loc[0]) if loc else "?"
    if field == "telegram_bot_token":
        return "TELEGRAM_BOT_TOKEN"
    return f"NEWSBOT_{field.upper()}"


def load_settings(**overrides: object) -> Settings:
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = "; ".join(f"{_env_name(e['loc'])}: {e['msg']}" for e in exc.errors())
        raise SettingsError(f"invalid settings: {problems}") from None
