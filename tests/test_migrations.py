from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from backoffice.core import migrations
from backoffice.core.db import Base
from backoffice.core.embedded import driver_url


def _tables(url: str) -> set[str]:
    engine = create_engine(driver_url(url, "psycopg"))
    try:
        with engine.connect() as conn:
            return set(inspect(conn).get_table_names())
    finally:
        engine.dispose()


def test_every_migration_upgrades_downgrades_and_upgrades_again(empty_database_url):
    migrations.upgrade(empty_database_url)
    expected = set(Base.metadata.tables) | {"alembic_version"}
    assert expected <= _tables(empty_database_url)

    migrations.downgrade(empty_database_url, "base")
    assert _tables(empty_database_url) <= {"alembic_version"}

    migrations.upgrade(empty_database_url)
    assert expected <= _tables(empty_database_url)


def test_models_match_the_migrated_schema(database_url):
    engine = create_engine(driver_url(database_url, "psycopg"))
    try:
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    finally:
        engine.dispose()
    assert diff == [], f"models and migrations disagree: {diff}"
