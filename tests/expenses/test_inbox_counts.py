"""The inbox counts kept by submissions and decisions equal a count of the waiting steps."""

from __future__ import annotations

import random

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from tests.conftest import on_both_pools
from tests.expenses.factories import Org, add_policy, step
from tests.expenses.test_workflow import approve, reject, submit

# The submission, decision, status and inbox endpoints run on the statement pool: run these
# tests on the real one too, where each statement commits on its own.
pytestmark = on_both_pools

RECOUNT = text(
    "SELECT approver_id, count(*) FROM expense_approvals"
    " WHERE status = 'pending' AND is_actionable GROUP BY approver_id"
)
KEPT = text("SELECT approver_id, waiting FROM expense_inbox_counts WHERE waiting <> 0")


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_inbox_counts_equal_a_recount_after_a_random_workload(
    client, session: AsyncSession, acme: Org, seed: int
):
    rnd = random.Random(seed)
    # An optional first step makes two steps wait at once, for two approvers.
    await add_policy(session, acme, "Mixed", [step(1, 5, required=False), step(2, 6), step(3, 4)])
    policies = list(acme.policies.values())
    submitters = [acme["Grace"], acme["Frank"], acme["Eve"]]
    for _ in range(60):
        person = rnd.choice(submitters)
        if rnd.random() < 0.5:
            policy_id = rnd.choice(policies)
            created = await submit(client, person.headers, person.id, policy_id, 2500)
            assert created.status_code in (201, 400), created.text  # 400: outside the policy
            continue
        approver = rnd.choice(list(acme.people.values()))
        inbox = await client.get("/api/approvals/pending?limit=5", headers=approver.headers)
        assert inbox.status_code == 200, inbox.text
        items = inbox.json()["items"]
        if not items:
            continue
        decide = reject if rnd.random() < 0.3 else approve
        decided = await decide(
            client, approver.headers, rnd.choice(items)["expense_id"], approver.id, "why"
        )
        assert decided.status_code in (200, 409), decided.text

    recount: dict[int, int] = dict((await session.execute(RECOUNT)).all())
    assert dict((await session.execute(KEPT)).all()) == recount
    assert sum(recount.values()) > 0  # the workload left steps waiting: the check is not vacuous
    for person in acme.people.values():
        page = await client.get("/api/approvals/pending?limit=1", headers=person.headers)
        assert page.json()["pagination"]["total"] == recount.get(person.id, 0)
