"""The accounting schema: its Alembic history, the library's tables, and the indexes queries use."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, func, select

from backoffice.core import migrations
from backoffice.core.db import Database, Sql, driver_of
from backoffice.core.embedded import driver_url
from backoffice.savings.accounting import queries
from backoffice.savings.accounting.models import AccountingBase, LedgerEntry
from backoffice.savings.accounting.store import AccountingStore, eventsourcing_env
from tests.live import scratch_database
from tests.savings.accounting.conftest import SCRIPTS

LIBRARY_TABLES = ("accounting_events", "accounting_snapshots")


@pytest.fixture
def empty_url(server_url: str) -> Iterator[str]:
    """A scratch database with nothing in it."""
    yield from scratch_database(server_url, "accounting_empty")


def _tables(url: str) -> set[str]:
    with psycopg.connect(driver_url(url, None)) as conn:
        rows = conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
        ).fetchall()
    return {row[0] for row in rows} - {"alembic_version"}


def test_upgrade_and_downgrade_to_base(empty_url: str) -> None:
    migrations.upgrade(empty_url, scripts=SCRIPTS)
    assert _tables(empty_url) == {
        "plans",
        "accounts",
        "ledger_entries",
        "plan_changes",
        "processed_messages",
        *LIBRARY_TABLES,
    }
    migrations.downgrade(empty_url, "base", scripts=SCRIPTS)
    assert _tables(empty_url) == set()
    with psycopg.connect(driver_url(empty_url, None)) as conn:
        left = conn.execute("SELECT count(*) FROM pg_type WHERE typname = 'stored_event_uuid'")
        assert left.fetchone() == (0,)
    migrations.upgrade(empty_url, scripts=SCRIPTS)  # and again from scratch
    assert "ledger_entries" in _tables(empty_url)


def test_the_models_match_the_migration(plain_url: str) -> None:
    engine = create_engine(driver_url(plain_url, "psycopg"))
    try:
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), AccountingBase.metadata)
    finally:
        engine.dispose()
    assert diff == []


def _library_schema(url: str) -> dict[str, Any]:
    """What the library's DDL defines: columns, constraints, indexes, options, type, function."""
    with psycopg.connect(driver_url(url, None)) as conn:

        def rows(sql: str) -> list[tuple[Any, ...]]:
            return sorted(conn.execute(sql, (list(LIBRARY_TABLES),)).fetchall())

        return {
            "columns": rows(
                "SELECT table_name, column_name, data_type, is_nullable, column_default"
                " FROM information_schema.columns WHERE table_name = ANY(%s)"
            ),
            "constraints": rows(
                "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid)"
                " FROM pg_constraint WHERE conrelid::regclass::text = ANY(%s)"
            ),
            "indexes": rows(
                "SELECT tablename, indexname, indexdef FROM pg_indexes WHERE tablename = ANY(%s)"
            ),
            "options": rows("SELECT relname, reloptions FROM pg_class WHERE relname = ANY(%s)"),
            "type": conn.execute(
                "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute"
                " WHERE attrelid = 'stored_event_uuid'::regclass ORDER BY attnum"
            ).fetchall(),
            "function": conn.execute(
                "SELECT pg_get_functiondef('es_insert_events_uuid'::regproc)"
            ).fetchall(),
        }


def test_alembic_makes_exactly_the_librarys_tables(
    empty_url: str, accounting_database_url: str
) -> None:
    # The library creates its own tables in an empty database...
    env = eventsourcing_env(empty_url, pool_size=1) | {"CREATE_TABLE": "yes"}
    AccountingStore(env=env).close()
    assert _tables(empty_url) == set(LIBRARY_TABLES)
    # ... exactly as the migration did,
    assert _library_schema(empty_url) == _library_schema(accounting_database_url)
    # and, on the migrated database, finds nothing to do.
    env = eventsourcing_env(accounting_database_url, pool_size=1) | {"CREATE_TABLE": "yes"}
    AccountingStore(env=env).close()
    assert _library_schema(empty_url) == _library_schema(accounting_database_url)


def _plan_of(explained: Any) -> list[dict[str, Any]]:
    """Every node of an EXPLAIN (FORMAT JSON) plan."""
    document = json.loads(explained) if isinstance(explained, str) else explained
    nodes: list[dict[str, Any]] = []
    stack = [document[0]["Plan"]]
    while stack:
        node = stack.pop()
        nodes.append(node)
        stack.extend(node.get("Plans", []))
    return nodes


async def test_balance_at_and_ranges_are_index_lookups(database: Database) -> None:
    account = uuid.uuid4()
    start = datetime(2025, 1, 1, tzinfo=UTC)
    async with database.sessionmaker() as session:  # rolled back: the rows are for this test
        driver = await driver_of(session)
        # Many accounts' credits, so a sequential scan is the planner's worst choice.
        await driver.fetch(
            "INSERT INTO ledger_entries (entry_id, account_id, seq, kind, at, amount, main,"
            " savings, main_balance, savings_balance, originator_version, idempotency_key,"
            " request_hash)"
            " SELECT gen_random_uuid(), CASE WHEN n % 2 = 0 THEN $1 ELSE gen_random_uuid() END,"
            " n, 'credit', $2::timestamptz + n * interval '1 minute', 1, 1, 0, n, 0, n, n::text,"
            " 'h'"
            " FROM generate_series(1, 20000) AS n",
            account,
            start,
        )
        await driver.fetch(
            "INSERT INTO accounts VALUES ($1, 'a@b.c', 'A', NULL, $2, NULL)", account, start
        )
        await driver.fetch("ANALYZE ledger_entries")
        await driver.fetch("ANALYZE accounts")
        balance = Sql(queries.balance_statement(account, start + timedelta(days=3)))
        in_range = Sql(
            select(LedgerEntry.entry_id)
            .where(
                LedgerEntry.account_id == account,
                LedgerEntry.at >= start,
                LedgerEntry.at < start + timedelta(days=1),
            )
            .order_by(LedgerEntry.at, LedgerEntry.seq)
            .limit(50)
        )
        count = Sql(
            select(func.count())
            .select_from(LedgerEntry)
            .where(
                LedgerEntry.account_id == account,
                LedgerEntry.at >= start,
                LedgerEntry.at < start + timedelta(days=1),
            )
        )
        for statement in (balance, in_range, count):
            explained = await driver.fetchval(
                "EXPLAIN (FORMAT JSON) " + statement.text, *statement.args({})
            )
            nodes = _plan_of(explained)
            # (`accounts` is tiny here: a sequential scan of it is the right choice.)
            scans = {n["Node Type"] for n in nodes if n.get("Relation Name") == "ledger_entries"}
            assert "Seq Scan" not in scans, nodes
            assert "Sort" not in {n["Node Type"] for n in nodes}, nodes
            assert {n.get("Index Name") for n in nodes} & {"ix_ledger_entries_account_id"}, nodes
        await session.rollback()


async def test_the_customers_on_a_plan_walk_their_index_in_order(database: Database) -> None:
    async with database.sessionmaker() as session:  # rolled back: the rows are for this test
        driver = await driver_of(session)
        plan_id = await driver.fetchval(
            "INSERT INTO plans (name, kind, value) VALUES ($1, 'percentage', 5) RETURNING id",
            f"indexed {uuid.uuid4()}",
        )
        # Many accounts on other plans or none, some closed, so a scan is the worst choice.
        await driver.fetch(
            "INSERT INTO accounts (account_id, email, full_name, plan_id, opened_at, closed_at)"
            " SELECT gen_random_uuid(), 'c' || n || '@example.com', 'C',"
            " CASE WHEN n % 50 = 0 THEN $1::bigint ELSE NULL END, now(),"
            " CASE WHEN n % 100 = 0 THEN now() ELSE NULL END"
            " FROM generate_series(1, 20000) AS n",
            plan_id,
        )
        await driver.fetch("ANALYZE accounts")
        listed = queries.customers_on_plan_statement(plan_id)
        statement = Sql(listed.limit(50).offset(0))
        explained = await driver.fetchval(
            "EXPLAIN (FORMAT JSON) " + statement.text, *statement.args({})
        )
        nodes = _plan_of(explained)
        assert {n.get("Index Name") for n in nodes} & {"ix_accounts_plan_id_email"}, nodes
        assert "Sort" not in {n["Node Type"] for n in nodes}, nodes
        assert "Seq Scan" not in {n["Node Type"] for n in nodes}, nodes
        items, total = await queries.customers_on_plan(session, plan_id, limit=3, offset=0)
        assert total == 200  # every 50th account, less the closed ones (every 100th)
        assert [item["email"] for item in items] == sorted(item["email"] for item in items)
        await session.rollback()
