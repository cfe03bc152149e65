"""Identity, company isolation, the audit trail, the inbox and the lists."""

from __future__ import annotations

from backoffice.core.auth.service import Role
from tests.conftest import make_account, on_both_pools
from tests.expenses.factories import Org
from tests.expenses.test_workflow import approve, reject, submit

# The submission, decision, status and inbox endpoints run on the statement pool: run these
# tests on the real one too, where each statement commits on its own.
pytestmark = on_both_pools


async def test_an_employee_acts_only_as_themselves(client, acme: Org):
    grace, frank, eve = acme["Grace"], acme["Frank"], acme["Eve"]
    as_frank = await submit(client, grace.headers, frank.id, acme.policies["Small Equipment"], 10)
    assert as_frank.status_code == 403
    assert as_frank.json()["code"] == "not_your_identity"

    expense_id = (
        await submit(client, grace.headers, grace.id, acme.policies["Small Equipment"], 10)
    ).json()["expense_id"]
    # Eve's login naming Frank, the designated approver: refused, nothing decided.
    forged = await approve(client, eve.headers, expense_id, frank.id)
    assert forged.status_code == 403
    assert forged.json()["code"] == "not_your_identity"
    forged_reject = await reject(client, eve.headers, expense_id, frank.id, "no")
    assert forged_reject.status_code == 403
    assert (await approve(client, frank.headers, expense_id, frank.id)).status_code == 200


async def test_a_login_without_an_employee_cannot_act(client, session, auth, acme: Org, staff):
    response = await submit(client, staff, acme["Grace"].id, acme.policies["Small Equipment"], 10)
    assert response.status_code == 403
    assert response.json()["code"] == "no_linked_employee"
    inbox = await client.get("/api/approvals/pending", headers=staff)
    assert inbox.status_code == 403


async def test_admin_acts_on_behalf_and_the_trail_says_so(client, session, auth, acme: Org):
    admin = await make_account(session, auth, Role.ADMIN, "boss-admin")
    grace, frank = acme["Grace"], acme["Frank"]
    created = await submit(client, admin, grace.id, acme.policies["Small Equipment"], 120)
    assert created.status_code == 201, created.text
    expense_id = created.json()["expense_id"]
    decided = await approve(client, admin, expense_id, frank.id, "approved by phone")
    assert decided.status_code == 200, decided.text

    trail = await client.get(f"/api/expenses/{expense_id}/audit", headers=grace.headers)
    assert trail.status_code == 200, trail.text
    events = trail.json()["events"]
    assert [(e["action"], e["from_status"], e["to_status"]) for e in events] == [
        ("submitted", None, "pending"),
        ("step_approved", "pending", "approved"),
        ("expense_approved", "pending", "approved"),
    ]
    assert {e["actor_username"] for e in events} == {"boss-admin"}
    assert all(e["actor_employee_id"] is None for e in events)
    assert events[0]["on_behalf_of_id"] == grace.id
    assert events[1]["on_behalf_of_id"] == frank.id
    assert events[1]["step_number"] == 1
    assert events[1]["comment"] == "approved by phone"
    assert all(e["created_at"] for e in events)


async def test_the_trail_of_a_normal_flow_names_the_employee_not_on_behalf(client, acme: Org):
    grace, frank, eve = acme["Grace"], acme["Frank"], acme["Eve"]
    expense_id = (
        await submit(client, grace.headers, grace.id, acme.policies["Large Equipment"], 5000)
    ).json()["expense_id"]
    await approve(client, frank.headers, expense_id, frank.id)
    await reject(client, eve.headers, expense_id, eve.id, "Not this quarter")
    events = (await client.get(f"/api/expenses/{expense_id}/audit", headers=grace.headers)).json()[
        "events"
    ]
    assert [(e["action"], e["step_number"], e["actor_employee_id"]) for e in events] == [
        ("submitted", None, grace.id),
        ("step_approved", 1, frank.id),
        ("step_rejected", 2, eve.id),
        ("step_cancelled", 3, eve.id),
        ("expense_rejected", None, eve.id),
    ]
    assert all(e["on_behalf_of_id"] is None for e in events)
    assert events[2]["comment"] == "Not this quarter"


async def test_another_company_sees_404_never_403(client, acme: Org, globex: Org):
    grace, frank = acme["Grace"], acme["Frank"]
    outsider = globex["Frank"]
    expense_id = (
        await submit(client, grace.headers, grace.id, acme.policies["Small Equipment"], 10)
    ).json()["expense_id"]

    for path in (f"/api/expenses/{expense_id}/status", f"/api/expenses/{expense_id}/audit"):
        response = await client.get(path, headers=outsider.headers)
        assert response.status_code == 404
        assert response.json()["code"] == "expense_not_found"
    decided = await approve(client, outsider.headers, expense_id, outsider.id)
    assert decided.status_code == 404
    named = await approve(client, outsider.headers, expense_id, frank.id)
    assert named.status_code == 404  # Frank is an employee of another company
    assert named.json()["code"] == "employee_not_found"
    as_grace = await submit(client, outsider.headers, grace.id, acme.policies["Small Equipment"], 5)
    assert as_grace.status_code == 404
    policy = await client.get(
        f"/api/v1/expense-policies/{acme.policies['Small Equipment']}", headers=outsider.headers
    )
    assert policy.status_code == 404
    listed = await client.get("/api/v1/expense-policies", headers=outsider.headers)
    assert {p["company_id"] for p in listed.json()["data"]} == {globex.company_id}
    still = await approve(client, frank.headers, expense_id, frank.id)
    assert still.json()["expense_status"] == "approved"


async def test_status_is_for_the_people_involved(client, session, auth, acme: Org):
    grace, frank, carol = acme["Grace"], acme["Frank"], acme["Carol"]
    expense_id = (
        await submit(client, grace.headers, grace.id, acme.policies["Small Equipment"], 10)
    ).json()["expense_id"]
    assert (
        await client.get(f"/api/expenses/{expense_id}/status", headers=frank.headers)
    ).status_code == 200
    hidden = await client.get(f"/api/expenses/{expense_id}/status", headers=carol.headers)
    assert hidden.status_code == 404
    missing = await client.get("/api/expenses/987654321/status", headers=grace.headers)
    assert missing.status_code == 404
    assert missing.json() == {"detail": "Expense 987654321 not found", "code": "expense_not_found"}


async def test_inbox_shows_only_what_waits_for_you_now(client, acme: Org):
    grace, frank, eve, david = acme["Grace"], acme["Frank"], acme["Eve"], acme["David"]
    large = (
        await submit(client, grace.headers, grace.id, acme.policies["Large Equipment"], 3000)
    ).json()["expense_id"]
    small = (
        await submit(client, grace.headers, grace.id, acme.policies["Small Equipment"], 30)
    ).json()["expense_id"]

    async def inbox(person) -> list[tuple[int, int]]:
        response = await client.get("/api/approvals/pending", headers=person.headers)
        assert response.status_code == 200, response.text
        assert response.json()["approver_id"] == person.id
        return [(i["expense_id"], i["step_number"]) for i in response.json()["items"]]

    assert await inbox(frank) == [(large, 1), (small, 1)]
    first = await client.get("/api/approvals/pending?limit=1", headers=frank.headers)
    assert first.json()["pagination"] == {"total": 2, "limit": 1, "offset": 0, "has_more": True}
    assert await inbox(eve) == []
    assert await inbox(david) == []
    await approve(client, frank.headers, large, frank.id)
    assert await inbox(frank) == [(small, 1)]
    assert await inbox(eve) == [(large, 2)]
    item = (await client.get("/api/approvals/pending", headers=eve.headers)).json()["items"][0]
    assert item["user_id"] == grace.id
    assert item["user_name"] == grace.name
    assert item["policy_name"] == "Large Equipment"
    assert item["amount"] == 3000.0
    await reject(client, eve.headers, large, eve.id, "no")
    assert await inbox(eve) == []
    assert await inbox(david) == []


async def test_my_expenses_filter_and_paginate(client, acme: Org, admin):
    grace, frank = acme["Grace"], acme["Frank"]
    ids = []
    for amount in (10, 20, 30):
        response = await submit(
            client, grace.headers, grace.id, acme.policies["Small Equipment"], amount
        )
        ids.append(response.json()["expense_id"])
    await approve(client, frank.headers, ids[0], frank.id)
    await submit(client, frank.headers, frank.id, acme.policies["Small Equipment"], 99)

    mine = await client.get("/api/expenses", headers=grace.headers)
    assert mine.status_code == 200
    assert [e["id"] for e in mine.json()["items"]] == ids[::-1]
    assert mine.json()["pagination"]["total"] == 3
    page = await client.get("/api/expenses?limit=2&offset=0", headers=grace.headers)
    assert len(page.json()["items"]) == 2
    assert page.json()["pagination"]["has_more"] is True
    assert page.json()["pagination"]["total"] == 3
    last = await client.get("/api/expenses?limit=2&offset=2", headers=grace.headers)
    assert [e["id"] for e in last.json()["items"]] == [ids[0]]
    assert last.json()["pagination"] == {"total": 3, "limit": 2, "offset": 2, "has_more": False}
    beyond = await client.get("/api/expenses?limit=2&offset=10", headers=grace.headers)
    assert beyond.json()["pagination"]["total"] == 3
    assert beyond.json()["items"] == []
    approved = await client.get("/api/expenses?status=approved", headers=grace.headers)
    assert [e["id"] for e in approved.json()["items"]] == [ids[0]]
    assert approved.json()["items"][0]["policy_name"] == "Small Equipment"
    bad = await client.get("/api/expenses?status=lost", headers=grace.headers)
    assert bad.status_code == 422
    assert bad.json()["code"] == "validation_error"
    too_big = await client.get("/api/expenses?limit=500", headers=grace.headers)
    assert too_big.status_code == 422
    others = await client.get(f"/api/expenses?user_id={frank.id}", headers=grace.headers)
    assert others.status_code == 403
    as_admin = await client.get(f"/api/expenses?user_id={grace.id}", headers=admin)
    assert as_admin.json()["pagination"]["total"] == 3
