"""A database per service: where each URL comes from, and the refusal to share one."""

from __future__ import annotations

import uuid
from pathlib import Path

import psycopg
import pytest

from backoffice.core.config import Settings, StartupRefused
from backoffice.core.databases import DatabaseSpec, refuse_shared, resolve_url
from backoffice.core.embedded import driver_url, drop_database, stop_postgres
from backoffice.services import SAVINGS_USERS


def spec() -> DatabaseSpec:
    """The users service's spec under a database name of this test's own."""
    return DatabaseSpec(
        "savings-users", f"users_{uuid.uuid4().hex[:8]}", "savings_users_", SAVINGS_USERS.scripts
    )


def test_its_own_url_wins():
    settings = Settings(
        DATABASE_URL="postgresql://h/main", SAVINGS_USERS_DATABASE_URL="postgresql://h/users"
    )
    assert resolve_url(settings, SAVINGS_USERS) == "postgresql://h/users"
    assert SAVINGS_USERS.variable == "SAVINGS_USERS_DATABASE_URL"
    assert SAVINGS_USERS.pool(settings) == (4, 4)


def test_without_its_url_a_database_of_its_name_is_made_beside_database_url(database_url):
    service = spec()
    url = resolve_url(Settings(DATABASE_URL=database_url), service)
    try:
        assert url.split("?")[0].endswith(f"/{service.database}")
        with psycopg.connect(driver_url(url, None)) as conn:
            assert conn.execute("SELECT current_database()").fetchone() == (service.database,)
    finally:
        drop_database(database_url, service.database)


def test_a_database_that_cannot_be_made_is_a_one_line_refusal():
    settings = Settings(DATABASE_URL="postgresql://nobody@127.0.0.1:1/none")
    with pytest.raises(StartupRefused, match="SAVINGS_USERS_DATABASE_URL") as refusal:
        resolve_url(settings, spec())
    assert "\n" not in str(refusal.value)


def test_without_any_url_the_embedded_server_holds_it(tmp_path: Path):
    service = spec()
    url = resolve_url(Settings(BACKOFFICE_HOME=tmp_path), service)
    try:
        with psycopg.connect(driver_url(url, None)) as conn:
            assert conn.execute("SELECT current_database()").fetchone() == (service.database,)
    finally:
        stop_postgres(tmp_path)


def test_two_services_on_one_database_are_refused():
    refuse_shared({"main": "postgresql://h/a", "savings-users": "postgresql://h/b"})
    with pytest.raises(StartupRefused, match="main and savings-users"):
        refuse_shared(
            {"main": "postgresql://u@h:5432/a", "savings-users": "postgresql://v@h/a?sslmode=off"}
        )
    with pytest.raises(StartupRefused, match="same database"):
        refuse_shared({"a": "postgresql://u@/x?host=/tmp", "b": "postgresql://u@/x?host=/tmp"})


def test_every_service_says_which_databases_it_uses():
    from backoffice.app import SERVICE_DATABASES
    from backoffice.core.config import SERVICES

    assert tuple(SERVICE_DATABASES) == SERVICES
