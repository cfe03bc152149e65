"""An interest run killed with SIGKILL mid-way and run again: no month lost, none posted twice.

`backoffice savings post-interest` runs in a process of its own on a scratch accounting
database of `ACCOUNTS` accounts, each with a plan paying interest and savings since the start
of a past month. Their history is made through the event store (the aggregates' events and the
projection rows the real recorder writes, `save_accounts` a chunk at a time: quick), then the
PROJECTIONS are moved back in time with SQL (`accounts.opened_at`, `ledger_entries.at`,
`plan_changes.at`): posting reads only those, and the database's clock books everything at now.

The run is killed once its first batch has committed (`accounts.interest_through` set on some
accounts, not on all), then run again to the end, then once more (in this process). Every account must then hold
exactly one interest entry per month, each equal to the issue's rule computed here in exact
fractions (the balance is constant, so a month is balance x rate x days / 365, half-up; a
day earns the lowest rate in force during it, and 1 January had none until the plan came at
00:00:01, so it earns nothing).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from fractions import Fraction

import psycopg
import pytest

from backoffice.core import migrations
from backoffice.core.embedded import driver_url
from backoffice.savings.accounting.aggregate import Account
from backoffice.savings.accounting.posting import BATCH, Posted, post_interest
from backoffice.savings.accounting.service import AccountingService
from backoffice.savings.accounting.store import AccountingStore, eventsourcing_env
from tests.live import TEST_HOME, scratch_database

SCRIPTS = "backoffice.savings.accounting:migrations"
ACCOUNTS = 1100  # three batches of `BATCH` (500): the kill lands after the first
RATE = Decimal("0.0375")
THROUGH = date(2024, 3, 31)
# The days at RATE: 2024 is a leap year; 1 January had 0% in force until 00:00:01.
DAYS = {"2024-01": 30, "2024-02": 29, "2024-03": 31}


def saved(number: int) -> Decimal:
    """Account `number`'s savings: varied, with cents."""
    return Decimal(f"{100 + number * 37 % 9000}.{number * 13 % 100:02d}")


def reference(savings: Decimal, days: int) -> Decimal:
    """A month of a constant balance by the issue's rule, exactly, then half-up to the cent."""
    cents = Fraction(savings) * Fraction(RATE) * days / 365 * 100
    whole = cents.numerator // cents.denominator
    rounded = whole + (1 if cents - whole >= Fraction(1, 2) else 0)
    return Decimal(rounded) / 100


@pytest.fixture
def crowded_url(server_url: str) -> Iterator[str]:
    """A scratch accounting database with `ACCOUNTS` accounts saving since 1 January 2024."""
    for url in scratch_database(server_url, "savings_posting_faults"):
        migrations.upgrade(url, scripts=SCRIPTS)
        plain = driver_url(url, None)
        with psycopg.connect(plain) as conn:
            row = conn.execute(
                "INSERT INTO plans (name, kind, value, interest_rate)"
                " VALUES ('all saved', 'percentage', 100, %s) RETURNING id",
                (RATE,),
            ).fetchone()
            assert row is not None
            plan_id = int(row[0])
        store = AccountingStore(env=eventsourcing_env(url, pool_size=1))
        try:
            for start in range(0, ACCOUNTS, 550):
                chunk = []
                for number in range(start, start + 550):
                    account = Account(
                        user_id=uuid.UUID(int=number + 1),
                        email=f"{number}@example.com",
                        full_name="C",
                    )
                    account.assign_plan(plan_id, "percentage", Decimal(100), RATE, 0)
                    account.credit(
                        uuid.uuid4(), saved(number), idempotency_key="k", request_hash="h"
                    )
                    chunk.append(account)
                store.save_accounts(chunk)
        finally:
            store.close()
        with psycopg.connect(plain) as conn:
            conn.execute("UPDATE accounts SET opened_at = '2024-01-01 00:00:00+00'")
            conn.execute("UPDATE plan_changes SET at = '2024-01-01 00:00:01+00'")
            conn.execute("UPDATE ledger_entries SET at = '2024-01-01 12:00:00+00'")
        yield url


def command(url: str) -> tuple[list[str], dict[str, str]]:
    """`backoffice savings post-interest --through THROUGH` and its environment."""
    env = {
        **os.environ,
        "BACKOFFICE_ENV": "test",
        "BACKOFFICE_HOME": str(TEST_HOME),
        "SAVINGS_ACCOUNTING_DATABASE_URL": url,
        "LOG_LEVEL": "WARNING",
    }
    env.pop("DATABASE_URL", None)
    args = [sys.executable, "-m", "backoffice", "savings", "post-interest"]
    return [*args, "--through", THROUGH.isoformat()], env


def settled(conn: psycopg.Connection) -> int:
    row = conn.execute(
        "SELECT count(*) FROM accounts WHERE interest_through IS NOT NULL"
    ).fetchone()
    assert row is not None
    return int(row[0])


async def post_again(url: str) -> Posted:
    """The same run once more, in this process (a third process would only cost its start)."""
    service = await AccountingService.open(url, store_pool_size=1, db_pool_size=1)
    try:
        return await post_interest(service, THROUGH)
    finally:
        await service.close()


def test_a_run_killed_mid_way_and_run_again_posts_every_month_once(crowded_url):
    args, env = command(crowded_url)
    plain = driver_url(crowded_url, None)
    with psycopg.connect(plain, autocommit=True) as conn:
        run = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 60
        while settled(conn) == 0:
            assert run.poll() is None, run.communicate()
            assert time.monotonic() < deadline, "no batch committed in a minute"
            time.sleep(0.01)
        run.kill()  # SIGKILL: mid-run, a batch committed and the next under way
        run.communicate(timeout=10)
        assert run.returncode == -9
        at_kill = settled(conn)
        # The kill came mid-run, and a batch commits whole (one save) or not at all.
        assert 0 < at_kill < ACCOUNTS
        assert at_kill % BATCH == 0

        rerun = subprocess.run(args, env=env, capture_output=True, text=True, timeout=300)
        assert rerun.returncode == 0, rerun.stderr
        left = ACCOUNTS - at_kill
        assert f": {left} accounts, {3 * left} months settled, {3 * left} entries" in rerun.stdout

        once_more = asyncio.run(post_again(crowded_url))
        assert (once_more.accounts, once_more.months, once_more.entries) == (0, 0, 0)

        assert conn.execute("SELECT DISTINCT interest_through FROM accounts").fetchall() == [
            (THROUGH,)
        ]
        rows = conn.execute(
            "SELECT account_id, period, amount, savings, main FROM ledger_entries"
            " WHERE kind = 'interest'"
        ).fetchall()
    posted: dict[tuple[uuid.UUID, str], Decimal] = {}
    for account_id, period, amount, savings, main in rows:
        assert (account_id, period) not in posted, f"{account_id} {period} posted twice"
        assert (savings, main) == (amount, Decimal("0.00"))
        posted[account_id, period] = amount
    wanted = {
        (uuid.UUID(int=number + 1), period): reference(saved(number), days)
        for number in range(ACCOUNTS)
        for period, days in DAYS.items()
    }
    assert posted == wanted
    # Not a vacuous equality: some months earned cents, and more in a longer month.
    assert min(wanted.values()) > 0
    assert posted[uuid.UUID(int=1), "2024-01"] > posted[uuid.UUID(int=1), "2024-02"]
