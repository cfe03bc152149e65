"""Settings, read from the environment and `.env` (pydantic-settings)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEMO_PASSWORDS = frozenset({"adminpass", "managerpass", "staffpass"})
DEV_SECRET = "dev-only-insecure-secret-set-BACKOFFICE_SECRET_KEY"  # noqa: S105 - refused in production below


class Settings(BaseSettings):
    """Every knob of the platform; environment variables override `.env`."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    env: Literal["development", "test", "production"] = Field(
        "development", validation_alias="BACKOFFICE_ENV"
    )
    database_url: str | None = Field(None, validation_alias="DATABASE_URL")
    nats_url: str | None = Field(None, validation_alias="NATS_URL")
    redis_url: str | None = Field(None, validation_alias="REDIS_URL")
    home: Path = Field(Path(".backoffice"), validation_alias="BACKOFFICE_HOME")
    data_dir: Path = Field(Path("data"), validation_alias="DATA_DIR")

    secret_key: str = Field(DEV_SECRET, validation_alias="BACKOFFICE_SECRET_KEY")
    token_ttl_seconds: int = Field(900, ge=30, le=86_400)
    auth_cache_ttl_seconds: float = Field(30.0, ge=0, le=600)
    # argon2id cost; the defaults cost tens of ms of CPU on purpose.
    argon2_time_cost: int = Field(3, ge=1)
    argon2_memory_kib: int = Field(65_536, ge=1024)

    rate_limit_per_minute: int = Field(6000, ge=0, description="0 disables rate limiting")
    cors_origins: list[str] = Field(default_factory=list)

    db_pool_size: int = Field(10, ge=1)
    db_max_overflow: int = Field(10, ge=0)
    log_level: str = "INFO"
    log_json: bool = True

    @model_validator(mode="after")
    def _production_is_explicit(self) -> Settings:
        if self.env == "production":
            if not self.database_url:
                raise ValueError("production requires an explicit DATABASE_URL")
            if self.secret_key == DEV_SECRET or len(self.secret_key) < 32:
                raise ValueError("production requires BACKOFFICE_SECRET_KEY of 32+ characters")
        return self

    @property
    def is_production(self) -> bool:
        return self.env == "production"


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings (cached; tests build their own `Settings`)."""
    return Settings()
