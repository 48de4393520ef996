"""One ``Settings`` object, read from ``XMO_*`` environment variables, built by a cached factory.

The factory also reads a ``.env`` file: the one ``XMO_ENV_FILE`` names, else ``.env`` in the working directory
if there is one. Real environment variables win over the file. Every variable is listed in docs/settings.md.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from core.errors import InvalidInput

ENV_FILE_VARIABLE = "XMO_ENV_FILE"
DEFAULT_ENV_FILE = Path(".env")
PLACEHOLDER_SECRETS = frozenset({"changeme", "changethis", "secret", "password", "xmo", "test"})


class Settings(BaseSettings):
    """Everything an operator can set; every field has an embedded default."""

    model_config = SettingsConfigDict(env_prefix="XMO_", extra="ignore", frozen=True)

    environment: Literal["development", "production"] = "development"
    home: Path = Field(default=Path(".xmo"), description="Root of all local state.")
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL of the tenant registry; SQLite under XMO_HOME if unset."
    )
    mlflow_tracking_uri: str | None = Field(
        default=None, description="MLflow tracking URI; sqlite:///<XMO_HOME>/mlflow.db if unset."
    )
    optuna_storage: str | None = Field(
        default=None, description="Optuna storage URL; sqlite:///<XMO_HOME>/optuna.db if unset."
    )
    master_key: SecretStr | None = Field(
        default=None,
        description="Base64 (32 bytes) master key wrapping client keys; generated into XMO_HOME if unset.",
    )

    # edge
    ipv4_prefix: int = Field(default=24, ge=0, le=32)
    ipv6_prefix: int = Field(default=48, ge=0, le=128)
    cookie_name: str = "xmo_id"
    optout_cookie_name: str = "xmo_optout"
    dashboard_cookie_name: str = Field(default="xmo_dashboard", description="The dashboard sign-in cookie")
    cookie_domain: str | None = None
    cookie_max_age_days: int = Field(default=395, ge=1, le=395)
    allowed_query_params: tuple[str, ...] = (
        "utm_source",
        "utm_medium",
        "utm_campaign",
        "utm_content",
        "utm_term",
        "cid",
        "crid",
        "gclid",
        "fbclid",
        "msclkid",
    )

    forwarded_allow_ips: str = Field(
        default="127.0.0.1",
        description="Proxies whose X-Forwarded-For/-Proto are trusted (comma-separated addresses, or *).",
    )

    # spool
    spool_name: str = Field(default="spool", pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    group_commit_max_delay_ms: float = Field(default=0.0, ge=0, le=1000)
    group_commit_max_batch: int = Field(default=2000, ge=1, le=100_000)
    group_commit_max_in_flight: int = Field(default=2, ge=1, le=16)
    compact_interval_s: float = Field(default=30.0, ge=0)
    retention_interval_s: float = Field(
        default=6 * 3600.0, ge=0, description="How often `xmo serve` deletes lake data past retention; 0 turns it off."
    )

    # features
    session_timeout_minutes: int = Field(default=30, ge=1, le=24 * 60)
    # Start a new session at midnight in the client's time zone (as Universal Analytics did).
    session_split_at_midnight: bool = False

    # serving
    model_reload_interval_s: float = Field(default=60.0, ge=0)
    purge_watch_interval_s: float = Field(
        default=5.0,
        ge=0,
        description="How often a server looks for clients purged by another process (the CLI) and drops its "
        "caches of them; 0 turns the watch off.",
    )
    cors_origins: Annotated[tuple[str, ...], NoDecode] = Field(
        default=(),
        description="Browser origins allowed to call the API (comma-separated, e.g. https://app.example.com); "
        "none by default.",
    )
    rate_limit_per_minute: int = Field(
        default=6000, ge=0, description="Requests per minute per key (token bucket per process); 0 turns it off."
    )
    rate_limit_burst: int = Field(default=600, ge=1, description="Requests a key may make at once before waiting.")
    max_request_bytes: int = Field(
        default=16 << 20, ge=1024, description="Largest request body any route accepts (413 beyond it)."
    )
    log_format: Literal["json", "text"] = Field(default="json", description="One JSON object per line, or text.")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    # cross-client benchmarks (privacy P8); requests may raise the thresholds, never lower them
    benchmark_min_visitors: int = Field(default=10, ge=2, description="Fewest distinct visitors a published cell has.")
    benchmark_min_clients: int = Field(
        default=3, ge=3, description="Fewest clients a published cell pools (3 at least: see privacy/aggregates.py)."
    )
    benchmark_epsilon: float | None = Field(
        default=None, gt=0, le=10, description="Differential-privacy epsilon of the benchmarks API; unset: no noise."
    )

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(o.strip().rstrip("/") for o in value.split(",") if o.strip())
        return value

    @field_validator("cors_origins")
    @classmethod
    def _check_origins(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for origin in value:
            if origin != "*" and not origin.startswith(("http://", "https://")):
                raise ValueError(f"CORS origin {origin!r} must be http(s)://host[:port] or *")
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_level(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("home")
    @classmethod
    def _absolute_home(cls, value: Path) -> Path:
        return value.expanduser().resolve()

    @model_validator(mode="after")
    def _no_placeholder_secrets(self) -> Settings:
        if self.environment != "development" and self.master_key is not None:
            raw = self.master_key.get_secret_value()
            if raw.lower() in PLACEHOLDER_SECRETS:
                raise ValueError("XMO_MASTER_KEY is a placeholder; set a real random key outside development")
        return self

    # derived locations -------------------------------------------------------------------------
    @property
    def effective_database_url(self) -> str:
        """The registry URL: explicit, or SQLite inside XMO_HOME."""
        return self.database_url or f"sqlite:///{self.home / 'xmo.db'}"

    @property
    def effective_mlflow_tracking_uri(self) -> str:
        """The MLflow tracking URI: explicit, or SQLite inside XMO_HOME."""
        return self.mlflow_tracking_uri or f"sqlite:///{self.home / 'mlflow.db'}"

    @property
    def effective_optuna_storage(self) -> str:
        """The Optuna storage URL: explicit, or SQLite inside XMO_HOME."""
        return self.optuna_storage or f"sqlite:///{self.home / 'optuna.db'}"


def env_file() -> Path | None:
    """The ``.env`` file to read: ``XMO_ENV_FILE`` (which must exist), else ``./.env`` if present, else None."""
    named = os.environ.get(ENV_FILE_VARIABLE, "").strip()
    if named:
        path = Path(named).expanduser()
        if not path.is_file():
            raise InvalidInput(f"{ENV_FILE_VARIABLE}: {named} is not a file")
        return path
    return DEFAULT_ENV_FILE if DEFAULT_ENV_FILE.is_file() else None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment and the ``.env`` file (the environment wins)."""
    return Settings(_env_file=env_file())  # type: ignore[call-arg]  # pydantic-settings reads it in __init__
