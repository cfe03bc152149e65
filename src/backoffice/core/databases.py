"""A database per service: where each one's URL comes from, and the refusal to share one.

Each service that keeps data names its database with a `DatabaseSpec`: the settings that give
its URL and pool size, its name on a shared server, and its own Alembic history. Core knows no
service by name; `backoffice.services` lists them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import psycopg
from psycopg.conninfo import conninfo_to_dict

from backoffice.core.config import Settings, StartupRefused
from backoffice.core.embedded import driver_url, ensure_database, start_postgres, with_database


@dataclass(frozen=True)
class DatabaseSpec:
    """A service's own database.

    Attributes:
        service: the service's name, as `backoffice db upgrade` and `backoffice serve` take it.
        database: its name on a server shared with other services (the embedded server, or
            the server of `DATABASE_URL` when the service's own URL is unset).
        prefix: the prefix of its settings: `{prefix}database_url`, `{prefix}db_pool_size`
            and `{prefix}db_max_overflow` (the main database's prefix is empty).
        scripts: its Alembic script location (each service has a history of its own).
    """

    service: str
    database: str
    prefix: str
    scripts: str

    @property
    def variable(self) -> str:
        """The environment variable of its URL, e.g. `SAVINGS_USERS_DATABASE_URL`."""
        return f"{self.prefix}database_url".upper()

    def configured_url(self, settings: Settings) -> str | None:
        """Its URL as configured, or None when its variable is unset."""
        url: str | None = getattr(settings, f"{self.prefix}database_url")
        return url

    def pool(self, settings: Settings) -> tuple[int, int]:
        """Its connection pool's size and overflow.

        Per service, so that every service in one process stays well inside PostgreSQL's
        default 100 connections (docs/decisions.md adds them up).
        """
        size: int = getattr(settings, f"{self.prefix}db_pool_size")
        overflow: int = getattr(settings, f"{self.prefix}db_max_overflow")
        return size, overflow


def resolve_url(settings: Settings, spec: DatabaseSpec) -> str:
    """The URL of `spec`'s database, creating the database when it is derived.

    Its own variable wins. Without it, the database is `spec.database` on the server of
    `DATABASE_URL` (created there if missing), or on the embedded server when that is unset
    too: a service never falls back to another service's database.

    Raises:
        StartupRefused: the derived database does not exist and cannot be created.
    """
    explicit = spec.configured_url(settings)
    if explicit:
        return explicit
    if settings.database_url:
        try:
            ensure_database(settings.database_url, spec.database)
        except psycopg.Error as exc:
            reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise StartupRefused(
                f"{spec.variable} is unset and the database {spec.database!r} cannot be created"
                f" on DATABASE_URL's server ({reason}): create it, or set {spec.variable}"
            ) from None
        return with_database(settings.database_url, spec.database)
    admin = start_postgres(settings.home)
    ensure_database(admin, spec.database)
    return with_database(admin, spec.database)


def refuse_shared(urls: Mapping[str, str]) -> None:
    """Refuse two services (name: URL) whose URLs name the same database of the same server.

    Raises:
        StartupRefused: two of them would share a database.
    """
    seen: dict[tuple[str, str, str], str] = {}
    for service, url in urls.items():
        key = _identity(url)
        other = seen.setdefault(key, service)
        if other != service:
            raise StartupRefused(
                f"{other} and {service} are configured with the same database {key[2]!r}"
                f" on {key[0]}:{key[1]}: each service needs a database of its own"
            )


def _identity(url: str) -> tuple[str, str, str]:
    """(host, port, database) of a PostgreSQL URL, with libpq's defaults filled in."""
    parts = conninfo_to_dict(driver_url(url, None))
    host = str(parts.get("host") or parts.get("hostaddr") or "localhost")
    port = str(parts.get("port") or "5432")
    return host, port, str(parts.get("dbname") or parts.get("user") or "")
