"""The account aggregate, without a database: events, state, and the plan-change property."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
from hypothesis import given, settings

from backoffice.savings.accounting.aggregate import Account
from backoffice.savings.accounting.rules import (
    BalanceLimitExceeded,
    CreditTooSmall,
    PlanKind,
    PlanTerms,
)
from tests.savings.accounting.helpers import plan_changes_and_credits


def new_account() -> Account:
    return Account(user_id=uuid.uuid4(), email="ann@example.com", full_name="Ann")


def test_the_account_id_is_the_user_id_and_it_opens_empty() -> None:
    user = uuid.uuid4()
    account = Account(user_id=user, email="ann@example.com", full_name="Ann")
    assert account.id == user
    assert (account.main, account.savings, account.terms, account.is_closed) == (
        Decimal(0),
        Decimal(0),
        None,
        False,
    )
    assert isinstance(account.pending_events[0], Account.Opened)


def test_plan_terms_are_copied_into_the_event() -> None:
    account = new_account()
    account.assign_plan(plan_id=7, kind="percentage", value=Decimal("12.50"))
    assigned = account.pending_events[-1]
    assert isinstance(assigned, Account.PlanAssigned)
    assert (assigned.plan_id, assigned.kind, assigned.value) == (7, "percentage", Decimal("12.50"))
    assert account.terms == PlanTerms(PlanKind.PERCENTAGE, Decimal("12.50"))


def test_credit_splits_by_the_plan_in_force() -> None:
    account = new_account()
    account.credit(uuid.uuid4(), Decimal(10), idempotency_key="a", request_hash="h")
    account.assign_plan(plan_id=1, kind="flat-amount", value=Decimal(3))
    event = account.credit(uuid.uuid4(), Decimal(10), idempotency_key="b", request_hash="h")
    assert (event.main, event.savings) == (Decimal(7), Decimal(3))
    assert (account.main, account.savings) == (Decimal(17), Decimal(3))
    with pytest.raises(CreditTooSmall):
        account.credit(uuid.uuid4(), Decimal(3), idempotency_key="c", request_hash="h")
    assert account.version == 4  # the refused credit left no event


def test_credit_past_the_largest_balance_is_refused() -> None:
    account = new_account()
    account.credit(uuid.uuid4(), Decimal("999999999999.99"), idempotency_key="a", request_hash="h")
    with pytest.raises(BalanceLimitExceeded):
        account.credit(uuid.uuid4(), Decimal("0.01"), idempotency_key="b", request_hash="h")


def test_close_records_the_event_time() -> None:
    account = new_account()
    account.close()
    closed = account.pending_events[-1]
    assert isinstance(closed, Account.Closed)
    assert account.is_closed and account.closed_on == closed.timestamp


def test_profile_update() -> None:
    account = new_account()
    account.update_profile(email="bob@example.com", full_name="Bob")
    assert (account.email, account.full_name) == ("bob@example.com", "Bob")


operations = plan_changes_and_credits(max_flat="500", max_credit="100000", max_size=30)


@settings(max_examples=200)
@given(ops=operations)
def test_main_plus_savings_is_the_sum_of_accepted_credits(ops: list[tuple[str, Decimal]]) -> None:
    account = new_account()
    accepted = Decimal(0)
    for n, (what, value) in enumerate(ops):
        if what == "credit":
            try:
                account.credit(uuid.uuid4(), value, idempotency_key=str(n), request_hash="h")
            except CreditTooSmall:
                assert account.plan_kind == "flat-amount" and value <= (account.plan_value or 0)
                continue
            accepted += value
        else:
            account.assign_plan(plan_id=n, kind=what, value=value)
    assert account.main + account.savings == accepted
