"""The ledger's operations through the service: withdrawals, transfers, reversals, reads, interest.

Each refusal is checked to have written nothing: the account's ledger rows, its events and its
balances are the same after it as before.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from psycopg.errors import UniqueViolation
from sqlalchemy import func, select

from backoffice.core.db import Database
from backoffice.core.errors import DomainError, ValidationFailed
from backoffice.savings.accounting.aggregate import Account
from backoffice.savings.accounting.errors import (
    AccountClosed,
    AccountNotFound,
    EntryNotFound,
    EntryNotReversible,
    IdempotencyKeyReused,
    TokenRefused,
)
from backoffice.savings.accounting.interest import last_day
from backoffice.savings.accounting.lockin import LockedSum
from backoffice.savings.accounting.models import ENTRY_KINDS, LedgerEntry
from backoffice.savings.accounting.movements import Movements
from backoffice.savings.accounting.rules import InsufficientFunds, SavingsLocked
from backoffice.savings.accounting.service import AccountingService
from tests.savings.accounting.test_service import FAR_PAST, credit, opened, plan

LATER = timedelta(days=1)


async def withdraw(
    service: AccountingService, user: uuid.UUID, amount: str, key: str | None = None
) -> dict[str, Any]:
    return await service.withdraw(
        user, Decimal(amount), idempotency_key=key or uuid.uuid4().hex, request_hash="w"
    )


async def transfer(
    service: AccountingService, user: uuid.UUID, source: str, amount: str, key: str | None = None
) -> dict[str, Any]:
    return await service.transfer(
        user, source, Decimal(amount), idempotency_key=key or uuid.uuid4().hex, request_hash="t"
    )


async def reverse(
    service: AccountingService, entry_id: uuid.UUID, key: str | None = None, reason: str = "oops"
) -> dict[str, Any]:
    return await service.reverse(
        entry_id, reason, by="admin", idempotency_key=key or uuid.uuid4().hex, request_hash="r"
    )


async def locked_plan(service: AccountingService, percentage: str, days: int) -> int:
    made = await service.create_plan(
        f"locked {uuid.uuid4()}", "percentage", Decimal(percentage), lock_in_days=days
    )
    return int(made["id"])


async def now_balances(service: AccountingService, user: uuid.UUID) -> tuple[Decimal, Decimal]:
    found = await service.balance(user)
    return found["main"], found["savings"]


async def ledger_rows(database: Database, user: uuid.UUID) -> list[LedgerEntry]:
    async with database.sessionmaker() as session:
        found = await session.scalars(
            select(LedgerEntry).where(LedgerEntry.account_id == user).order_by(LedgerEntry.seq)
        )
        return list(found.all())


async def ledger_count(database: Database, user: uuid.UUID) -> int:
    async with database.sessionmaker() as session:
        found = await session.scalar(
            select(func.count()).select_from(LedgerEntry).where(LedgerEntry.account_id == user)
        )
        return int(found or 0)


async def everything(
    service: AccountingService, user: uuid.UUID, **kw: Any
) -> list[dict[str, Any]]:
    items, total = await service.transactions(
        user, FAR_PAST, datetime.now(UTC) + LATER, limit=1000, offset=0, **kw
    )
    assert len(items) == total
    return items


def first_error(error: DomainError) -> dict[str, Any]:
    assert error.errors
    return error.errors[0]


def previous_month(today: date) -> tuple[int, int]:
    return (today.year - 1, 12) if today.month == 1 else (today.year, today.month - 1)


# --- withdrawals ------------------------------------------------------------------------------


async def test_a_withdrawal_takes_money_out_of_main(
    service: AccountingService, database: Database
) -> None:
    user = await opened(service)
    await service.assign_plan(user, await plan(service, "percentage", "20"))
    await credit(service, user, "10.00")  # main 8.00, savings 2.00
    made = await withdraw(service, user, "3.50", key="w-1")
    assert {k: made[k] for k in ("kind", "amount", "main", "savings")} == {
        "kind": "withdrawal",
        "amount": Decimal("3.50"),
        "main": Decimal("-3.50"),
        "savings": Decimal("0.00"),
    }
    assert "credit_id" not in made
    assert await now_balances(service, user) == (Decimal("4.50"), Decimal("2.00"))
    last = (await ledger_rows(database, user))[-1]
    assert (last.entry_id, last.kind, last.seq, last.at) == (
        made["entry_id"],
        "withdrawal",
        2,
        made["at"],
    )
    assert (last.main_balance, last.savings_balance) == (Decimal("4.50"), Decimal("2.00"))
    assert (last.idempotency_key, last.request_hash) == ("w-1", "w")


async def test_a_withdrawal_beyond_main_is_refused_and_writes_nothing(
    service: AccountingService, database: Database
) -> None:
    user = await opened(service)
    await service.assign_plan(user, await plan(service, "percentage", "50"))
    await credit(service, user, "10.00")  # main 5.00: savings do not count
    rows, version = await ledger_count(database, user), service.store.get_account(user).version
    with pytest.raises(InsufficientFunds) as caught:
        await withdraw(service, user, "5.01")
    assert (caught.value.status_code, caught.value.code) == (422, "insufficient_funds")
    assert await ledger_count(database, user) == rows == 1
    assert service.store.get_account(user).version == version
    assert await now_balances(service, user) == (Decimal("5.00"), Decimal("5.00"))
    assert (await withdraw(service, user, "5.00"))["main"] == Decimal("-5.00")  # all of it
    assert await now_balances(service, user) == (Decimal("0.00"), Decimal("5.00"))


async def test_a_withdrawal_replayed_returns_the_first_entry(
    service: AccountingService, database: Database
) -> None:
    user = await opened(service)
    await credit(service, user, "10.00")
    first = await withdraw(service, user, "6.00", key="once")
    # The same key and request again: the first entry, even though main now holds too little.
    assert await withdraw(service, user, "6.00", key="once") == first
    with pytest.raises(IdempotencyKeyReused) as caught:
        await service.withdraw(user, Decimal(6), idempotency_key="once", request_hash="other")
    assert caught.value.status_code == 409
    assert await ledger_count(database, user) == 2
    assert await now_balances(service, user) == (Decimal("4.00"), Decimal("0.00"))


async def test_a_withdrawal_needs_an_open_account_and_a_good_token(
    service: AccountingService,
) -> None:
    user = await opened(service)
    await credit(service, user, "10.00")
    assert await service.update_profile(user, f"{user}@example.com", "Ann", token_version=2)
    with pytest.raises(TokenRefused):
        await service.withdraw(
            user, Decimal(1), idempotency_key="k", request_hash="w", token_version=1
        )
    made = await service.withdraw(
        user, Decimal(1), idempotency_key="k2", request_hash="w", token_version=2
    )
    assert made["main"] == Decimal("-1.00")
    await service.close_account(user)
    with pytest.raises(AccountClosed):
        await withdraw(service, user, "1.00")
    with pytest.raises(AccountNotFound):
        await withdraw(service, uuid.uuid4(), "1.00")
    with pytest.raises(ValidationFailed):
        await withdraw(service, user, "0.001")
    assert (await service.balance(user))["main"] == Decimal("9.00")


# --- transfers --------------------------------------------------------------------------------


async def test_transfers_move_money_both_ways(
    service: AccountingService, database: Database
) -> None:
    user = await opened(service)
    await credit(service, user, "10.00")
    into = await transfer(service, user, "main", "4.00")
    assert (into["kind"], into["amount"], into["main"], into["savings"]) == (
        "transfer",
        Decimal("4.00"),
        Decimal("-4.00"),
        Decimal("4.00"),
    )
    out = await transfer(service, user, "savings", "1.25")
    assert (out["main"], out["savings"]) == (Decimal("1.25"), Decimal("-1.25"))
    assert await now_balances(service, user) == (Decimal("7.25"), Decimal("2.75"))
    rows = await ledger_rows(database, user)
    assert [(r.seq, r.main_balance, r.savings_balance) for r in rows] == [
        (1, Decimal("10.00"), Decimal("0.00")),
        (2, Decimal("6.00"), Decimal("4.00")),
        (3, Decimal("7.25"), Decimal("2.75")),
    ]
    for source, amount in (("savings", "2.76"), ("main", "7.26")):
        with pytest.raises(InsufficientFunds):
            await transfer(service, user, source, amount)
    with pytest.raises(ValidationFailed) as bad:
        await transfer(service, user, "elsewhere", "1.00")
    assert first_error(bad.value)["field"] == "from"
    assert await ledger_count(database, user) == 3
    replayed = await transfer(service, user, "main", "1.00", key="t-1")
    assert await transfer(service, user, "main", "1.00", key="t-1") == replayed
    with pytest.raises(IdempotencyKeyReused):
        await service.transfer(
            user, "savings", Decimal(1), idempotency_key="t-1", request_hash="another"
        )
    assert await ledger_count(database, user) == 4


async def test_a_transfer_needs_an_account(service: AccountingService) -> None:
    for source in ("main", "savings"):
        with pytest.raises(AccountNotFound):
            await transfer(service, uuid.uuid4(), source, "1.00")


async def test_savings_under_a_lock_in_cannot_leave_until_it_ends(
    service: AccountingService, database: Database
) -> None:
    user = await opened(service)
    await service.assign_plan(user, await locked_plan(service, "50", 30))
    came_in = await credit(service, user, "10.00")  # savings 5.00, locked for 30 days
    with pytest.raises(SavingsLocked) as caught:
        await transfer(service, user, "savings", "0.01")
    assert (caught.value.status_code, caught.value.code) == (422, "savings_locked")
    unlocks = first_error(caught.value)["unlocks_at"]
    assert datetime.fromisoformat(unlocks) == came_in["at"] + timedelta(days=30)
    assert unlocks == (came_in["at"] + timedelta(days=30)).astimezone(UTC).isoformat()
    # A transfer into savings is locked too; more than savings hold is insufficient funds.
    await transfer(service, user, "main", "1.00")
    with pytest.raises(SavingsLocked):
        await transfer(service, user, "savings", "6.00")
    with pytest.raises(InsufficientFunds):
        await transfer(service, user, "savings", "6.01")
    assert await ledger_count(database, user) == 2
    # Each sum keeps the lock-in it came in under: a plan without lock-in frees none of it...
    await service.assign_plan(user, await locked_plan(service, "50", 0))
    with pytest.raises(SavingsLocked) as still:
        await transfer(service, user, "savings", "0.01")
    assert first_error(still.value)["unlocks_at"] == unlocks
    # ...but what comes in under it is free at once.
    await transfer(service, user, "main", "2.00")
    freed = await transfer(service, user, "savings", "2.00")
    assert freed["main"] == Decimal("2.00")
    assert await now_balances(service, user) == (Decimal("4.00"), Decimal("6.00"))
    # And a lock-in put in force later does not lock what came in before it.
    await service.assign_plan(user, await locked_plan(service, "0", 1))
    with pytest.raises(SavingsLocked):
        await transfer(service, user, "savings", "0.01")  # the first 6.00: still 30 days
    await transfer(service, user, "main", "1.00")  # under the 1-day plan
    with pytest.raises(SavingsLocked):
        await transfer(service, user, "savings", "1.00")


def _saver(savings: str) -> Account:
    account = Account(user_id=uuid.uuid4(), email="a@example.com", full_name="A")
    account.assign_plan(plan_id=1, kind="percentage", value=Decimal(100))
    account.credit(uuid.uuid4(), Decimal(savings), idempotency_key="k", request_hash="h")
    assert account.savings == Decimal(savings)
    return account


def test_older_sums_are_free_and_the_newest_unlock_oldest_first() -> None:
    account = _saver("100.00")
    now = datetime(2026, 12, 7, 12, tzinfo=UTC)
    older, newer = now - timedelta(days=1), now - timedelta(hours=2)
    locked = [
        LockedSum(newer + timedelta(days=7), Decimal("20.00")),
        LockedSum(older + timedelta(days=7), Decimal("30.00")),
    ]
    check = Movements._check_lock_in
    # 50.00 came in before the lock-in's 7 days: free.
    check(account, locked, Decimal("50.00"))
    check(account, locked, Decimal("100.01"))  # more than held: the aggregate refuses
    expected = {
        "50.01": older + timedelta(days=7),
        "80.00": older + timedelta(days=7),
        "80.01": newer + timedelta(days=7),
        "100.00": newer + timedelta(days=7),
    }
    for amount, when in expected.items():
        with pytest.raises(SavingsLocked) as caught:
            check(account, locked, Decimal(amount))
        assert first_error(caught.value)["unlocks_at"] == when.isoformat(), amount


# --- reversals --------------------------------------------------------------------------------


async def test_a_reversal_compensates_and_the_original_stays(
    service: AccountingService, database: Database
) -> None:
    user = await opened(service)
    await service.assign_plan(user, await plan(service, "percentage", "20"))
    original = await credit(service, user, "10.00")
    before = await ledger_rows(database, user)
    undone = await reverse(service, original["entry_id"], key="r-1", reason="  sent twice ")
    assert {k: undone[k] for k in ("kind", "amount", "main", "savings", "reverses", "reason")} == {
        "kind": "reversal",
        "amount": Decimal("10.00"),
        "main": Decimal("-8.00"),
        "savings": Decimal("-2.00"),
        "reverses": original["entry_id"],
        "reason": "sent twice",
    }
    assert undone["entry_id"] != original["entry_id"]
    rows = await ledger_rows(database, user)
    assert len(rows) == 2 and _columns(rows[0]) == _columns(before[0])
    assert (rows[1].main_balance, rows[1].savings_balance) == (Decimal(0), Decimal(0))
    # The same key again: the first reversal. Another key: refused, the entry is reversed.
    assert await reverse(service, original["entry_id"], key="r-1", reason="sent twice") == undone
    with pytest.raises(EntryNotReversible) as twice:
        await reverse(service, original["entry_id"])
    assert (twice.value.status_code, twice.value.code) == (409, "entry_not_reversible")
    with pytest.raises(EntryNotReversible):
        await reverse(service, undone["entry_id"])  # a reversal is never reversed
    with pytest.raises(EntryNotFound) as missing:
        await reverse(service, uuid.uuid4())
    assert missing.value.status_code == 404
    with pytest.raises(ValidationFailed):
        await reverse(service, original["entry_id"], reason="   ")
    assert await ledger_count(database, user) == 2


def _columns(row: LedgerEntry) -> tuple[Any, ...]:
    return (row.entry_id, row.seq, row.kind, row.at, row.amount, row.main, row.savings,
            row.main_balance, row.savings_balance, row.idempotency_key, row.reverses)  # fmt: skip


async def test_reversals_of_withdrawals_transfers_and_interest(
    service: AccountingService,
) -> None:
    user = await opened(service)
    await credit(service, user, "10.00")
    out = await withdraw(service, user, "3.00")
    moved = await transfer(service, user, "main", "2.00")
    year, month = previous_month(datetime.now(UTC).date())
    assert await service.post_month(user, year, month, Decimal("0.50"))
    interest = (await everything(service, user, kind="interest"))[0]
    assert await now_balances(service, user) == (Decimal("5.00"), Decimal("2.50"))
    assert (await reverse(service, out["entry_id"]))["main"] == Decimal("3.00")
    assert await now_balances(service, user) == (Decimal("8.00"), Decimal("2.50"))
    undone = await reverse(service, moved["entry_id"])
    assert (undone["main"], undone["savings"]) == (Decimal("2.00"), Decimal("-2.00"))
    assert (await reverse(service, interest["entry_id"]))["savings"] == Decimal("-0.50")
    assert await now_balances(service, user) == (Decimal("10.00"), Decimal("0.00"))


async def test_a_reversal_that_would_leave_a_balance_below_zero_is_refused(
    service: AccountingService, database: Database
) -> None:
    user = await opened(service)
    first = await credit(service, user, "10.00")
    await withdraw(service, user, "9.00")
    rows, version = await ledger_count(database, user), service.store.get_account(user).version
    with pytest.raises(InsufficientFunds) as caught:
        await reverse(service, first["entry_id"])
    assert caught.value.code == "insufficient_funds"
    assert await ledger_count(database, user) == rows
    assert service.store.get_account(user).version == version
    assert await now_balances(service, user) == (Decimal("1.00"), Decimal("0.00"))
    # Nothing was written, so the entry is still reversible once the money is back.
    await credit(service, user, "9.00")
    assert (await reverse(service, first["entry_id"]))["main"] == Decimal("-10.00")


# --- reads ------------------------------------------------------------------------------------


async def test_transactions_list_every_kind_and_filter_by_kind(service: AccountingService) -> None:
    user = await opened(service)
    made = [await credit(service, user, "10.00")]
    made.append(await withdraw(service, user, "1.00"))
    made.append(await transfer(service, user, "main", "2.00"))
    year, month = previous_month(datetime.now(UTC).date())
    assert await service.post_month(user, year, month, Decimal("0.10"))
    made.append(await reverse(service, made[1]["entry_id"]))
    listed = await everything(service, user)
    assert [e["kind"] for e in listed] == [
        "credit",
        "withdrawal",
        "transfer",
        "interest",
        "reversal",
    ]
    assert set(ENTRY_KINDS) == {e["kind"] for e in listed}
    by_id = {e["entry_id"]: e for e in listed}
    for entry in made:
        shown = by_id[entry["entry_id"]]
        # As made, less who reversed (the operators' answer only).
        assert {k: shown[k] for k in entry if k != "by"} == {
            k: v for k, v in entry.items() if k != "by"
        }
        assert "by" not in shown
    assert listed[0]["credit_id"] == listed[0]["entry_id"]
    assert all("credit_id" not in e for e in listed[1:])
    assert listed[3]["period"] == f"{year:04d}-{month:02d}"
    assert listed[4]["reverses"] == made[1]["entry_id"]
    for kind in ENTRY_KINDS:
        only = await everything(service, user, kind=kind)
        assert [e["entry_id"] for e in only] == [e["entry_id"] for e in listed if e["kind"] == kind]
    with pytest.raises(ValidationFailed):
        await everything(service, user, kind="gift")


def _month_of(instants: list[datetime]) -> tuple[int, int] | None:
    """The one UTC month the instants fall in; None if a month ended among them."""
    months = {(at.astimezone(UTC).year, at.astimezone(UTC).month) for at in instants}
    return months.pop() if len(months) == 1 else None


async def test_the_statement_of_the_month_running(service: AccountingService) -> None:
    found = None
    while found is None:  # a month ending among the entries (at midnight): a new account
        user = await opened(service)
        made = [await credit(service, user, f"{n}.00") for n in (10, 20, 30)]
        made.append(await withdraw(service, user, "5.00"))
        made.append(await transfer(service, user, "main", "15.00"))
        found = _month_of([m["at"] for m in made])
    year, month = found
    before = previous_month(date(year, month, 1))
    assert await service.post_month(user, *before, Decimal("1.11"))
    # Interest posted for last month is booked now: it is this month's entry.
    statement = await service.statement(user, year, month, limit=2, offset=1)
    now = await service.balance(user)
    zeros = {"main": Decimal(0), "savings": Decimal(0), "total": Decimal(0)}
    assert statement["month"] == f"{year:04d}-{month:02d}"
    assert statement["starts"] == datetime(year, month, 1, tzinfo=UTC)
    assert statement["opening"] == zeros
    assert statement["closing"] == {k: now[k] for k in ("main", "savings", "total")}
    assert statement["closing"] == {
        "main": Decimal("40.00"),
        "savings": Decimal("16.11"),
        "total": Decimal("56.11"),
    }
    assert statement["interest_earned"] == Decimal("1.11")
    assert statement["total"] == 6
    assert [e["entry_id"] for e in statement["entries"]] == [m["entry_id"] for m in made[1:3]]
    last = await service.statement(user, year, month, limit=10, offset=5)
    assert [e["kind"] for e in last["entries"]] == ["interest"] and last["total"] == 6
    # Last month's statement of this new account: nothing, and it closes where this one opens.
    past = await service.statement(user, *before, limit=10, offset=0)
    assert (past["opening"], past["closing"], past["entries"], past["total"]) == (
        zeros,
        zeros,
        [],
        0,
    )
    assert past["interest_earned"] == Decimal(0) and past["closing"] == statement["opening"]
    ahead = date(year, month, 1) + timedelta(days=32)
    with pytest.raises(ValidationFailed) as early:
        await service.statement(user, ahead.year, ahead.month, limit=10, offset=0)
    assert first_error(early.value)["field"] == "month"
    with pytest.raises(AccountNotFound):
        await service.statement(uuid.uuid4(), year, month, limit=10, offset=0)


async def test_an_account_as_an_operator_sees_it(service: AccountingService) -> None:
    user = uuid.uuid4()
    await service.open_account(user, f"{user}@example.com", "Ann Lee")
    plan_id = await plan(service, "percentage", "25")
    await service.assign_plan(user, plan_id)
    await credit(service, user, "8.00")
    shown = await service.account(user)
    assert {k: shown[k] for k in ("user_id", "email", "full_name", "plan_id", "status")} == {
        "user_id": user,
        "email": f"{user}@example.com",
        "full_name": "Ann Lee",
        "plan_id": plan_id,
        "status": "open",
    }
    assert shown["closed_at"] is None and shown["interest_through"] is None
    assert shown["opened_at"] <= shown["balances"]["at"]
    balances = {k: shown["balances"][k] for k in ("main", "savings", "total")}
    assert balances == {"main": Decimal(6), "savings": Decimal(2), "total": Decimal(8)}
    year, month = previous_month(datetime.now(UTC).date())
    assert await service.post_month(user, year, month, Decimal("0.02"))
    after = await service.account(user)
    assert after["interest_through"] == last_day(year, month)
    assert after["balances"]["savings"] == Decimal("2.02")
    await service.close_account(user)
    closed = await service.account(user)
    assert closed["status"] == "closed" and closed["closed_at"] is not None
    assert closed["balances"]["total"] == Decimal("8.02")  # closing moves no money
    with pytest.raises(AccountNotFound):
        await service.account(uuid.uuid4())


# --- interest ---------------------------------------------------------------------------------


async def test_a_month_of_interest_is_posted_once(
    service: AccountingService, database: Database
) -> None:
    user = await opened(service)
    year, month = previous_month(datetime.now(UTC).date())
    earlier = previous_month(date(year, month, 1))
    # Nothing earned: the month is settled, without an entry.
    assert await service.post_month(user, *earlier, Decimal(0))
    assert await ledger_count(database, user) == 0
    assert service.store.get_account(user).interest_through == last_day(*earlier)
    assert not await service.post_month(user, *earlier, Decimal("5.00"))  # settled already
    assert await service.post_month(user, year, month, Decimal("0.37"))
    assert not await service.post_month(user, year, month, Decimal("0.37"))
    assert not await service.post_month(user, year, month, Decimal("9.99"))
    rows = await ledger_rows(database, user)
    assert [(r.kind, r.amount, r.main, r.savings, r.period) for r in rows] == [
        ("interest", Decimal("0.37"), Decimal(0), Decimal("0.37"), f"{year:04d}-{month:02d}")
    ]
    assert (rows[0].idempotency_key, rows[0].request_hash) == (None, None)
    assert await now_balances(service, user) == (Decimal(0), Decimal("0.37"))
    with pytest.raises(AccountNotFound):
        await service.post_month(uuid.uuid4(), year, month, Decimal(1))
    await service.close_account(user)
    assert not await service.post_month(user, datetime.now(UTC).year + 1, 1, Decimal(1))


async def test_the_ledger_refuses_a_second_interest_entry_for_a_month(
    service: AccountingService, plain_url: str, database: Database
) -> None:
    user = await opened(service)
    year, month = previous_month(datetime.now(UTC).date())
    assert await service.post_month(user, year, month, Decimal("1.00"))
    # Around the aggregate, straight into the table: the unique (account, period) index holds.
    with psycopg.connect(plain_url, autocommit=True) as conn, pytest.raises(UniqueViolation):
        conn.execute(
            "INSERT INTO ledger_entries (entry_id, account_id, seq, kind, at, amount, main,"
            " savings, main_balance, savings_balance, originator_version, period)"
            " VALUES (%s, %s, 2, 'interest', now(), 1, 0, 1, 0, 2, 99, %s)",
            (uuid.uuid4(), user, f"{year:04d}-{month:02d}"),
        )
    assert await ledger_count(database, user) == 1
