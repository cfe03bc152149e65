"""The `REAL_POOL` test mode is real: there, statements commit one by one, as in production.

Each test runs in both modes and expects the opposite answer in each: what the rolled-back test
transaction hides is exactly what the real pool shows. A second connection (a fresh asyncpg
one, like another request's) is the witness.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import pytest
from fastapi import FastAPI

from backoffice.core.db import Driver
from backoffice.core.embedded import driver_url
from tests.conftest import REAL_POOL, on_both_pools
from tests.expenses.factories import Org
from tests.expenses.test_workflow import submit

pytestmark = on_both_pools


@pytest.fixture
async def other_connection(served_app: FastAPI) -> AsyncIterator[Any]:
    """A connection of its own to the database the app serves (another request, say)."""
    connection = await asyncpg.connect(driver_url(served_app.state.db.url, None))
    yield connection
    await connection.close()


async def test_the_endpoints_commit_each_statement_on_the_real_pool(
    client, acme: Org, other_connection: Any, pool_mode: str
):
    grace = acme["Grace"]
    created = await submit(client, grace.headers, grace.id, acme.policies["Large Equipment"], 2500)
    assert created.status_code == 201, created.text
    expense_id = created.json()["expense_id"]

    seen = await other_connection.fetchrow(
        "SELECT (SELECT count(*) FROM expenses WHERE id = $1) AS expenses,"
        " (SELECT count(*) FROM expense_approvals WHERE expense_id = $1) AS steps,"
        " (SELECT count(*) FROM expense_audit_events WHERE expense_id = $1) AS events",
        expense_id,
    )
    if pool_mode == REAL_POOL:
        assert tuple(seen) == (1, 3, 1)  # committed by the endpoint's one write
    else:
        assert tuple(seen) == (0, 0, 0)  # still inside the test's transaction


async def test_on_the_real_pool_each_statement_is_a_transaction_of_its_own(
    statement_pool: Driver, other_connection: Any, pool_mode: str
):
    first = await statement_pool.fetchval("SELECT txid_current()")
    second = await statement_pool.fetchval("SELECT txid_current()")
    assert (first != second) is (pool_mode == REAL_POOL)

    # A lock taken by one statement: held by the test transaction, but released by the real
    # pool as soon as its statement commits, so nothing may rely on it in the next statement.
    assert await statement_pool.fetchval("SELECT pg_try_advisory_xact_lock(4242)")
    free = await other_connection.fetchval("SELECT pg_try_advisory_xact_lock(4242)")
    assert free is (pool_mode == REAL_POOL)


async def test_half_of_a_two_statement_write_shows_on_the_real_pool(
    statement_pool: Driver, session, acme: Org, other_connection: Any, pool_mode: str
):
    if pool_mode == REAL_POOL:
        await session.commit()  # the company the statements below refer to
    grace = acme["Grace"]
    # The mistake the pool's rules forbid: a submission written as two statements.
    expense_id = await statement_pool.fetchval(
        "INSERT INTO expenses (company_id, submitter_id, policy_id, amount, description, status)"
        " VALUES ($1, $2, $3, 10, 'half', 'pending') RETURNING id",
        acme.company_id,
        grace.id,
        acme.policies["Small Equipment"],
    )
    # ... and before its chain is written, another request (or a crash) comes along:
    orphans = await other_connection.fetchval(
        "SELECT count(*) FROM expenses e WHERE id = $1"
        " AND NOT EXISTS (SELECT FROM expense_approvals a WHERE a.expense_id = e.id)",
        expense_id,
    )
    assert orphans == (1 if pool_mode == REAL_POOL else 0)
    await statement_pool.fetchval("DELETE FROM expenses WHERE id = $1 RETURNING id", expense_id)
