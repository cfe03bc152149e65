"""Fixtures: a migrated accounting database, its event store and the service on it.

The event store commits (the library has no outer transaction to roll back), so tests keep
apart by using fresh user ids (uuid4) and unique plan names, not by rolling back.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from backoffice.core import migrations
from backoffice.core.db import Database
from backoffice.core.embedded import driver_url
from backoffice.savings.accounting.service import AccountingService
from backoffice.savings.accounting.store import AccountingStore, eventsourcing_env
from tests.live import scratch_database

SCRIPTS = "backoffice.savings.accounting:migrations"
POOL_SIZE = 4


@pytest.fixture(scope="session")
def accounting_database_url(server_url: str) -> Iterator[str]:
    """A scratch accounting database migrated to head, dropped at the end of the session."""
    for url in scratch_database(server_url, "savings_accounting"):
        migrations.upgrade(url, scripts=SCRIPTS)
        yield url


@pytest.fixture(scope="session")
def store(accounting_database_url: str) -> Iterator[AccountingStore]:
    """The event store on the accounting database."""
    app = AccountingStore(env=eventsourcing_env(accounting_database_url, pool_size=POOL_SIZE))
    yield app
    app.close()


@pytest.fixture(scope="session")
async def database(accounting_database_url: str) -> AsyncIterator[Database]:
    """An async engine on the accounting database (for the tests' own reads)."""
    db = Database(accounting_database_url, pool_size=2, max_overflow=0)
    yield db
    await db.dispose()


@pytest.fixture(scope="session")
async def service(
    store: AccountingStore, accounting_database_url: str
) -> AsyncIterator[AccountingService]:
    """The accounting service on the session's store."""
    db = Database(accounting_database_url, pool_size=POOL_SIZE, max_overflow=0)
    yield AccountingService(store, db, threads=POOL_SIZE)
    await db.dispose()


@pytest.fixture(scope="session")
def plain_url(accounting_database_url: str) -> str:
    """The accounting database's URL for psycopg (the tests' direct checks)."""
    return driver_url(accounting_database_url, None)
