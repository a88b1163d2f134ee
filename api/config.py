"""The one settings object, read from the environment and `.env`."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEVELOPMENT_SECRET = "change-me-development-only"


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
    tracker_url: str = f"sqlite:///{PROJECT_ROOT / 'var' / 'tracker.db'}"
    # Rasa loads only this many recent customer turns of a conversation (all are kept).
    tracker_max_turns: int = Field(default=10, ge=4)
    # Rasa keeps this many recently active conversations in memory (0 = none).
    tracker_cache_size: int = Field(default=200, ge=0)

    max_message_chars: int = Field(default=2000, ge=1)
    max_frame_bytes: int = Field(default=16_384, ge=256)
    max_messages_per_minute: int = Field(default=30, ge=1)
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
    def _refuse_default_secrets_outside_development(self) -> Settings:
        if self.environment == "production":
            for name in ("rasa_jwt_secret", "action_token"):
                if getattr(self, name) == DEVELOPMENT_SECRET:
                    raise ValueError(f"{name.upper()} must be set to a secret in production.")
        return self

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
