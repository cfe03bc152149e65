"""The ledger's edges: old events read as the new, plan terms refused, interest past the limit."""

from __future__ import annotations

import json
import uuid
from decimal import Decimal

import pytest
from eventsourcing.persistence import StoredEvent

from backoffice.core.errors import ValidationFailed
from backoffice.core.money import MAX_MONEY
from backoffice.savings.accounting.aggregate import Account
from backoffice.savings.accounting.rules import BalanceLimitExceeded
from backoffice.savings.accounting.service import AccountingService
from backoffice.savings.accounting.store import AccountingStore
from tests.savings.accounting.test_service import credit, opened


def test_a_plan_assigned_before_interest_and_lock_in_reads_as_none_of_either(
    store: AccountingStore,
) -> None:
    account = Account(user_id=uuid.uuid4(), email="old@example.com", full_name="Old")
    account.assign_plan(plan_id=1, kind="percentage", value=Decimal("10.00"))
    event = account.pending_events[-1]
    stored = store.mapper.to_stored_event(event)
    # As version 1 wrote it: no class version, no rate, no lock-in.
    state = json.loads(stored.state)
    for key in ("interest_rate", "lock_in_days", "class_version"):
        state.pop(key, None)
    old = StoredEvent(
        stored.originator_id, stored.originator_version, stored.topic, json.dumps(state).encode()
    )
    read = store.mapper.to_domain_event(old)
    assert isinstance(read, Account.PlanAssigned)
    assert (read.interest_rate, read.lock_in_days) == (Decimal(0), 0)
    assert read.value == Decimal("10.00")


@pytest.mark.parametrize(
    ("terms", "field"),
    [
        ({"lock_in_days": -1}, "lock_in_days"),
        ({"lock_in_days": 3651}, "lock_in_days"),
        ({"interest_rate": Decimal("0.2500001")}, "interest_rate"),
        ({"interest_rate": Decimal("0.26")}, "interest_rate"),
        ({"interest_rate": Decimal("-0.01")}, "interest_rate"),
        ({"interest_rate": Decimal("NaN")}, "interest_rate"),
    ],
)
async def test_a_plan_with_a_lock_in_or_rate_out_of_range_is_refused(
    service: AccountingService, terms: dict[str, object], field: str
) -> None:
    with pytest.raises(ValidationFailed) as refused:
        await service.create_plan(f"bad {uuid.uuid4()}", "percentage", Decimal(10), **terms)  # type: ignore[arg-type]
    assert refused.value.errors is not None
    assert refused.value.errors[0]["field"] == field
    plans = {plan["name"] for plan in await service.list_plans()}
    assert not any(name.startswith("bad ") for name in plans)


async def test_a_month_whose_interest_passes_the_largest_balance_is_refused(
    service: AccountingService,
) -> None:
    user = await opened(service)
    saved = await service.create_plan(f"all {uuid.uuid4()}", "percentage", Decimal(100))
    await service.assign_plan(user, saved["id"])
    await credit(service, user, str(MAX_MONEY))
    with pytest.raises(BalanceLimitExceeded):
        await service.post_month(user, 2024, 1, Decimal("0.01"))
    summary = await service.account(user)
    assert summary["interest_through"] is None
    assert summary["balances"]["savings"] == MAX_MONEY
