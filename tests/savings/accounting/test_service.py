"""The accounting service on a real database: accounts, plans, credits, balances, races."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from eventsourcing.persistence import IntegrityError
from sqlalchemy import select

from backoffice.core.db import Database
from backoffice.core.errors import ValidationFailed
from backoffice.savings.accounting.errors import (
    AccountBusy,
    AccountNotFound,
    IdempotencyKeyReused,
    PlanNameTaken,
    PlanNotFound,
)
from backoffice.savings.accounting.models import AccountView, LedgerEntry
from backoffice.savings.accounting.rules import CreditTooSmall
from backoffice.savings.accounting.service import AccountingService
from backoffice.savings.accounting.store import AccountingStore

FAR_PAST = datetime(2000, 1, 1, tzinfo=UTC)


async def opened(service: AccountingService) -> uuid.UUID:
    user = uuid.uuid4()
    assert await service.open_account(user, f"{user}@example.com", "Ann")
    return user


async def plan(service: AccountingService, kind: str, value: str) -> int:
    created = await service.create_plan(f"plan {uuid.uuid4()}", kind, Decimal(value))
    return int(created["id"])


async def account_row(database: Database, user: uuid.UUID) -> AccountView | None:
    async with database.sessionmaker() as session:
        return await session.scalar(select(AccountView).where(AccountView.account_id == user))


async def credit(
    service: AccountingService, user: uuid.UUID, amount: str, key: str | None = None
) -> dict[str, Any]:
    return await service.credit(
        user, Decimal(amount), idempotency_key=key or uuid.uuid4().hex, request_hash="h"
    )


async def test_open_account_is_idempotent(service: AccountingService, database: Database) -> None:
    user = uuid.uuid4()
    assert await service.open_account(user, "ann@example.com", "Ann", msg_id="m-1")
    assert not await service.open_account(user, "ann@example.com", "Ann", msg_id="m-1")
    assert not await service.open_account(user, "ann@example.com", "Ann", msg_id="m-2")
    assert not await service.open_account(user, "ann@example.com", "Ann")
    assert service.store.get_account(user).version == 1
    row = await account_row(database, user)
    assert row is not None and (row.email, row.full_name, row.closed_at) == (
        "ann@example.com",
        "Ann",
        None,
    )


async def test_a_redelivered_message_is_skipped_before_any_write(
    service: AccountingService, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = uuid.uuid4()
    msg = uuid.uuid4().hex
    assert await service.open_account(user, "ann@example.com", "Ann", msg_id=msg)

    def no_thread(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a processed message reached the store")

    monkeypatch.setattr(service, "_in_thread", no_thread)
    assert not await service.open_account(user, "ann@example.com", "Ann", msg_id=msg)
    assert not await service.update_profile(user, "new@example.com", "New", msg_id=msg)
    assert not await service.close_account(user, msg_id=msg)


async def test_the_same_created_message_at_once_opens_one_account(
    service: AccountingService,
) -> None:
    user, msg = uuid.uuid4(), uuid.uuid4().hex
    results = await asyncio.gather(
        *(service.open_account(user, "ann@example.com", "Ann", msg_id=msg) for _ in range(5))
    )
    assert results.count(True) == 1
    assert service.store.get_account(user).version == 1


async def test_update_profile(service: AccountingService, database: Database) -> None:
    user = await opened(service)
    assert await service.update_profile(user, "bob@example.com", "Bob", msg_id=uuid.uuid4().hex)
    assert not await service.update_profile(user, "bob@example.com", "Bob")
    row = await account_row(database, user)
    assert row is not None and (row.email, row.full_name) == ("bob@example.com", "Bob")


async def test_an_update_before_the_creation_opens_the_account(
    service: AccountingService,
) -> None:
    user = uuid.uuid4()
    assert await service.update_profile(user, "new@example.com", "New")
    assert not await service.open_account(user, "old@example.com", "Old")
    account = service.store.get_account(user)
    assert (account.email, account.full_name) == ("new@example.com", "New")


async def test_close_account(service: AccountingService, database: Database) -> None:
    user = await opened(service)
    assert await service.close_account(user)
    assert not await service.close_account(user)
    assert not await service.close_account(uuid.uuid4())
    assert not await service.update_profile(user, "late@example.com", "Late")
    row = await account_row(database, user)
    account = service.store.get_account(user)
    assert row is not None and row.closed_at == account.closed_on is not None
    with pytest.raises(AccountNotFound):
        await credit(service, user, "1")


async def test_plans(service: AccountingService) -> None:
    name = f"Save a tenth {uuid.uuid4()}"
    created = await service.create_plan(f"  {name} ", "percentage", Decimal("10"))
    assert created["name"] == name and created["kind"] == "percentage"
    assert created["value"] == Decimal("10.00")
    assert created in await service.list_plans()
    with pytest.raises(PlanNameTaken):
        await service.create_plan(name, "flat-amount", Decimal(5))
    with pytest.raises(ValidationFailed):
        await service.create_plan("   ", "percentage", Decimal(5))
    with pytest.raises(ValidationFailed):
        await service.create_plan("x", "percentage", Decimal(101))


async def test_assign_plan(service: AccountingService, database: Database) -> None:
    user = await opened(service)
    plan_id = await plan(service, "flat-amount", "2.50")
    assigned = await service.assign_plan(user, plan_id)
    assert assigned["id"] == plan_id and assigned["value"] == Decimal("2.50")
    row = await account_row(database, user)
    assert row is not None and row.plan_id == plan_id
    with pytest.raises(PlanNotFound) as caught:
        await service.assign_plan(user, 10**12)
    assert caught.value.code == "plan_not_found"
    with pytest.raises(AccountNotFound) as missing:
        await service.assign_plan(uuid.uuid4(), plan_id)
    assert missing.value.code == "account_not_found"


async def test_the_customers_on_a_plan_are_its_open_accounts_by_email(
    service: AccountingService,
) -> None:
    plan_id = await plan(service, "percentage", "3")
    other = await plan(service, "percentage", "4")
    users = []
    for name in ("c", "a", "b", "d"):
        user = uuid.uuid4()
        await service.open_account(user, f"{name}-{user}@example.com", name.upper())
        await service.assign_plan(user, plan_id)
        users.append(user)
    await service.assign_plan(users[3], other)  # moved to another plan
    await service.close_account(users[2])  # b: deleted, off every list
    await opened(service)  # on no plan
    found = await service.plan_customers(plan_id, limit=10, offset=0)
    assert found["plan"]["id"] == plan_id and found["total"] == 2
    assert [(c["full_name"], c["user_id"]) for c in found["items"]] == [
        ("A", users[1]),
        ("C", users[0]),
    ]
    assert await service.current_plan(users[0]) == plan_id
    assert await service.current_plan(users[3]) == other
    assert await service.current_plan(uuid.uuid4()) is None
    page = await service.plan_customers(plan_id, limit=1, offset=1)
    assert [c["full_name"] for c in page["items"]] == ["C"] and page["total"] == 2
    assert (await service.plan_customers(other, limit=10, offset=0))["total"] == 1
    with pytest.raises(PlanNotFound):
        await service.plan_customers(10**12, limit=10, offset=0)


async def test_credits_split_by_the_plan_in_force(service: AccountingService) -> None:
    user = await opened(service)
    first = await credit(service, user, "10.00")
    assert (first["main"], first["savings"]) == (Decimal("10.00"), Decimal("0.00"))
    await service.assign_plan(user, await plan(service, "percentage", "10"))
    second = await credit(service, user, "10.05")
    assert (second["main"], second["savings"]) == (Decimal("9.04"), Decimal("1.01"))
    await service.assign_plan(user, await plan(service, "flat-amount", "5"))
    with pytest.raises(CreditTooSmall):
        await credit(service, user, "5.00")
    third = await credit(service, user, "5.01")
    assert (third["main"], third["savings"]) == (Decimal("0.01"), Decimal("5.00"))
    now = await service.balance(user, datetime.now(UTC))
    assert (now["main"], now["savings"], now["total"]) == (
        Decimal("19.05"),
        Decimal("6.01"),
        Decimal("25.06"),
    )
    assert service.store.get_account(user).version == 6  # the refused credit wrote nothing


async def test_credit_rejects_a_bad_amount_and_a_missing_account(
    service: AccountingService,
) -> None:
    user = await opened(service)
    with pytest.raises(ValidationFailed):
        await credit(service, user, "0")
    with pytest.raises(AccountNotFound):
        await credit(service, uuid.uuid4(), "1")


async def test_the_same_key_returns_the_first_result(service: AccountingService) -> None:
    user = await opened(service)
    first = await credit(service, user, "12.00", key="key-1")
    assert await credit(service, user, "12.00", key="key-1") == first
    with pytest.raises(IdempotencyKeyReused) as caught:
        await service.credit(user, Decimal(13), idempotency_key="key-1", request_hash="other")
    assert caught.value.status_code == 409 and caught.value.code == "idempotency_key_reused"
    assert service.store.get_account(user).main == Decimal(12)


async def test_a_replay_returns_the_first_credit_even_where_the_rules_now_refuse_it(
    service: AccountingService,
) -> None:
    user = await opened(service)
    first = await credit(service, user, "5.00", key="before-the-plan")
    await service.assign_plan(user, await plan(service, "flat-amount", "10"))
    assert await credit(service, user, "5.00", key="before-the-plan") == first
    with pytest.raises(CreditTooSmall):
        await credit(service, user, "5.00", key="a-new-key")
    closed_user = await opened(service)
    landed = await credit(service, closed_user, "1.00", key="before-closing")
    await service.close_account(closed_user)
    assert await credit(service, closed_user, "1.00", key="before-closing") == landed


async def test_the_same_key_ten_times_at_once_makes_one_credit(
    service: AccountingService,
) -> None:
    user = await opened(service)
    results = await asyncio.gather(*(credit(service, user, "7.00", key="once") for _ in range(10)))
    assert len({r["credit_id"] for r in results}) == 1
    account = service.store.get_account(user)
    assert (account.version, account.main) == (2, Decimal(7))


async def test_32_concurrent_credits_give_exact_balances(
    service: AccountingService, database: Database
) -> None:
    user = await opened(service)
    await service.assign_plan(user, await plan(service, "percentage", "33.33"))
    amounts = [Decimal(n) + Decimal("0.01") * n for n in range(1, 33)]
    results = await asyncio.gather(*(credit(service, user, str(a)) for a in amounts))
    assert sum(r["amount"] for r in results) == sum(amounts)
    balance = await service.balance(user, datetime.now(UTC))
    assert balance["main"] == sum(r["main"] for r in results)
    assert balance["savings"] == sum(r["savings"] for r in results)
    assert balance["total"] == sum(amounts)
    account = service.store.get_account(user)
    assert (account.main, account.savings) == (balance["main"], balance["savings"])
    async with database.sessionmaker() as session:
        versions = (
            await session.scalars(
                select(LedgerEntry.originator_version)
                .where(LedgerEntry.account_id == user)
                .order_by(LedgerEntry.originator_version)
            )
        ).all()
    assert versions == list(range(3, 35))


async def test_a_write_that_keeps_losing_gives_up(
    store: AccountingStore, database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = AccountingService(store, database, threads=1, max_attempts=3)
    user = await opened(service)
    attempts = []

    def always_lose(*args: Any, **kwargs: Any) -> None:
        attempts.append(1)
        raise IntegrityError("lost")

    monkeypatch.setattr(store, "save_account", always_lose)
    with pytest.raises(AccountBusy):
        await credit(service, user, "1")
    assert len(attempts) == 3


async def test_balance_at_an_instant(service: AccountingService) -> None:
    user = await opened(service)
    before = datetime.now(UTC)
    assert (await service.balance(user, FAR_PAST))["total"] == Decimal(0)
    first = await credit(service, user, "10.00")
    second = await credit(service, user, "5.00")
    between = first["at"] + (second["at"] - first["at"]) / 2
    assert (await service.balance(user, before))["main"] == Decimal(0)
    assert (await service.balance(user, first["at"]))["main"] == Decimal(10)
    assert (await service.balance(user, between))["main"] == Decimal(10)
    assert (await service.balance(user, second["at"]))["main"] == Decimal(15)
    naive = second["at"].astimezone(UTC).replace(tzinfo=None)  # read as UTC
    assert (await service.balance(user, naive))["total"] == Decimal(15)
    with pytest.raises(AccountNotFound):
        await service.balance(uuid.uuid4(), before)


MADE = ("entry_id", "kind", "amount", "main", "savings", "at", "credit_id")


def _as_made(entry: dict[str, Any]) -> dict[str, Any]:
    """A listed credit with the keys its credit's answer had."""
    return {key: entry[key] for key in MADE}


async def test_transactions_in_a_range(service: AccountingService) -> None:
    user = await opened(service)
    made = [await credit(service, user, f"{n}.00") for n in range(1, 6)]
    everything, total = await service.transactions(
        user, FAR_PAST, datetime.now(UTC) + timedelta(days=1), limit=10, offset=0
    )
    # Each entry as it was made, with the balances after it and no more than a credit has.
    assert [_as_made(e) for e in everything] == made and total == 5
    assert [e["main_balance"] for e in everything] == [1, 3, 6, 10, 15]
    assert {e["reverses"] for e in everything} == {None}
    # `from` inclusive, `to` exclusive.
    window, total = await service.transactions(
        user, made[1]["at"], made[3]["at"], limit=10, offset=0
    )
    assert [_as_made(e) for e in window] == made[1:3] and total == 2
    page, total = await service.transactions(
        user, FAR_PAST, made[4]["at"] + timedelta(seconds=1), limit=2, offset=2
    )
    assert [_as_made(e) for e in page] == made[2:4] and total == 5
    assert await service.transactions(user, FAR_PAST, FAR_PAST, limit=10, offset=0) == ([], 0)
    with pytest.raises(AccountNotFound):
        await service.transactions(uuid.uuid4(), FAR_PAST, datetime.now(UTC), limit=1, offset=0)


async def test_open_and_close_on_a_url(accounting_database_url: str) -> None:
    service = await AccountingService.open(
        accounting_database_url, store_pool_size=1, db_pool_size=1
    )
    try:
        user = await opened(service)
        assert (await credit(service, user, "3.00"))["main"] == Decimal(3)
    finally:
        await service.close()
