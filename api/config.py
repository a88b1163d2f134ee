"""The one settings object, read from the environment and `.env`."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEVELOPMENT_SECRET = "change-me-development-only"


MIN_SECRET_CHARS = 32
SECRETS = ("rasa_jwt_secret", "action_token", "operator_token")


def _looks_like_development_value(secret: str) -> bool:
    folded = "".join(c for c in secret.lower() if c.isalnum())
    development = "".join(c for c in DEVELOPMENT_SECRET if c.isalnum())
    return development in folded or "changeme" in folded


def production_secret_problems(settings: Settings) -> list[str]:
    """What is wrong with the secrets for production, one sentence each (empty: nothing).

    Each secret must be at least MIN_SECRET_CHARS long, without spaces around
    it, no variant of the development value, and different from the others.
    OPERATOR_TOKEN may be empty (it then disables the operator API key).
    """
    problems = []
    for name in SECRETS:
        value: str = getattr(settings, name)
        label = name.upper()
        if name == "operator_token" and value == "":
            continue
        if value != value.strip():
            problems.append(f"{label} has spaces around it.")
        elif _looks_like_development_value(value):
            problems.append(f"{label} is the development value (or a variant of it).")
        elif len(value) < MIN_SECRET_CHARS:
            problems.append(
                f"{label} has {len(value)} characters; it needs at least {MIN_SECRET_CHARS}."
            )
    given = [(name, getattr(settings, name)) for name in SECRETS if getattr(settings, name)]
    for index, (name, value) in enumerate(given):
        for other, other_value in given[index + 1 :]:
            if value == other_value:
                problems.append(f"{name.upper()} and {other.upper()} are the same secret.")
    return problems


class Settings(BaseSettings):
    """Everything the API, the actions and the launcher can be configured with.

    Every field is documented in `.env.example`.
    """

    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    environment: Literal["development", "production", "test"] = "development"
    host: str = "127.0.0.1"
    port: int = 8000
    public_url: str = ""
    allowed_origins: str = ""

    database_url: str = f"sqlite:///{PROJECT_ROOT / 'var' / 'app.db'}"
    db_pool_size: int = 10

    # API key for operators' automation (imports, outages); empty disables it.
    operator_token: str = ""

    # Redis for running several API workers (pub/sub between them); empty = one process.
    redis_url: str = ""

    rasa_url: str = "http://127.0.0.1:5005"
    rasa_jwt_secret: str = DEVELOPMENT_SECRET
    action_token: str = DEVELOPMENT_SECRET
    rasa_timeout_seconds: float = 8.0
    # Customer messages each API worker gives one Rasa instance at a time; the
    # rest wait their turn in the worker (docs/performance.md).
    rasa_max_in_flight: int = Field(default=8, ge=1)
    # A customer message not answered this long after it was stored was left by a
    # worker that died: another worker answers it (docs/operations.md). At least
    # RASA_TIMEOUT_SECONDS + 5 (`answer_lease`), so that a live worker is never overtaken.
    answer_lease_seconds: float = Field(default=20.0, gt=0)
    # Such a message older than this gets a polite system message instead of an answer.
    unanswered_max_age_seconds: float = Field(default=900.0, gt=0)
    # How often each API worker looks for such messages while Rasa is reachable.
    recovery_check_seconds: float = Field(default=5.0, gt=0)
    tracker_url: str = f"sqlite:///{PROJECT_ROOT / 'var' / 'tracker.db'}"
    # Rasa loads only this many recent customer turns of a conversation (all are kept).
    tracker_max_turns: int = Field(default=10, ge=4)
    # Rasa keeps this many recently active conversations in memory (0 = none).
    tracker_cache_size: int = Field(default=200, ge=0)

    max_message_chars: int = Field(default=2000, ge=1)
    max_frame_bytes: int = Field(default=16_384, ge=256)
    # Customer messages per conversation (all its sockets together) and per client address.
    max_messages_per_minute: int = Field(default=30, ge=1)
    max_messages_per_minute_per_address: int = Field(default=120, ge=1)
    # New conversations per client address.
    max_new_conversations_per_minute: int = Field(default=10, ge=1)
    # Client addresses no per-address limit applies to (comma-separated), e.g. a
    # load-testing machine; per-conversation and per-account limits still apply.
    limits_exempt_addresses: str = ""
    # Wrong passwords: the first ones are free; each one after waits twice as
    # long as the last, from LOGIN_FIRST_WAIT_SECONDS up to LOGIN_MAX_WAIT_SECONDS.
    login_failures_per_account: int = Field(default=5, ge=1)
    login_failures_per_address: int = Field(default=20, ge=1)
    login_failure_window_seconds: float = Field(default=900, gt=0)
    login_first_wait_seconds: float = Field(default=2, gt=0)
    login_max_wait_seconds: float = Field(default=900, gt=0)
    # Largest request body, checked before it is read (413 above it); /webhook has its own.
    max_request_bytes: int = Field(default=5_000_000, ge=1024)
    max_webhook_bytes: int = Field(default=2_000_000, ge=1024)

    agent_session_hours: float = Field(default=12, gt=0)
    handoff_wait_limit_seconds: float = Field(default=300, gt=0)

    flows_dir: Path = PROJECT_ROOT / "data" / "flows"
    # How often (seconds) the flow files are checked for edits; 0 checks every turn.
    flows_check_seconds: float = Field(default=0.5, ge=0)
    widget_dir: Path = PROJECT_ROOT / "widget"
    # Where trainers' labels from the review list go, as proposed NLU training data.
    reviewed_nlu_file: Path = PROJECT_ROOT / "data" / "nlu" / "reviewed.yml"
    # The Rasa domain, whose intents are the labels a trainer may choose.
    domain_file: Path = PROJECT_ROOT / "domain.yml"
    # A flow run with no outcome and no activity for this long counts as abandoned.
    abandoned_after_minutes: float = Field(default=30, gt=0)
    log_level: str = "INFO"

    @model_validator(mode="after")
    def _refuse_weak_secrets_in_production(self) -> Settings:
        if self.environment == "production":
            problems = production_secret_problems(self)
            if problems:
                raise ValueError(
                    "ENVIRONMENT=production refuses to start with weak secrets: "
                    + " ".join(problems)
                    + f" Generate each with: python -c 'import secrets; "
                    f"print(secrets.token_urlsafe({MIN_SECRET_CHARS}))'"
                )
        return self

    @property
    def answer_lease(self) -> float:
        """Seconds a worker has to answer a stored message before another may take it over."""
        return max(self.answer_lease_seconds, self.rasa_timeout_seconds + 5)

    @property
    def exempt_addresses(self) -> frozenset[str]:
        return frozenset(a.strip() for a in self.limits_exempt_addresses.split(",") if a.strip())

    @property
    def origins(self) -> list[str]:
        """Browser origins allowed to open the chat websocket."""
        configured = [o.strip().rstrip("/") for o in self.allowed_origins.split(",") if o.strip()]
        if configured:
            return configured
        return [f"http://{self.host}:{self.port}", f"http://localhost:{self.port}"]

    @property
    def sync_database_url(self) -> str:
        """URL for migrations and scripts (blocking drivers)."""
        return _with_driver(self.database_url, sqlite="sqlite", postgres="postgresql+psycopg")

    @property
    def async_database_url(self) -> str:
        """URL for the running app (asyncio drivers)."""
        return _with_driver(
            self.database_url, sqlite="sqlite+aiosqlite", postgres="postgresql+psycopg"
        )


def _with_driver(url: str, *, sqlite: str, postgres: str) -> str:
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise ValueError(f"DATABASE_URL is not a URL: {url!r}")
    base = scheme.split("+", 1)[0]
    if base == "sqlite":
        return f"{sqlite}://{rest}"
    if base in ("postgresql", "postgres"):
        return f"{postgres}://{rest}"
    raise ValueError(f"Unsupported database in DATABASE_URL: {scheme}")


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
