"""The ledger under concurrent writes to one account: exact balances, nothing negative, no gaps.

The service bounds its threads into the store; `asyncio.gather` puts every request in flight at
once, and the writes' loop retries those that lose (its default number of attempts).
"""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

from backoffice.core.db import Database
from backoffice.savings.accounting.models import LedgerEntry
from backoffice.savings.accounting.rules import InsufficientFunds
from backoffice.savings.accounting.service import AccountingService
from tests.savings.accounting.test_ledger import ledger_rows, transfer, withdraw
from tests.savings.accounting.test_service import credit, opened, plan


def assert_running_balances(rows: list[LedgerEntry]) -> None:
    """Entries numbered 1..n, each balance the previous one plus the change, none negative."""
    assert [r.seq for r in rows] == list(range(1, len(rows) + 1))
    main = savings = Decimal(0)
    for row in rows:
        main += row.main
        savings += row.savings
        assert (row.main_balance, row.savings_balance) == (main, savings), row.seq
        assert main >= 0 and savings >= 0, row.seq


async def test_32_withdrawals_at_once_take_exactly_what_fits(
    service: AccountingService, database: Database
) -> None:
    user = await opened(service)
    await credit(service, user, "100.00")
    amounts = [Decimal(n) + Decimal("0.01") * n for n in range(1, 33)]  # 1.01 .. 32.32
    assert sum(amounts) > 100
    results = await asyncio.gather(
        *(withdraw(service, user, str(a)) for a in amounts), return_exceptions=True
    )
    taken = [a for a, r in zip(amounts, results, strict=True) if isinstance(r, dict)]
    refused = [a for a, r in zip(amounts, results, strict=True) if not isinstance(r, dict)]
    assert all(isinstance(r, InsufficientFunds) for r in results if not isinstance(r, dict))
    assert taken and refused
    left = Decimal("100.00") - sum(taken)
    # Main only goes down here: a withdrawal refused for want of money would not fit now either.
    assert left >= 0 and all(a > left for a in refused)
    assert (await service.balance(user))["main"] == left
    rows = await ledger_rows(database, user)
    assert len(rows) == 1 + len(taken)
    assert sorted(-r.main for r in rows[1:]) == sorted(taken)
    assert_running_balances(rows)
    assert rows[-1].main_balance == left


async def test_transfers_both_ways_and_credits_at_once_add_up(
    service: AccountingService, database: Database
) -> None:
    user = await opened(service)
    await service.assign_plan(user, await plan(service, "percentage", "50"))
    await credit(service, user, "100.00")  # main 50.00, savings 50.00
    calls: list[Any] = []
    for n in range(1, 11):
        calls.append(credit(service, user, f"{n}.{n:02d}"))
        calls.append(transfer(service, user, "main", f"{n * 3}.00"))
        calls.append(transfer(service, user, "savings", f"{n * 4}.50"))
    results = await asyncio.gather(*calls, return_exceptions=True)
    failures = [r for r in results if not isinstance(r, dict)]
    assert all(isinstance(r, InsufficientFunds) for r in failures), failures
    made = [r for r in results if isinstance(r, dict)]
    credits = [r for r in made if r["kind"] == "credit"]
    assert len(credits) == 10  # a credit is never refused here
    total = Decimal("100.00") + sum(r["amount"] for r in credits)
    now = await service.balance(user)
    assert now["main"] + now["savings"] == now["total"] == total
    assert now["main"] == Decimal("50.00") + sum(r["main"] for r in made)
    assert now["savings"] == Decimal("50.00") + sum(r["savings"] for r in made)
    rows = await ledger_rows(database, user)
    assert len(rows) == 1 + len(made)
    assert {r.entry_id for r in rows[1:]} == {r["entry_id"] for r in made}
    assert_running_balances(rows)
    account = service.store.get_account(user)
    assert (account.main, account.savings, account.entries) == (
        now["main"],
        now["savings"],
        len(rows),
    )


async def test_the_same_withdrawal_key_at_once_takes_the_money_once(
    service: AccountingService, database: Database
) -> None:
    user = await opened(service)
    await credit(service, user, "10.00")
    results = await asyncio.gather(*(withdraw(service, user, "4.00", key="k") for _ in range(8)))
    assert len({r["entry_id"] for r in results}) == 1
    assert (await service.balance(user))["main"] == Decimal("6.00")
    assert len(await ledger_rows(database, user)) == 2
