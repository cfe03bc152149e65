"""The chain a claim would get, shown before it is submitted (`workflow.preview_chain`), and the
range rule it shares with the submission."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import text

from backoffice.core.auth.service import Principal, Role
from backoffice.core.db import Driver
from backoffice.expenses import workflow
from backoffice.expenses.errors import (
    AmountOutsidePolicy,
    NoApproverForStep,
    NoLinkedEmployee,
    PolicyNotFound,
)
from backoffice.expenses.rules import amount_in_range, range_text
from backoffice.expenses.schemas import ExpenseCreate
from tests.expenses.factories import Org, add_policy, make_company, step

money = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("1e9"), places=2)


@given(money, money, st.one_of(st.none(), money))
def test_a_range_takes_exactly_the_amounts_between_its_bounds(amount, low, high):
    taken = amount_in_range(amount, low, high)
    assert taken == (low <= amount and (high is None or amount <= high))
    assert amount_in_range(low, low, high) == (high is None or low <= high)  # bounds included
    if high is None:
        assert amount_in_range(amount + low, low, None)  # no upper bound
        assert range_text(low, high) == f"{low} or more"
    else:
        assert range_text(low, high) == f"{low} to {high}"


async def principal_of(session, org: Org, first_name: str) -> Principal:
    name = org[first_name].name.lower().replace(" ", "-")
    row = (
        await session.execute(
            text("SELECT id, auth_version FROM accounts WHERE username = :u"), {"u": name}
        )
    ).one()
    return Principal(row.id, name, Role.STAFF, row.auth_version)


async def count_expenses(conn: Driver) -> int:
    return int(await conn.fetchval("SELECT count(*) FROM expenses"))


async def test_the_preview_is_the_chain_the_submission_fixes_and_writes_nothing(
    session, statement_pool, acme: Org
):
    grace = await principal_of(session, acme, "Grace")
    before = await count_expenses(statement_pool)
    preview = await workflow.preview_chain(
        statement_pool, grace, acme.policies["Large Equipment"], Decimal("4000.00")
    )
    assert [(a.step, a.approver, a.level) for a in preview] == [
        (1, acme["Frank"].name, "Manager"),
        (2, acme["Eve"].name, "SEM"),
        (3, acme["David"].name, "AD"),
    ]
    assert await count_expenses(statement_pool) == before
    created = await workflow.submit_expense(
        statement_pool,
        grace,
        ExpenseCreate(
            user_id=acme["Grace"].id,
            policy_id=acme.policies["Large Equipment"],
            amount=Decimal("4000.00"),
            description="screen",
        ),
    )
    assert created.approvals_required == preview


async def test_the_preview_refuses_what_the_submission_refuses(
    session, auth, statement_pool, acme: Org
):
    grace = await principal_of(session, acme, "Grace")
    with pytest.raises(AmountOutsidePolicy):
        await workflow.preview_chain(
            statement_pool, grace, acme.policies["Small Equipment"], Decimal("2000.00")
        )
    other = await make_company(session, auth)
    with pytest.raises(PolicyNotFound):
        await workflow.preview_chain(
            statement_pool, grace, other.policies["Small Equipment"], Decimal("10")
        )
    await add_policy(session, acme, "Board", [step(1, 1, required=True)], category="board")
    alice = await principal_of(session, acme, "Alice")  # nobody above level 1 but herself
    with pytest.raises(NoApproverForStep):
        await workflow.preview_chain(statement_pool, alice, acme.policies["Board"], Decimal("5"))
    nobody = Principal(10**9, "nobody", Role.STAFF, 1)
    with pytest.raises(NoLinkedEmployee):
        await workflow.preview_chain(
            statement_pool, nobody, acme.policies["Small Equipment"], Decimal("5")
        )
