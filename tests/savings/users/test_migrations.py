"""The users service's own Alembic history."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from backoffice.core import migrations
from backoffice.core.embedded import driver_url
from backoffice.savings.users.models import UsersBase
from tests.live import scratch_database
from tests.savings.users.conftest import USERS_SCRIPTS


@pytest.fixture
def empty_users_url(server_url: str) -> Iterator[str]:
    yield from scratch_database(server_url, "savings_users_empty")


def _tables(url: str) -> set[str]:
    engine = create_engine(driver_url(url, "psycopg"))
    try:
        with engine.connect() as conn:
            return set(inspect(conn).get_table_names())
    finally:
        engine.dispose()


def test_history_upgrades_downgrades_to_base_and_upgrades_again(empty_users_url: str) -> None:
    assert migrations.head_revisions(USERS_SCRIPTS) == {"users_0002"}
    expected = {"customers", "outbox", "alembic_version"}
    migrations.upgrade(empty_users_url, scripts=USERS_SCRIPTS)
    assert _tables(empty_users_url) == expected
    migrations.downgrade(empty_users_url, "base", scripts=USERS_SCRIPTS)
    assert _tables(empty_users_url) == {"alembic_version"}
    migrations.upgrade(empty_users_url, scripts=USERS_SCRIPTS)
    assert _tables(empty_users_url) == expected


def test_models_match_the_migrated_schema(users_database_url: str) -> None:
    engine = create_engine(driver_url(users_database_url, "psycopg"))
    try:
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), UsersBase.metadata)
    finally:
        engine.dispose()
    assert diff == [], f"models and migrations disagree: {diff}"
