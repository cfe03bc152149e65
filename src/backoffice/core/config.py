"""Settings, read from the environment and `.env` (pydantic-settings)."""

from __future__ import annotations

import sys
from functools import lru_cache
from pathlib import Path
from typing import Literal, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_SECRET = "dev-only-insecure-secret-set-BACKOFFICE_SECRET_KEY"  # noqa: S105 - refused in production below


def _json_logs_by_default(env: str) -> bool:
    stderr = sys.stderr
    at_a_terminal = stderr is not None and hasattr(stderr, "isatty") and stderr.isatty()
    return not (env == "development" and at_a_terminal)


# What one process can serve: everything, or one savings service alone.
Service = Literal["all", "savings-users", "savings-accounting", "savings-gateway"]
SERVICES: tuple[str, ...] = get_args(Service)


class Settings(BaseSettings):
    """Every knob of the platform; environment variables override `.env`."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    env: Literal["development", "test", "production"] = Field(
        "development", validation_alias="BACKOFFICE_ENV"
    )
    # Which service this process serves: all of them, or one alone (`backoffice serve SERVICE`).
    service: Service = Field("all", validation_alias="BACKOFFICE_SERVICE")
    database_url: str | None = Field(None, validation_alias="DATABASE_URL")
    nats_url: str | None = Field(None, validation_alias="NATS_URL")
    # NATS: each service's password (core.natsauth; unset outside production: the embedded
    # server's generated one), and the authority that signed the server's TLS certificate.
    savings_users_nats_password: SecretStr | None = None
    savings_accounting_nats_password: SecretStr | None = None
    savings_gateway_nats_password: SecretStr | None = None
    nats_tls_ca_file: Path | None = None
    redis_url: str | None = Field(None, validation_alias="REDIS_URL")
    home: Path = Field(Path(".backoffice"), validation_alias="BACKOFFICE_HOME")
    data_dir: Path = Field(Path("data"), validation_alias="DATA_DIR")
    transactions_inbox: Path = Field(
        Path("data/transactions"), validation_alias="TRANSACTIONS_INBOX"
    )
    # The longest header or line an import reads whole; a longer line is quarantined (4 KiB kept).
    ingest_max_line_bytes: int = Field(
        1 << 20, ge=4096, le=1 << 30, validation_alias="INGEST_MAX_LINE_BYTES"
    )
    # Where an Airflow run of the ETL keeps what its tasks pass on (one folder per DAG run).
    transactions_staging: Path = Field(
        Path("data/staging/transactions"), validation_alias="TRANSACTIONS_STAGING"
    )
    # The DAG's schedule (midnight) is read in this zone.
    transactions_etl_timezone: str = Field("UTC", validation_alias="TRANSACTIONS_ETL_TIMEZONE")
    # Retries of a failed DAG task (the DAG file reads it from the environment make airflow writes).
    transactions_etl_retries: int = Field(
        2, ge=0, le=10, validation_alias="TRANSACTIONS_ETL_RETRIES"
    )
    # Airflow's metadata database, on the same PostgreSQL server as the platform's.
    airflow_database: str = Field("airflow", validation_alias="AIRFLOW_DATABASE")

    secret_key: str = Field(DEV_SECRET, validation_alias="BACKOFFICE_SECRET_KEY")
    token_ttl_seconds: int = Field(900, ge=30, le=86_400)
    auth_cache_ttl_seconds: float = Field(30.0, ge=0, le=600)
    # argon2id cost; the defaults cost tens of ms of CPU on purpose.
    argon2_time_cost: int = Field(3, ge=1)
    argon2_memory_kib: int = Field(65_536, ge=1024)

    rate_limit_per_minute: int = Field(6000, ge=0, description="0 disables rate limiting")
    # The largest request body a route takes unless it declares its own (`max_body_size=`).
    max_body_bytes: int = Field(1_048_576, ge=1024, le=2**31)
    # Login throttling (core.auth.throttle): wrong passwords an account or a client address may
    # make before it is locked (0: never), the longest lock, how long failures are remembered.
    login_free_failures_per_account: int = Field(5, ge=0, le=1000)
    login_free_failures_per_address: int = Field(20, ge=0, le=100_000)
    login_lock_max_seconds: int = Field(900, ge=1, le=86_400)
    login_failure_memory_seconds: int = Field(3600, ge=2, le=604_800)
    cors_origins: list[str] = Field(default_factory=list)
    # The web console (backoffice.console): a session ends after this long without a request,
    # and in any case this long after sign-in (a customer's also when its savings token expires).
    console_idle_minutes: int = Field(30, ge=1, le=1440)
    console_session_hours: int = Field(12, ge=1, le=168)

    host: str = Field("127.0.0.1", description="interface `backoffice serve` binds")
    port: int = Field(8000, ge=1, le=65535, description="port `backoffice serve` listens on")
    db_pool_size: int = Field(10, ge=1)
    db_max_overflow: int = Field(10, ge=0)

    # The savings services: a database each (unset: a database of that name beside the main
    # one, never the main one itself; core.databases), and smaller pools, so that everything in
    # one process stays well inside PostgreSQL's default 100 connections.
    savings_users_database_url: str | None = Field(
        None, validation_alias="SAVINGS_USERS_DATABASE_URL"
    )
    savings_users_db_pool_size: int = Field(4, ge=1)
    savings_users_db_max_overflow: int = Field(4, ge=0)
    savings_accounting_database_url: str | None = Field(
        None, validation_alias="SAVINGS_ACCOUNTING_DATABASE_URL"
    )
    savings_accounting_db_pool_size: int = Field(4, ge=1)
    savings_accounting_db_max_overflow: int = Field(4, ge=0)
    # Customer tokens: the users service signs with the private key, the gateway verifies with
    # the public one. Unset: a key pair made once under BACKOFFICE_HOME/savings (development).
    savings_token_private_key_file: Path | None = Field(
        None, validation_alias="SAVINGS_TOKEN_PRIVATE_KEY_FILE"
    )
    savings_token_public_key_file: Path | None = Field(
        None, validation_alias="SAVINGS_TOKEN_PUBLIC_KEY_FILE"
    )
    savings_token_ttl_seconds: int = Field(3600, ge=60, le=86_400)
    # How long the gateway waits for a service's reply, and for a new customer's account.
    savings_request_timeout_seconds: float = Field(5.0, gt=0, le=60)
    savings_account_wait_seconds: float = Field(10.0, ge=0, le=120)
    log_level: str = "INFO"
    # Readable lines for a developer at a terminal, JSON lines for everything else (log
    # collectors, CI, production); LOG_JSON, when set, wins.
    log_json: bool = Field(
        default_factory=lambda data: _json_logs_by_default(data.get("env", "development"))
    )

    @field_validator("transactions_etl_timezone")
    @classmethod
    def _known_timezone(cls, name: str) -> str:
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"{name!r} is not an IANA time zone (e.g. UTC, Europe/Paris)"
            ) from None
        return name

    @model_validator(mode="after")
    def _locks_end_before_failures_are_forgotten(self) -> Settings:
        if self.login_failure_memory_seconds <= self.login_lock_max_seconds:
            raise ValueError(
                "LOGIN_FAILURE_MEMORY_SECONDS must exceed LOGIN_LOCK_MAX_SECONDS: waiting out"
                " a lock must not wipe the count of failures"
            )
        return self

    @model_validator(mode="after")
    def _production_is_explicit(self) -> Settings:
        if self.env != "production":
            return self
        missing = []
        if not self.database_url and self.service == "all":  # a savings service has its own
            missing.append(
                "BACKOFFICE_ENV=production needs DATABASE_URL: set it to the PostgreSQL"
                " server's URL, e.g. postgresql://user:password@db:5432/backoffice"
            )
        if not self.nats_url:
            missing.append(
                "BACKOFFICE_ENV=production needs NATS_URL: set it to the NATS server's URL"
                " (with JetStream), e.g. nats://nats:4222"
            )
        if self.secret_key == DEV_SECRET or len(self.secret_key) < 32:
            missing.append(
                "BACKOFFICE_ENV=production needs BACKOFFICE_SECRET_KEY of 32+ random"
                " characters: set it, e.g. to the output of"
                " python3 -c 'import secrets; print(secrets.token_urlsafe(48))'"
            )
        if missing:
            raise ValueError("; ".join(missing))
        return self

    @property
    def is_production(self) -> bool:
        return self.env == "production"


class StartupRefused(RuntimeError):
    """The process must not start as configured; the message says what to change, in one line.

    The CLI prints it as it is, without a traceback, and exits non-zero.
    """


class SettingsError(StartupRefused):
    """The environment (or `.env`) holds settings the process cannot run with."""


def describe(exc: ValidationError) -> str:
    """A validation error as one line naming each variable and what to do about it."""
    problems = []
    for error in exc.errors(include_url=False, include_input=False):  # never echo a secret
        message = str(error["msg"]).removeprefix("Value error, ")
        where = ".".join(str(part) for part in error["loc"]).upper()
        problems.append(f"{where}: {message}" if where else message)
    return "; ".join(problems)


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings (cached; tests build their own `Settings`).

    Raises:
        SettingsError: a setting is missing or invalid (the message says which, in one line).
    """
    try:
        return Settings()
    except ValidationError as exc:
        raise SettingsError(describe(exc)) from None
