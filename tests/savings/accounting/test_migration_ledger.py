"""accounting_0005: today's `credits` become the ledger whole, and come back while it holds only them.

The rows are inserted at accounting_0004 as the credits' recorder wrote them: one per credit,
with the running balances and the idempotency key, numbered by the account's event version.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from sqlalchemy.exc import DBAPIError

from backoffice.core import migrations
from backoffice.core.embedded import driver_url
from tests.live import scratch_database
from tests.savings.accounting.conftest import SCRIPTS

START = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
CREDIT_COLUMNS = (
    "credit_id, account_id, at, amount, main, savings, main_balance, savings_balance,"
    " originator_version, idempotency_key, request_hash"
)


@pytest.fixture
def old_url(server_url: str) -> Iterator[str]:
    """A scratch database at accounting_0004, the schema before the ledger."""
    for url in scratch_database(server_url, "accounting_ledger_migration"):
        migrations.upgrade(url, "accounting_0004", scripts=SCRIPTS)
        yield url


def _old_credits(accounts: int = 3, each: int = 4) -> list[tuple[Any, ...]]:
    """Credits as the old recorder wrote them: running balances, versions from 2 (1: opened)."""
    rows = []
    for a in range(accounts):
        account = uuid.uuid4()
        main = savings = Decimal(0)
        for n in range(each):
            amount = Decimal(10 * (a + 1)) + Decimal(n) / 100
            saved = (amount / 4).quantize(Decimal("0.01"))
            main, savings = main + amount - saved, savings + saved
            at = START + timedelta(days=a, hours=n, microseconds=n)
            parts = (amount, amount - saved, saved, main, savings)
            rows.append((uuid.uuid4(), account, at, *parts, n + 2, f"key-{a}-{n}", f"h-{a}-{n}"))
    return rows


def _fill(conn: psycopg.Connection[Any], credits: list[tuple[Any, ...]]) -> None:
    for account in {row[1] for row in credits}:
        conn.execute(
            "INSERT INTO accounts (account_id, email, full_name, opened_at) VALUES (%s, %s, 'A', %s)",
            (account, f"{account}@example.com", START),
        )
        conn.execute(
            "INSERT INTO accounting_snapshots (originator_id, originator_version, topic, state)"
            " VALUES (%s, 3, 'backoffice.savings.accounting.aggregate:Account', '{}')",
            (account,),
        )
    # Not in version order: the ledger numbers them by version, not by insertion.
    for row in reversed(credits):
        conn.execute(
            f"INSERT INTO credits ({CREDIT_COLUMNS}) VALUES ({', '.join(['%s'] * 11)})", row
        )


def _credits(conn: psycopg.Connection[Any]) -> list[tuple[Any, ...]]:
    return conn.execute(f"SELECT {CREDIT_COLUMNS} FROM credits ORDER BY credit_id").fetchall()


def test_the_ledger_keeps_every_credit_and_gives_it_back(old_url: str) -> None:
    plain = driver_url(old_url, None)
    credits = _old_credits()
    with psycopg.connect(plain) as conn:
        _fill(conn, credits)
        before = _credits(conn)
    assert len(before) == len(credits) == 12
    migrations.upgrade(old_url, scripts=SCRIPTS)
    with psycopg.connect(plain) as conn:
        ledger = conn.execute(
            "SELECT entry_id, account_id, at, amount, main, savings, main_balance,"
            " savings_balance, originator_version, idempotency_key, request_hash, kind, seq,"
            " reverses, reason, period FROM ledger_entries ORDER BY entry_id"
        ).fetchall()
        snapshots = conn.execute("SELECT count(*) FROM accounting_snapshots").fetchone()
        gone = conn.execute("SELECT to_regclass('credits')").fetchone()
    # Every credit, as it was: same id, instant, amounts, balances, key and request hash.
    assert [row[:11] for row in ledger] == before
    assert all(row[11] == "credit" and row[13:] == (None, None, None) for row in ledger)
    # Numbered 1..n per account in the order of their versions.
    for account in {row[1] for row in credits}:
        mine = sorted((row for row in ledger if row[1] == account), key=lambda r: r[8])
        assert [row[12] for row in mine] == list(range(1, len(mine) + 1))
    assert snapshots == (0,)  # they predate the entry count: dropped, rebuilt from events
    assert gone == (None,)
    # Down again while the ledger holds only credits: `credits` exactly as it was.
    migrations.downgrade(old_url, "accounting_0004", scripts=SCRIPTS)
    with psycopg.connect(plain) as conn:
        assert _credits(conn) == before
        assert conn.execute("SELECT to_regclass('ledger_entries')").fetchone() == (None,)


TOPIC = "backoffice.savings.accounting.aggregate:Account."


@pytest.mark.parametrize(
    ("topic", "state"),
    [
        ("Withdrawn", {}),
        ("Transferred", {}),
        ("InterestPosted", {"amount": "0.00"}),  # a month that paid nothing: no entry, an event
        ("Reversed", {}),
        ("PlanAssigned", {"plan_id": 1, "interest_rate": "0.02", "lock_in_days": 30}),
    ],
)
def test_going_back_is_refused_once_events_newer_than_credits_are_stored(
    old_url: str, topic: str, state: dict[str, object]
) -> None:
    plain = driver_url(old_url, None)
    credits = _old_credits(accounts=1, each=2)
    with psycopg.connect(plain) as conn:
        _fill(conn, credits)
    migrations.upgrade(old_url, scripts=SCRIPTS)
    with psycopg.connect(plain) as conn:
        conn.execute(
            "INSERT INTO accounting_events (originator_id, originator_version, topic, state)"
            " VALUES (%s, 99, %s, %s)",
            (credits[0][1], TOPIC + topic, json.dumps(state).encode()),
        )
    with pytest.raises(DBAPIError, match="newer than accounting_0004"):
        migrations.downgrade(old_url, "accounting_0004", scripts=SCRIPTS)
    with psycopg.connect(plain) as conn:
        assert conn.execute("SELECT count(*) FROM ledger_entries").fetchone() == (2,)
        assert conn.execute("SELECT version_num FROM alembic_version").fetchone() == (
            "accounting_0005",
        )


def test_going_back_keeps_a_plan_assigned_as_the_old_code_wrote_it(old_url: str) -> None:
    plain = driver_url(old_url, None)
    credits = _old_credits(accounts=1, each=1)
    with psycopg.connect(plain) as conn:
        _fill(conn, credits)
    migrations.upgrade(old_url, scripts=SCRIPTS)
    with psycopg.connect(plain) as conn:
        old_plan = {"plan_id": 1, "kind": "percentage", "value": "10.00"}
        conn.execute(
            "INSERT INTO accounting_events (originator_id, originator_version, topic, state)"
            " VALUES (%s, 99, %s, %s)",
            (credits[0][1], TOPIC + "PlanAssigned", json.dumps(old_plan).encode()),
        )
    migrations.downgrade(old_url, "accounting_0004", scripts=SCRIPTS)
    with psycopg.connect(plain) as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchone() == (
            "accounting_0004",
        )
