"""Posting interest over past months against an independent computation (issue 20).

Booking instants are the database's clock, so whatever the service writes happens "now". To
give accounts a history over past months, each test builds it through the service (accounts,
plans, credits, transfers, closings: the aggregates and projections the real code writes) on a
SCRATCH accounting database of its own (posting settles every account in the database), then
moves the PROJECTIONS back in time with SQL: `ledger_entries.at` (in the order of `seq`, so the
running balances stay true), `plan_changes.at`, `accounts.opened_at` and `closed_at`. Posting
reads only the projections (`queries.due_accounts`, `queries.interest_inputs`); the aggregates
know no instants that matter to it. The interest entries a run writes are booked now, after
the whole backdated history: a later run's months do not see them, nor does the reference.

The reference is written here from the issue's words, not from `interest.py`: each day from the
later of the month's first and the day the account opened earns its end-of-day savings balance
(every movement before the next UTC midnight) times the lowest rate in force at any instant of
the day (the one in force as it starts, 0 before any plan, and every one a plan change during it
puts in force: a brief switch never earns more), / 365
(Actual/365, a leap year's 29 February a day like any other), in exact fractions; the month's
sum is posted rounded half-up to the cent, and a month that earns 0.00 is settled without an
entry.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Any

import psycopg
import pytest
from typer.testing import CliRunner

from backoffice.cli import app
from backoffice.core import migrations
from backoffice.core.config import get_settings
from backoffice.core.embedded import driver_url
from backoffice.core.errors import ValidationFailed
from backoffice.core.money import MAX_MONEY
from backoffice.savings import cli, tasks
from backoffice.savings.accounting.posting import due_total, post_interest
from backoffice.savings.accounting.service import AccountingService
from tests.live import TEST_HOME, scratch_database

SCRIPTS = "backoffice.savings.accounting:migrations"
SHARE = Decimal(50)  # every plan here sends half of a credit to savings


def at(text: str) -> datetime:
    """A UTC instant from `YYYY-MM-DD HH:MM:SS`."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@dataclass
class History:
    """An account's life: when it opened, then operations at instants, oldest first.

    An operation is ("plan", rate), ("credit", amount: half to savings), ("out", amount: a
    transfer from savings to main) or ("close", 0).
    """

    opened: datetime
    operations: list[tuple[datetime, str, Decimal]] = field(default_factory=list)

    def savings(self) -> list[tuple[datetime, Fraction]]:
        """The changes to savings, by instant."""
        changes = []
        for when, kind, value in self.operations:
            if kind == "credit":
                changes.append((when, Fraction(value) / 2))
            elif kind == "out":
                changes.append((when, -Fraction(value)))
        return changes

    def rates(self) -> list[tuple[datetime, Fraction]]:
        """The rate changes, by instant."""
        return [(when, Fraction(v)) for when, kind, v in self.operations if kind == "plan"]

    @property
    def closed(self) -> bool:
        return any(kind == "close" for _, kind, _ in self.operations)


def half_up(exact: Fraction) -> Fraction:
    """An exact amount rounded half-up to the cent (amounts here are never negative)."""
    cents = exact * 100
    whole = cents.numerator // cents.denominator
    return Fraction(whole + (1 if cents - whole >= Fraction(1, 2) else 0), 100)


def reference(history: History, year: int, month: int) -> Fraction:
    """The month's interest by the issue's rules, exactly, then half-up to the cent."""
    day = max(date(year, month, 1), history.opened.date())
    total = Fraction(0)
    while day.month == month:
        begins = datetime(day.year, day.month, day.day, tzinfo=UTC)
        midnight = begins + timedelta(days=1)
        balance = sum(
            (change for when, change in history.savings() if when < midnight), Fraction(0)
        )
        at_start = [Fraction(0)] + [rate for when, rate in history.rates() if when <= begins]
        during = [rate for when, rate in history.rates() if begins <= when < midnight]
        total += balance * min([at_start[-1], *during]) / 365
        day += timedelta(days=1)
    return half_up(total)


# The accounts: a leap-day February, a rate changed mid-month, opened mid-month, a first month
# with nothing saved, no rate, no plan at all, closed, and opened after the first run's months.
HISTORIES = {
    "leap": History(
        at("2024-01-10 08:00:00"),
        [
            (at("2024-01-10 08:00:01"), "plan", Decimal("0.02")),
            (at("2024-01-10 09:00:00"), "credit", Decimal("1000.00")),
            (at("2024-02-29 23:59:59"), "credit", Decimal("2000.00")),
            (at("2024-03-01 00:00:00"), "out", Decimal("300.00")),
            (at("2024-03-15 12:00:00"), "plan", Decimal("0.05")),
            (at("2024-04-20 15:00:00"), "credit", Decimal("500.00")),
            (at("2024-05-20 15:00:00"), "credit", Decimal("777.78")),
        ],
    ),
    "nothing-in-january": History(
        at("2024-01-01 00:00:00"),
        [
            (at("2024-01-01 00:00:01"), "plan", Decimal("0.031")),
            (at("2024-02-01 09:00:00"), "credit", Decimal("123456.78")),
            (at("2024-04-30 23:59:59"), "out", Decimal("1000.01")),
        ],
    ),
    "no-rate": History(
        at("2024-01-05 12:00:00"),
        [
            (at("2024-01-05 12:00:01"), "plan", Decimal(0)),
            (at("2024-01-06 12:00:00"), "credit", Decimal("5000.00")),
        ],
    ),
    "no-plan": History(at("2024-02-15 12:00:00")),
    "closed": History(
        at("2024-01-01 10:00:00"),
        [
            (at("2024-01-01 10:00:01"), "plan", Decimal("0.02")),
            (at("2024-01-02 10:00:00"), "credit", Decimal("1000.00")),
            (at("2024-02-10 10:00:00"), "close", Decimal(0)),
        ],
    ),
    "opened-in-may": History(
        at("2024-05-03 10:00:00"),
        [
            (at("2024-05-03 10:00:01"), "plan", Decimal("0.04")),
            (at("2024-05-03 11:00:00"), "credit", Decimal("10000.00")),
        ],
    ),
}
FIRST_RUN = date(2024, 4, 30)  # January to April
LATER_RUN = date(2024, 6, 15)  # May (June has not ended by then)


def months(history: History, through: date, after: date | None) -> list[tuple[int, int]]:
    """The months an open account settles through `through`, after `after`'s month."""
    if history.closed:
        return []
    year, month = history.opened.year, history.opened.month
    out: list[tuple[int, int]] = []
    while True:
        following = date(year + month // 12, month % 12 + 1, 1)
        if following - timedelta(days=1) > through:
            return out
        if after is None or (year, month) > (after.year, after.month):
            out.append((year, month))
        year, month = following.year, following.month


@dataclass
class Ledger:
    """A scratch accounting database, the service on it, and the accounts built."""

    url: str
    service: AccountingService
    accounts: dict[str, uuid.UUID] = field(default_factory=dict)

    def sql(self, statement: str, *args: object) -> list[tuple[Any, ...]]:
        with psycopg.connect(driver_url(self.url, None)) as conn:
            cursor = conn.execute(statement, args)
            return cursor.fetchall() if cursor.description else []

    def interest(self) -> dict[tuple[str, str], Decimal]:
        """Every interest entry, by (account name, period)."""
        names = {account_id: name for name, account_id in self.accounts.items()}
        rows = self.sql(
            "SELECT account_id, period, amount FROM ledger_entries WHERE kind = 'interest'"
        )
        found: dict[tuple[str, str], Decimal] = {}
        for account_id, period, amount in rows:
            assert (names[account_id], period) not in found, "a month posted twice"
            found[names[account_id], str(period)] = Decimal(str(amount))
        return found

    def posted_through(self) -> dict[str, date | None]:
        rows = self.sql("SELECT account_id, interest_through FROM accounts")
        names = {account_id: name for name, account_id in self.accounts.items()}
        return {names[account_id]: through for account_id, through in rows}


async def build(ledger: Ledger, histories: dict[str, History]) -> None:
    """Make each account through the service, then move its projections back to its history."""
    service = ledger.service
    plans: dict[Decimal, int] = {}
    for name, history in histories.items():
        user_id = uuid.uuid4()
        ledger.accounts[name] = user_id
        await service.open_account(user_id, f"{name}@example.com", name)
        entry_instants, plan_instants = [], []
        for number, (when, kind, value) in enumerate(history.operations):
            key = f"k{number}"
            if kind == "plan":
                if value not in plans:
                    plan = await service.create_plan(
                        f"rate {value} {uuid.uuid4().hex[:6]}",
                        "percentage",
                        SHARE,
                        interest_rate=value,
                    )
                    plans[value] = plan["id"]
                await service.assign_plan(user_id, plans[value])
                plan_instants.append(when)
            elif kind == "credit":
                await service.credit(user_id, value, idempotency_key=key, request_hash=key)
                entry_instants.append(when)
            elif kind == "out":
                await service.transfer(
                    user_id, "savings", value, idempotency_key=key, request_hash=key
                )
                entry_instants.append(when)
            else:
                await service.close_account(user_id)
                ledger.sql(
                    "UPDATE accounts SET closed_at = %s WHERE account_id = %s", when, user_id
                )
        ledger.sql(
            "UPDATE accounts SET opened_at = %s WHERE account_id = %s", history.opened, user_id
        )
        for seq, when in enumerate(entry_instants, 1):
            ledger.sql(
                "UPDATE ledger_entries SET at = %s WHERE account_id = %s AND seq = %s",
                when,
                user_id,
                seq,
            )
        versions = ledger.sql(
            "SELECT originator_version FROM plan_changes WHERE account_id = %s"
            " ORDER BY originator_version",
            user_id,
        )
        assert len(versions) == len(plan_instants)
        for (version,), when in zip(versions, plan_instants, strict=True):
            ledger.sql(
                "UPDATE plan_changes SET at = %s WHERE account_id = %s AND originator_version = %s",
                when,
                user_id,
                version,
            )


def expected(through: date, after: date | None) -> tuple[dict[tuple[str, str], Decimal], int, int]:
    """The interest entries a run through `through` makes after a run through `after`, and
    how many accounts and months it settles."""
    entries, accounts, settled = {}, 0, 0
    for name, history in HISTORIES.items():
        due = months(history, through, after)
        accounts += bool(due)
        settled += len(due)
        for year, month in due:
            amount = reference(history, year, month)
            if amount:
                entries[name, f"{year:04d}-{month:02d}"] = (
                    Decimal(amount.numerator) / amount.denominator
                )
    return entries, accounts, settled


@pytest.fixture
def ledger_url(server_url: str) -> Iterator[str]:
    """A migrated scratch accounting database of the test's own."""
    for url in scratch_database(server_url, "savings_posting"):
        migrations.upgrade(url, scripts=SCRIPTS)
        yield url


@pytest.fixture
async def ledger(ledger_url: str) -> AsyncIterator[Ledger]:
    """The accounts of `HISTORIES` built and backdated on the scratch database."""
    service = await AccountingService.open(ledger_url, store_pool_size=2, db_pool_size=2)
    try:
        built = Ledger(ledger_url, service)
        await build(built, HISTORIES)
        yield built
    finally:
        await service.close()


def test_the_reference_knows_its_leap_day():
    """A sanity check of the reference itself, by hand: 500.00 at 2% all January from the
    11th (21 days: the 10th had 0% in force until the plan came at 08:00:01), then February's
    29 days with 1500.00 saved on the 29th, then March: 1200.00, at 2% through the 15th (5%
    came at its noon), at 5% from the 16th."""
    leap = HISTORIES["leap"]
    assert reference(leap, 2024, 1) == half_up(Fraction(500) * Fraction(2, 100) * 21 / 365)
    february = Fraction(500) * Fraction(2, 100) * 28 / 365 + Fraction(1500) * Fraction(2, 100) / 365
    assert reference(leap, 2024, 2) == half_up(february)
    assert reference(leap, 2024, 2) == Fraction(85, 100)  # 0.849315... half-up
    march = Fraction(1200) * (Fraction(2, 100) * 15 + Fraction(5, 100) * 16) / 365
    assert reference(leap, 2024, 3) == half_up(march) == Fraction(362, 100)  # 3.616438...


@pytest.mark.parametrize("batch", [2, 500])
async def test_posting_settles_exactly_the_months_due_once(ledger: Ledger, batch: int) -> None:
    wanted, accounts, settled = expected(FIRST_RUN, None)
    total = await due_total(ledger.service, FIRST_RUN)
    advanced: list[int] = []

    done = await post_interest(ledger.service, FIRST_RUN, batch=batch, advance=advanced.append)

    assert ledger.interest() == wanted
    assert (done.accounts, done.months, done.entries) == (accounts, settled, len(wanted))
    assert done.amount == sum(wanted.values()) and not done.failed
    assert total == accounts == sum(advanced) == 4
    assert max(advanced) <= batch
    # Zero months are settled too; the closed account and the one opened later are not.
    assert ledger.posted_through() == {
        "leap": FIRST_RUN,
        "nothing-in-january": FIRST_RUN,
        "no-rate": FIRST_RUN,
        "no-plan": FIRST_RUN,
        "closed": None,
        "opened-in-may": None,
    }
    assert ("nothing-in-january", "2024-01") not in wanted and len(wanted) == 7
    kinds = ledger.sql("SELECT DISTINCT kind, main FROM ledger_entries WHERE period IS NOT NULL")
    assert kinds == [("interest", Decimal("0.00"))]

    again = await post_interest(ledger.service, FIRST_RUN, batch=batch)
    assert (again.accounts, again.months, again.entries) == (0, 0, 0)
    assert await due_total(ledger.service, FIRST_RUN) == 0
    assert ledger.interest() == wanted

    later, accounts, settled = expected(LATER_RUN, FIRST_RUN)
    total = await due_total(ledger.service, LATER_RUN)
    advanced.clear()
    done = await post_interest(ledger.service, LATER_RUN, batch=batch, advance=advanced.append)
    assert ledger.interest() == wanted | later
    assert set(later) == {
        ("leap", "2024-05"),
        ("nothing-in-january", "2024-05"),
        ("opened-in-may", "2024-05"),
    }
    assert (done.accounts, done.months, done.entries) == (accounts, settled, 3) == (5, 5, 3)
    assert total == sum(advanced) == 5
    assert ledger.posted_through()["opened-in-may"] == date(2024, 5, 31)
    assert ledger.posted_through()["closed"] is None


async def test_through_a_day_not_ended_is_refused(ledger: Ledger) -> None:
    today = datetime.now(UTC).date()
    for through in (today, today + timedelta(days=40)):
        with pytest.raises(ValidationFailed) as refused:
            await post_interest(ledger.service, through)
        assert refused.value.status_code == 422
        assert "through must be a day that has ended" in refused.value.message
    assert ledger.interest() == {}
    assert set(ledger.posted_through().values()) == {None}


def run_cli(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    """`backoffice savings post-interest` in a process of its own, on the scratch database."""
    env = {
        **os.environ,
        "BACKOFFICE_ENV": "test",
        "BACKOFFICE_HOME": str(TEST_HOME),
        "SAVINGS_ACCOUNTING_DATABASE_URL": url,
        "LOG_LEVEL": "WARNING",
        "COLUMNS": "200",
    }
    env.pop("DATABASE_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "backoffice", "savings", "post-interest", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def test_the_cli_prints_the_summary_and_refuses_a_bad_day(ledger: Ledger) -> None:
    wanted, accounts, settled = expected(FIRST_RUN, None)
    paid = sum(wanted.values())

    first = run_cli(ledger.url, "--through", FIRST_RUN.isoformat())

    assert first.returncode == 0, first.stderr
    assert first.stdout.strip() == (
        f"interest through 2024-04-30: {accounts} accounts, {settled} months settled,"
        f" {len(wanted)} entries, {paid:.2f} paid"
    )
    assert ledger.interest() == wanted

    today = datetime.now(UTC).date().isoformat()
    refused = run_cli(ledger.url, "--through", today)
    assert refused.returncode == 1
    assert refused.stderr.startswith("error: through must be a day that has ended")
    assert "Traceback" not in refused.stderr + refused.stdout
    assert ledger.interest() == wanted


def last_settled(history: History, through: date) -> date | None:
    """The last day of the last month an account settles through `through` (None: none)."""
    due = months(history, through, None)
    if not due:
        return None
    year, month = due[-1]
    return date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1)


def invoke(url: str, *args: str) -> Any:
    """`backoffice savings post-interest` in this process (its settings read afresh)."""
    env = {"SAVINGS_ACCOUNTING_DATABASE_URL": url, "BACKOFFICE_HOME": str(TEST_HOME)}
    get_settings.cache_clear()
    try:
        return CliRunner().invoke(app, ["savings", "post-interest", *args], env=env)
    finally:
        get_settings.cache_clear()


async def test_without_a_day_the_cli_posts_through_yesterday(ledger: Ledger) -> None:
    yesterday = datetime.now(UTC).date() - timedelta(days=1)
    wanted, accounts, settled = expected(LATER_RUN, None)
    # In this process (the run above is another's): the task's own path, as the DAG takes it.
    first = await asyncio.to_thread(invoke, ledger.url, "--through", LATER_RUN.isoformat())
    assert first.exit_code == 0, first.output
    assert f"{accounts} accounts, {settled} months settled, {len(wanted)} entries" in first.output
    assert ledger.interest() == wanted
    later = await asyncio.to_thread(invoke, ledger.url)
    assert later.exit_code == 0, later.output
    assert f"interest through {yesterday.isoformat()}:" in later.output
    assert ledger.posted_through() == {
        name: last_settled(history, yesterday) for name, history in HISTORIES.items()
    }
    assert {key: value for key, value in ledger.interest().items() if key in wanted} == wanted
    again = await asyncio.to_thread(invoke, ledger.url)
    assert "0 accounts, 0 months settled, 0 entries, 0.00 paid" in again.output


def test_a_through_that_is_no_date_is_a_usage_error():
    for bad in ("2024-13-01", "yesterday", "2024-04"):
        refused = CliRunner().invoke(app, ["savings", "post-interest", "--through", bad])
        assert refused.exit_code == 2, bad
        assert "Invalid value for '--through'" in refused.output
        assert refused.exception is None or isinstance(refused.exception, SystemExit)


async def full_and_plain(url: str) -> None:
    """Two accounts saving everything at 25% a year: one holds the largest balance, one 100."""
    service = await AccountingService.open(url, store_pool_size=2, db_pool_size=2)
    try:
        plan = await service.create_plan(
            "all saved at 25%", "percentage", Decimal(100), interest_rate=Decimal("0.25")
        )
        for name in ("full", "plain"):
            user = uuid.uuid4()
            await service.open_account(user, f"{name}@example.com", name)
            await service.assign_plan(user, plan["id"])
            amount = MAX_MONEY if name == "full" else Decimal("100.00")
            await service.credit(user, amount, idempotency_key=name, request_hash="h")
    finally:
        await service.close()


def test_an_account_that_cannot_take_its_interest_is_reported_and_the_rest_posted(
    ledger_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A plain test, no event loop running: the command and the task run theirs, as they do.
    asyncio.run(full_and_plain(ledger_url))
    with psycopg.connect(driver_url(ledger_url, None)) as conn:
        conn.execute("UPDATE accounts SET opened_at = '2024-01-01T09:00:00Z'")
        conn.execute("UPDATE plan_changes SET at = '2024-01-01T10:00:00Z'")
        conn.execute("UPDATE ledger_entries SET at = '2024-01-01T11:00:00Z'")
    answer = invoke(ledger_url, "--through", "2024-01-31")
    # The full account's interest would pass the largest balance: it alone is skipped, said.
    assert answer.exit_code == 1, answer.output
    assert "1 accounts, 1 months settled, 1 entries" in answer.output
    assert "1 accounts not posted" in answer.output
    refused = invoke(ledger_url, "--through", "2999-01-01")
    assert refused.exit_code == 1
    assert "through must be a day that has ended" in refused.output
    # The DAG's path: the task alone, no progress.
    monkeypatch.setenv("SAVINGS_ACCOUNTING_DATABASE_URL", ledger_url)
    get_settings.cache_clear()
    try:
        done = tasks.post_interest("2024-01-31")
    finally:
        get_settings.cache_clear()
    assert done == {
        "through": "2024-01-31",
        "accounts": 0,
        "months": 0,
        "entries": 0,
        "cents": 0,
        "failed": 1,
    }
    with psycopg.connect(driver_url(ledger_url, None)) as conn:
        rows = conn.execute(
            "SELECT a.email, a.interest_through, count(e.entry_id) FROM accounts a"
            " LEFT JOIN ledger_entries e ON e.account_id = a.account_id AND e.kind = 'interest'"
            " GROUP BY a.email, a.interest_through ORDER BY a.email"
        ).fetchall()
    assert rows == [("full@example.com", None, 0), ("plain@example.com", date(2024, 1, 31), 1)]


def test_the_summary_says_what_was_posted_and_what_was_not(capsys: pytest.CaptureFixture[str]):
    done = {"through": "2024-01-31", "accounts": 2, "months": 3, "entries": 2, "cents": 1234}
    assert cli.report({**done, "failed": 0}) == 0
    assert "interest through 2024-01-31: 2 accounts, 3 months settled, 2 entries, 12.34 paid" in (
        capsys.readouterr().out
    )
    assert cli.report({**done, "failed": 1}) == 1
    assert "1 accounts not posted: see the log" in capsys.readouterr().err
