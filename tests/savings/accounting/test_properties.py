"""The issue's property tests, end to end through the service and the real event store.

Hypothesis runs in a worker thread and sends each step to the session's event loop, so that
the service, its engine and its semaphore stay on the loop they belong to.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Coroutine
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar

from hypothesis import HealthCheck, given, settings

from backoffice.savings.accounting.aggregate import Account
from backoffice.savings.accounting.rules import CreditTooSmall
from backoffice.savings.accounting.service import AccountingService
from tests.savings.accounting.helpers import plan_changes_and_credits

T = TypeVar("T")

steps = plan_changes_and_credits(max_flat="50", max_credit="1000", min_size=1, max_size=8)


def replayed_balance(service: AccountingService, user: uuid.UUID, at: datetime) -> Decimal:
    """main + savings from folding the stored events up to `at`, and from the library's replay."""
    events = [
        e
        for e in service.store.events.get(user)
        if isinstance(e, Account.Event) and e.timestamp <= at
    ]
    folded = sum(
        (e.main + e.savings for e in events if isinstance(e, Account.Credited)), Decimal(0)
    )
    if events:  # the library's own rebuild at that version agrees
        account = service.store.get_account(user, version=events[-1].originator_version)
        assert account.main + account.savings == folded
    return folded


async def test_balances_add_up_and_equal_the_replay_at_any_instant(
    service: AccountingService,
) -> None:
    loop = asyncio.get_running_loop()

    def run(coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, loop).result(timeout=30)

    @settings(
        max_examples=12,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(ops=steps)
    def check(ops: list[tuple[str, Decimal]]) -> None:
        user = uuid.uuid4()
        run(service.open_account(user, f"{user}@example.com", "Ann"))
        accepted = Decimal(0)
        flat: Decimal | None = None
        instants = [datetime(2000, 1, 1, tzinfo=UTC)]
        for what, value in ops:
            if what == "credit":
                try:
                    made = run(
                        service.credit(
                            user, value, idempotency_key=uuid.uuid4().hex, request_hash="h"
                        )
                    )
                except CreditTooSmall:
                    # A flat plan never lets a credit at or below its amount through.
                    assert flat is not None and value <= flat
                    continue
                assert flat is None or value > flat
                accepted += value
                instants += [made["at"], made["at"] + timedelta(microseconds=1)]
            else:
                created = run(service.create_plan(f"p {uuid.uuid4()}", what, value))
                run(service.assign_plan(user, created["id"]))
                flat = value if what == "flat-amount" else None
        now = run(service.balance(user, datetime.now(UTC)))
        # main + savings is the sum of the accepted credits, to the cent.
        assert now["main"] + now["savings"] == now["total"] == accepted
        # The balance at any instant is the replay of the events up to it.
        for at in instants:
            assert run(service.balance(user, at))["total"] == replayed_balance(service, user, at)

    await asyncio.to_thread(check)
