"""The TechCorp demo loader (ids 1..7 on a fresh database are proven in test_live_server)."""

from __future__ import annotations

from sqlalchemy import select, true

from backoffice.core.db import Sql, driver_of
from backoffice.expenses.demo import COMPANY, PEOPLE, credentials, load_techcorp
from backoffice.expenses.models import ApprovalStep, ExpensePolicy
from backoffice.org import hierarchy
from tests.expenses.factories import ensure_us


async def test_load_techcorp_is_idempotent_and_complete(session, auth):
    await ensure_us(session)
    first = await load_techcorp(session, auth)
    assert first in (0, len(PEOPLE))
    assert await load_techcorp(session, auth) == 0

    company_id = await hierarchy.company_by_name(session, COMPANY)
    assert company_id is not None
    everyone = hierarchy.candidate_pool(company_id, 10, lambda team, wide: true())
    people = hierarchy.placements(await Sql(everyone).fetchval(await driver_of(session)))
    assert sorted((p.level_number, p.full_name, p.level_name) for p in people) == [
        (number, name, level) for number, (level, name, _, _) in enumerate(PEOPLE, start=1)
    ]
    assert all(p.account_id is not None for p in people)

    policies = {
        p.name: p
        for p in await session.scalars(
            select(ExpensePolicy).where(ExpensePolicy.company_id == company_id)
        )
    }
    assert set(policies) == {"Small Equipment", "Large Equipment", "Business Travel"}
    assert policies["Small Equipment"].max_amount < 2000 <= policies["Large Equipment"].min_amount
    levels = {
        name: [
            s.required_level
            for s in await session.scalars(
                select(ApprovalStep)
                .where(ApprovalStep.policy_id == policy.id)
                .order_by(ApprovalStep.step_order)
            )
        ]
        for name, policy in policies.items()
    }
    assert levels == {
        "Small Equipment": [6],
        "Large Equipment": [6, 5, 4],
        "Business Travel": [6, 5],
    }


def test_demo_logins_are_first_names():
    assert credentials("Grace Taylor") == ("grace", "grace-pass")
    assert all(len(credentials(name)[1]) >= 8 for _, name, _, _ in PEOPLE)
