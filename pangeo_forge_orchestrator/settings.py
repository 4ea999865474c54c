"""Settings: the only reader of environment variables (DESIGN §4)."""

from __future__ import annotations

import sys
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def _default_log_format() -> Literal["json", "console"]:
    return "console" if sys.stderr.isatty() else "json"


class Settings(BaseSettings):
    """Every knob of the service, validated once at start-up and passed in."""

    model_config = SettingsConfigDict(
        env_prefix="PFO_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        populate_by_name=True,
    )

    database_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("DATABASE_URL", "database_url"),
        description="Postgres URL; unset means an embedded Postgres under PFO_DATA_DIR",
    )
    data_dir: Path = Field(default=Path(".pfo"), description="embedded database, logs, outputs")
    github_api_url: str = "https://api.github.com"
    github_app_id: int | None = None
    github_app_private_key: SecretStr | None = None
    github_app_private_key_path: Path | None = None
    github_webhook_secret: SecretStr | None = None
    # Also accepted while a webhook secret is being rotated; unset once GitHub has the new one.
    github_webhook_secret_previous: SecretStr | None = None
    # Repositories (by name, shell-style, case-insensitive) whose events the App acts on.
    feedstock_repo_patterns: list[str] = Field(
        default_factory=lambda: ["*-feedstock", "staged-recipes"]
    )
    github_app_name: str = "pangeo-forge"
    bakery_callback_secret: SecretStr | None = None
    bakeries_file: Path | None = None
    runner_command: str = "pangeo-forge-runner"
    public_url: str = "http://127.0.0.1:8000"
    dashboard_url: str = "https://pangeo-forge.org/dashboard"
    log_format: Literal["json", "console"] = Field(default_factory=_default_log_format)
    worker_concurrency: int = Field(default=4, ge=1, description="jobs one worker runs at once")
    # Renewed every quarter lease while a job runs, so a dead worker's job is back within it.
    job_lease_seconds: float = Field(default=8.0, gt=0, description="claim lease of a job")
    worker_poll_seconds: float = Field(
        default=5.0, gt=0, description="fallback poll when no NOTIFY arrives"
    )
    # Heroku sends SIGKILL 30 s after SIGTERM; unfinished jobs must be released before that.
    worker_shutdown_timeout_seconds: float = Field(
        default=20.0, ge=0, description="how long in-flight jobs may finish on SIGTERM"
    )

    @field_validator("database_url")
    @classmethod
    def _use_psycopg2_driver(cls, value: str | None) -> str | None:
        """Accept Heroku's `postgres://` and plain `postgresql://`; SQLAlchemy wants a driver."""
        if not value:
            return None
        for prefix in ("postgres://", "postgresql://"):
            if value.startswith(prefix):
                return "postgresql+psycopg2://" + value[len(prefix) :]
        return value

    @field_validator("public_url", "dashboard_url", "github_api_url")
    @classmethod
    def _strip_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @cached_property
    def github_private_key_pem(self) -> SecretStr | None:
        """The App key as PEM text, from the variable or from the file it points to."""
        if self.github_app_private_key is not None:
            return self.github_app_private_key
        if self.github_app_private_key_path is not None:
            return SecretStr(self.github_app_private_key_path.read_text())
        return None

    @property
    def github_app_configured(self) -> bool:
        return (
            self.github_app_id is not None
            and self.github_webhook_secret is not None
            and (
                self.github_app_private_key is not None
                or self.github_app_private_key_path is not None
            )
        )

    @property
    def embedded_database_dir(self) -> Path:
        return self.data_dir / "pgdata"
