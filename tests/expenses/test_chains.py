"""How chains are built at submission: level, scope, optional steps, missing approvers."""

from __future__ import annotations

from backoffice.expenses.rules import Scope
from backoffice.org import employees as org_employees
from backoffice.org import service as org
from tests.expenses.factories import Org, add_person, add_policy, make_company, step
from tests.expenses.test_workflow import approve, counts, status_of, submit


async def test_the_submitter_is_never_their_own_approver(client, acme: Org):
    frank, eve = acme["Frank"], acme["Eve"]
    response = await submit(client, frank.headers, frank.id, acme.policies["Small Equipment"], 50)
    assert response.json()["approvals_required"] == [
        {"step": 1, "approver": eve.name, "level": "SEM", "level_number": 5}
    ]


async def test_closest_level_at_or_above_wins(client, session, auth):
    company = await make_company(session, auth, people=False, policies=False)
    submitter = await add_person(session, auth, company, "Sub", 7)
    await add_person(session, auth, company, "Senior", 2)
    closest = await add_person(session, auth, company, "Closest", 4)
    await add_person(session, auth, company, "Twin", 4)  # same level, higher id: not chosen
    await add_person(session, auth, company, "Junior", 6)  # below the required level
    policy = await add_policy(session, company, "P", [step(1, 5)])
    response = await submit(client, submitter.headers, submitter.id, policy.id, 10)
    assert response.status_code == 201, response.text
    assert response.json()["approvals_required"] == [
        {"step": 1, "approver": closest.name, "level": "AD", "level_number": 4}
    ]


async def test_inactive_people_are_skipped(client, session, auth):
    company = await make_company(session, auth, people=False, policies=False)
    submitter = await add_person(session, auth, company, "Sub", 7)
    await add_person(session, auth, company, "Away", 6, active=False)
    boss = await add_person(session, auth, company, "Boss", 3)
    policy = await add_policy(session, company, "P", [step(1, 6)])
    response = await submit(client, submitter.headers, submitter.id, policy.id, 10)
    assert response.json()["approvals_required"][0]["approver"] == boss.name


async def test_scopes_submitter_team_company_and_named_team(client, session, auth):
    company = await make_company(session, auth, people=False, policies=False)
    sales = await org.create_team(session, {"company_id": company.company_id, "name": "Sales"})
    board = await org.create_team(
        session, {"company_id": company.company_id, "name": "Board", "is_company_wide": True}
    )
    submitter = await add_person(session, auth, company, "Sub", 7)
    sales_head = await add_person(session, auth, company, "SalesHead", 5, team_id=sales.id)
    board_member = await add_person(session, auth, company, "Chair", 1, team_id=board.id)

    own_team = await add_policy(session, company, "Own", [step(1, 5)])
    everyone = await add_policy(session, company, "All", [step(1, 5, scope=Scope.COMPANY)])
    named = await add_policy(
        session, company, "Named", [step(1, 5, scope=Scope.TEAM, team_id=sales.id)]
    )
    for policy, expected in (
        (own_team, board_member),  # nobody in Technology: the company-wide team spans it
        (everyone, sales_head),
        (named, sales_head),
    ):
        response = await submit(client, submitter.headers, submitter.id, policy.id, 10)
        assert response.status_code == 201, response.text
        assert response.json()["approvals_required"][0]["approver"] == expected.name


async def test_a_required_step_without_approver_is_refused_and_writes_nothing(
    client, session, auth
):
    company = await make_company(session, auth, people=False, policies=False)
    submitter = await add_person(session, auth, company, "Sub", 7)
    await add_person(session, auth, company, "Lead", 6)
    policy = await add_policy(session, company, "P", [step(1, 6), step(2, 2)])
    before = await counts(session)
    response = await submit(client, submitter.headers, submitter.id, policy.id, 10)
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "no_approver_for_step"
    assert "Step 2" in body["detail"]
    assert await counts(session) == before


async def test_optional_steps_never_block(client, session, auth):
    company = await make_company(session, auth, people=False, policies=False)
    submitter = await add_person(session, auth, company, "Sub", 7)
    lead = await add_person(session, auth, company, "Lead", 6)
    senior = await add_person(session, auth, company, "Senior", 5)
    policy = await add_policy(
        session,
        company,
        "P",
        [step(1, 5, required=False), step(2, 6), step(3, 1, required=False)],  # nobody at 1
    )
    created = await submit(client, submitter.headers, submitter.id, policy.id, 10)
    assert [a["step"] for a in created.json()["approvals_required"]] == [1, 2]
    expense_id = created.json()["expense_id"]
    decided = await approve(client, lead.headers, expense_id, lead.id)
    assert decided.status_code == 200, decided.text
    assert decided.json()["expense_status"] == "approved"
    status = await status_of(client, submitter.headers, expense_id)
    assert [(a["status"], a["required"]) for a in status["approvals"]] == [
        ("skipped", False),
        ("approved", True),
    ]
    late = await approve(client, senior.headers, expense_id, senior.id)
    assert late.status_code == 409


async def test_a_chain_of_optional_steps_only_is_approved_at_once(client, session, auth):
    company = await make_company(session, auth, people=False, policies=False)
    submitter = await add_person(session, auth, company, "Sub", 7)
    await add_person(session, auth, company, "Lead", 6)
    policy = await add_policy(session, company, "P", [step(1, 6, required=False)])
    created = await submit(client, submitter.headers, submitter.id, policy.id, 10)
    assert created.json()["status"] == "approved"
    status = await status_of(client, submitter.headers, created.json()["expense_id"])
    assert status["completed_at"] == status["submitted_at"]
    assert status["approvals"][0]["status"] == "skipped"


async def test_a_policy_without_steps_is_refused(client, session, auth):
    company = await make_company(session, auth, people=False, policies=False)
    submitter = await add_person(session, auth, company, "Sub", 7)
    policy = await add_policy(session, company, "P", [])
    response = await submit(client, submitter.headers, submitter.id, policy.id, 10)
    assert response.status_code == 422
    assert "no approval steps" in response.json()["detail"]


async def test_the_chain_is_fixed_at_submission(client, session, auth, acme: Org, admin):
    grace, frank = acme["Grace"], acme["Frank"]
    policy_id = acme.policies["Small Equipment"]
    expense_id = (await submit(client, grace.headers, grace.id, policy_id, 10)).json()["expense_id"]
    steps = (await client.get(f"/api/v1/expense-policies/{policy_id}/steps", headers=admin)).json()
    step_id = steps["data"][0]["id"]
    changed = await client.patch(
        f"/api/v1/approval-steps/{step_id}", json={"required_level": 2}, headers=admin
    )
    assert changed.status_code == 200, changed.text
    decided = await approve(client, frank.headers, expense_id, frank.id)
    assert decided.json()["expense_status"] == "approved"


async def test_a_step_keeps_naming_its_level_after_its_approver_moves_up(
    client, session, acme: Org
):
    grace, frank = acme["Grace"], acme["Frank"]
    created = await submit(client, grace.headers, grace.id, acme.policies["Small Equipment"], 50)
    assert created.json()["approvals_required"] == [
        {"step": 1, "approver": frank.name, "level": "Manager", "level_number": 6}
    ]
    await org_employees.update_employee(session, frank.id, {"level_id": acme.levels[5]})  # now SEM
    await org.update_level(session, acme.levels[6], {"level_name": "Engineering Manager"})

    [step] = (await status_of(client, grace.headers, created.json()["expense_id"]))["approvals"]
    # The chain was fixed at level 6: its name now, not the approver's new level.
    assert (step["approver_level"], step["approver_level_number"]) == ("Engineering Manager", 6)
