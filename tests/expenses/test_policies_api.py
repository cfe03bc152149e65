"""Administration of policies and approval steps (`/api/v1`, the envelope)."""

from __future__ import annotations

from backoffice.org import service as org
from tests.expenses.factories import Org
from tests.expenses.test_workflow import submit


def policy_body(company_id: int, **overrides):
    body = {
        "company_id": company_id,
        "category": "meals",
        "name": "Team Meals",
        "description": "Lunches with the team",
        "min_amount": "1.00",
        "max_amount": "500.00",
        "steps": [
            {"step_order": 1, "required_level": 6},
            {"step_order": 2, "required_level": 4, "team_scope": "company", "is_required": False},
        ],
    }
    return body | overrides


async def test_policy_crud(client, session, acme: Org, admin):
    created = await client.post(
        "/api/v1/expense-policies", json=policy_body(acme.company_id), headers=admin
    )
    assert created.status_code == 201, created.text
    data = created.json()["data"]
    assert created.json()["status"] == "success"
    assert data["min_amount"] == 1.0
    assert data["max_amount"] == 500.0
    assert [(s["step_order"], s["team_scope"], s["is_required"]) for s in data["steps"]] == [
        (1, "submitter", True),
        (2, "company", False),
    ]
    policy_id = data["id"]

    again = await client.post(
        "/api/v1/expense-policies", json=policy_body(acme.company_id), headers=admin
    )
    assert again.status_code == 409
    assert again.json()["errors"][0]["code"] == "duplicate_policy"

    fetched = await client.get(f"/api/v1/expense-policies/{policy_id}", headers=admin)
    assert fetched.json()["data"]["name"] == "Team Meals"
    listed = await client.get(
        f"/api/v1/expense-policies?company_id={acme.company_id}&category=meals", headers=admin
    )
    assert [p["id"] for p in listed.json()["data"]] == [policy_id]
    assert listed.json()["pagination"]["total"] == 1

    renamed = await client.patch(
        f"/api/v1/expense-policies/{policy_id}",
        json={"name": "Meals", "max_amount": None},
        headers=admin,
    )
    assert renamed.status_code == 200, renamed.text
    assert renamed.json()["data"]["name"] == "Meals"
    assert renamed.json()["data"]["max_amount"] is None
    bad_range = await client.patch(
        f"/api/v1/expense-policies/{policy_id}", json={"max_amount": "0.50"}, headers=admin
    )
    assert bad_range.status_code == 422

    deleted = await client.delete(f"/api/v1/expense-policies/{policy_id}", headers=admin)
    assert deleted.status_code == 200
    gone = await client.get(f"/api/v1/expense-policies/{policy_id}", headers=admin)
    assert gone.status_code == 404


async def test_policy_validation(client, acme: Org, globex: Org, admin):
    cases = [
        policy_body(acme.company_id, min_amount="10", max_amount="5"),
        policy_body(acme.company_id, min_amount="1.001"),
        policy_body(acme.company_id, steps=[{"step_order": 0, "required_level": 6}]),
        policy_body(acme.company_id, steps=[{"step_order": 1, "required_level": 11}]),
        policy_body(
            acme.company_id, steps=[{"step_order": 1, "required_level": 6, "team_scope": "team"}]
        ),
        policy_body(
            acme.company_id,
            steps=[{"step_order": 1, "required_level": 6, "team_scope": "everyone"}],
        ),
        policy_body(
            acme.company_id,
            steps=[{"step_order": 1, "required_level": 6}, {"step_order": 1, "required_level": 5}],
        ),
        policy_body(
            acme.company_id,
            steps=[
                {
                    "step_order": 1,
                    "required_level": 6,
                    "team_scope": "team",
                    "scope_team_id": globex.team_id,
                }
            ],
        ),
        policy_body(acme.company_id, unexpected=True),
    ]
    for body in cases:
        response = await client.post("/api/v1/expense-policies", json=body, headers=admin)
        assert response.status_code == 422, (body, response.text)
        assert response.json()["status"] == "error"
    missing = await client.post(
        "/api/v1/expense-policies", json=policy_body(999_999), headers=admin
    )
    assert missing.status_code == 404, missing.text  # a company that does not exist
    listed = await client.get(
        f"/api/v1/expense-policies?company_id={acme.company_id}", headers=admin
    )
    assert listed.json()["pagination"]["total"] == 3


async def test_a_policy_with_expenses_cannot_be_deleted(client, acme: Org, admin):
    grace = acme["Grace"]
    policy_id = acme.policies["Small Equipment"]
    await submit(client, grace.headers, grace.id, policy_id, 10)
    refused = await client.delete(f"/api/v1/expense-policies/{policy_id}", headers=admin)
    assert refused.status_code == 409
    assert refused.json()["errors"][0]["code"] == "policy_in_use"


async def test_step_crud(client, session, acme: Org, admin):
    policy_id = acme.policies["Business Travel"]
    added = await client.post(
        f"/api/v1/expense-policies/{policy_id}/steps",
        json={
            "step_order": 3,
            "required_level": 3,
            "is_required": False,
            "description": "Director",
        },
        headers=admin,
    )
    assert added.status_code == 201, added.text
    step_id = added.json()["data"]["id"]
    duplicate = await client.post(
        f"/api/v1/expense-policies/{policy_id}/steps",
        json={"step_order": 3, "required_level": 2},
        headers=admin,
    )
    assert duplicate.status_code == 409
    sales = await org.create_team(session, {"company_id": acme.company_id, "name": "Sales"})
    moved = await client.patch(
        f"/api/v1/approval-steps/{step_id}",
        json={"team_scope": "team", "scope_team_id": sales.id},
        headers=admin,
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["data"]["scope_team_id"] == sales.id
    back = await client.patch(
        f"/api/v1/approval-steps/{step_id}", json={"team_scope": "company"}, headers=admin
    )
    assert back.json()["data"]["scope_team_id"] is None
    clash = await client.patch(
        f"/api/v1/approval-steps/{step_id}", json={"step_order": 1}, headers=admin
    )
    assert clash.status_code == 409
    missing_team = await client.patch(
        f"/api/v1/approval-steps/{step_id}", json={"team_scope": "team"}, headers=admin
    )
    assert missing_team.status_code == 422
    fetched = await client.get(f"/api/v1/approval-steps/{step_id}", headers=admin)
    assert fetched.json()["data"]["team_scope"] == "company"
    steps = await client.get(f"/api/v1/expense-policies/{policy_id}/steps", headers=admin)
    assert [s["step_order"] for s in steps.json()["data"]] == [1, 2, 3]
    deleted = await client.delete(f"/api/v1/approval-steps/{step_id}", headers=admin)
    assert deleted.status_code == 200
    assert (await client.get(f"/api/v1/approval-steps/{step_id}", headers=admin)).status_code == 404


async def test_roles_and_isolation_of_administration(
    client, acme: Org, globex: Org, staff, manager
):
    grace = acme["Grace"]
    refused = await client.post(
        "/api/v1/expense-policies", json=policy_body(acme.company_id), headers=staff
    )
    assert refused.status_code == 403
    as_employee = await client.post(
        "/api/v1/expense-policies", json=policy_body(acme.company_id), headers=grace.headers
    )
    assert as_employee.status_code == 403
    created = await client.post(
        "/api/v1/expense-policies", json=policy_body(acme.company_id), headers=manager
    )
    assert created.status_code == 201
    not_deleted = await client.delete(
        f"/api/v1/expense-policies/{created.json()['data']['id']}", headers=manager
    )
    assert not_deleted.status_code == 403
    readable = await client.get("/api/v1/expense-policies", headers=grace.headers)
    assert readable.status_code == 200
    assert {p["company_id"] for p in readable.json()["data"]} == {acme.company_id}
    other_step = await client.get(
        f"/api/v1/expense-policies/{globex.policies['Small Equipment']}/steps",
        headers=grace.headers,
    )
    assert other_step.status_code == 404
