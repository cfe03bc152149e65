"""Transactions ETL tests: a database of their own, emptied before each load."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from backoffice.core import migrations
from backoffice.ingest.pipeline import libpq_url
from tests.live import scratch_database


@pytest.fixture(scope="session")
def etl_database(server_url: str) -> Iterator[str]:
    """A committed scratch database migrated to head (libpq URL), for the ETL's commits."""
    for url in scratch_database(server_url, "backoffice_etl"):
        migrations.upgrade(url)
        yield libpq_url(url)


def reset_etl(url: str) -> None:
    """Empty the transactions, their summary and the engine's audit."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "TRUNCATE transactions, import_runs, import_rejects, import_duplicates,"
            " import_task_events RESTART IDENTITY"
        )


@pytest.fixture
def etl_url(etl_database: str) -> str:
    """The ETL's database with nothing loaded yet."""
    reset_etl(etl_database)
    return etl_database
