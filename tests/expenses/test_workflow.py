"""The seed contract and the approval rules, through the HTTP API."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from backoffice.expenses.models import Expense, ExpenseApproval, ExpenseAuditEvent
from tests.conftest import on_both_pools
from tests.expenses.factories import Org

# The submission, decision, status and inbox endpoints run on the statement pool: run these
# tests on the real one too, where each statement commits on its own.
pytestmark = on_both_pools


async def submit(
    client: httpx.AsyncClient,
    who: dict[str, str],
    user_id: int,
    policy_id: int,
    amount: Any,
    description: str = "Things",
) -> httpx.Response:
    return await client.post(
        "/api/expenses",
        json={
            "user_id": user_id,
            "policy_id": policy_id,
            "amount": amount,
            "description": description,
        },
        headers=who,
    )


async def approve(
    client: httpx.AsyncClient,
    who: dict[str, str],
    expense_id: int,
    approver_id: int,
    comments: str | None = "ok",
) -> httpx.Response:
    return await client.post(
        "/api/expenses/approve",
        json={"expense_id": expense_id, "approver_id": approver_id, "comments": comments},
        headers=who,
    )


async def reject(
    client: httpx.AsyncClient,
    who: dict[str, str],
    expense_id: int,
    approver_id: int,
    comments: str | None,
) -> httpx.Response:
    return await client.post(
        "/api/expenses/reject",
        json={"expense_id": expense_id, "approver_id": approver_id, "comments": comments},
        headers=who,
    )


async def status_of(
    client: httpx.AsyncClient, who: dict[str, str], expense_id: int
) -> dict[str, Any]:
    response = await client.get(f"/api/expenses/{expense_id}/status", headers=who)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


async def counts(session: AsyncSession) -> tuple[int, int, int]:
    return (
        await session.scalar(select(func.count()).select_from(Expense)) or 0,
        await session.scalar(select(func.count()).select_from(ExpenseApproval)) or 0,
        await session.scalar(select(func.count()).select_from(ExpenseAuditEvent)) or 0,
    )


async def test_small_equipment_walkthrough(client, acme: Org):
    grace, frank = acme["Grace"], acme["Frank"]
    created = await submit(
        client, grace.headers, grace.id, acme.policies["Small Equipment"], 800.00
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body == {
        "message": "Expense created successfully",
        "expense_id": body["expense_id"],
        "status": "pending",
        "amount": 800.0,
        "approvals_required": [
            {"step": 1, "approver": frank.name, "level": "Manager", "level_number": 6}
        ],
    }
    expense_id = body["expense_id"]

    approved = await approve(client, frank.headers, expense_id, frank.id, "Looks good")
    assert approved.status_code == 200, approved.text
    assert approved.json() == {
        "message": "Approval submitted successfully",
        "expense_id": expense_id,
        "step_approved": 1,
        "expense_status": "approved",
        "pending_approvals": 0,
    }

    status = await status_of(client, grace.headers, expense_id)
    assert set(status) == {
        "id",
        "amount",
        "description",
        "status",
        "submitted_at",
        "completed_at",
        "user_name",
        "policy_name",
        "approvals",
    }
    assert status["status"] == "approved"
    assert status["completed_at"] is not None
    assert status["user_name"] == grace.name
    assert status["policy_name"] == "Small Equipment"
    [step] = status["approvals"]
    assert set(step) == {
        "step_number",
        "approver_name",
        "approver_level",
        "approver_level_number",
        "status",
        "approved_at",
        "comments",
        "required",
    }
    assert step["approver_name"] == frank.name
    assert step["approver_level"] == "Manager"  # the level's name, as the seed shows it
    assert step["approver_level_number"] == 6
    assert step["status"] == "approved"
    assert step["approved_at"] is not None
    assert step["comments"] == "Looks good"
    assert step["required"] is True


async def test_large_equipment_walkthrough_in_order(client, acme: Org):
    grace, frank, eve, david = acme["Grace"], acme["Frank"], acme["Eve"], acme["David"]
    created = await submit(
        client, grace.headers, grace.id, acme.policies["Large Equipment"], "4000.00"
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["approvals_required"] == [
        {"step": 1, "approver": frank.name, "level": "Manager", "level_number": 6},
        {"step": 2, "approver": eve.name, "level": "SEM", "level_number": 5},
        {"step": 3, "approver": david.name, "level": "AD", "level_number": 4},
    ]
    expense_id = body["expense_id"]
    for person, step, left, status in (
        (frank, 1, 2, "pending"),
        (eve, 2, 1, "pending"),
        (david, 3, 0, "approved"),
    ):
        response = await approve(client, person.headers, expense_id, person.id)
        assert response.status_code == 200, response.text
        assert response.json()["step_approved"] == step
        assert response.json()["pending_approvals"] == left
        assert response.json()["expense_status"] == status
        if status == "pending":
            assert (await status_of(client, grace.headers, expense_id))["completed_at"] is None
    final = await status_of(client, grace.headers, expense_id)
    assert final["status"] == "approved"
    assert [a["status"] for a in final["approvals"]] == ["approved"] * 3
    assert [(a["approver_level"], a["approver_level_number"]) for a in final["approvals"]] == [
        ("Manager", 6),
        ("SEM", 5),
        ("AD", 4),
    ]


async def test_out_of_order_is_409_and_stranger_is_403(client, acme: Org):
    grace, david, carol = acme["Grace"], acme["David"], acme["Carol"]
    expense_id = (
        await submit(client, grace.headers, grace.id, acme.policies["Large Equipment"], 2500)
    ).json()["expense_id"]

    early = await approve(client, david.headers, expense_id, david.id)
    assert early.status_code == 409
    assert early.json()["code"] == "step_out_of_order"
    assert set(early.json()) >= {"detail", "code"}

    stranger = await approve(client, carol.headers, expense_id, carol.id)
    assert stranger.status_code == 403
    assert stranger.json()["code"] == "not_designated_approver"
    status = await status_of(client, grace.headers, expense_id)
    assert [a["status"] for a in status["approvals"]] == ["pending"] * 3


async def test_the_same_step_cannot_be_approved_twice(client, acme: Org):
    grace, frank, eve = acme["Grace"], acme["Frank"], acme["Eve"]
    expense_id = (
        await submit(client, grace.headers, grace.id, acme.policies["Business Travel"], 300)
    ).json()["expense_id"]
    assert (await approve(client, frank.headers, expense_id, frank.id)).status_code == 200
    again = await approve(client, frank.headers, expense_id, frank.id)
    assert again.status_code == 409
    assert again.json()["code"] == "step_already_decided"
    assert (await approve(client, eve.headers, expense_id, eve.id)).json()[
        "expense_status"
    ] == "approved"
    done = await approve(client, eve.headers, expense_id, eve.id)
    assert done.status_code == 409
    assert done.json()["code"] == "expense_already_decided"


async def test_reject_cancels_the_rest_and_is_final(client, session, acme: Org):
    grace, frank, eve, david = acme["Grace"], acme["Frank"], acme["Eve"], acme["David"]
    expense_id = (
        await submit(client, grace.headers, grace.id, acme.policies["Large Equipment"], 9000)
    ).json()["expense_id"]
    assert (await approve(client, frank.headers, expense_id, frank.id)).status_code == 200

    no_reason = await reject(client, eve.headers, expense_id, eve.id, "  ")
    assert no_reason.status_code == 422
    missing = await reject(client, eve.headers, expense_id, eve.id, None)
    assert missing.status_code == 422

    rejected = await reject(client, eve.headers, expense_id, eve.id, "Too expensive")
    assert rejected.status_code == 200, rejected.text
    assert rejected.json() == {
        "message": "Expense rejected",
        "expense_id": expense_id,
        "step_rejected": 2,
        "expense_status": "rejected",
        "cancelled_approvals": 1,
    }
    status = await status_of(client, grace.headers, expense_id)
    assert status["status"] == "rejected"
    assert status["completed_at"] is not None
    assert [a["status"] for a in status["approvals"]] == ["approved", "rejected", "cancelled"]
    assert status["approvals"][1]["comments"] == "Too expensive"

    for person in (david, eve, frank):
        late = await approve(client, person.headers, expense_id, person.id)
        assert late.status_code == 409
        assert late.json()["code"] == "expense_already_decided"
    late_reject = await reject(client, david.headers, expense_id, david.id, "no")
    assert late_reject.status_code == 409


async def test_amount_and_policy_rules_write_nothing(
    client, session, acme: Org, globex: Org, admin
):
    grace = acme["Grace"]
    small = acme.policies["Small Equipment"]
    before = await counts(session)
    cases = [
        (0, small, 422),
        (-5, small, 422),
        ("10.005", small, 422),
        ("2000.00", small, 400),  # above the policy's max: a 400, as the original answered
        ("1999.99", acme.policies["Large Equipment"], 400),  # below the policy's min
        (100, globex.policies["Small Equipment"], 404),  # another company's policy
        (100, 999_999, 404),
    ]
    for amount, policy_id, expected in cases:
        response = await submit(client, grace.headers, grace.id, policy_id, amount)
        assert response.status_code == expected, (amount, policy_id, response.text)
        assert set(response.json()) >= {"detail", "code"}
    assert await counts(session) == before

    patched = await client.patch(
        f"/api/v1/expense-policies/{small}", json={"is_active": False}, headers=admin
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["data"]["is_active"] is False
    inactive = await submit(client, grace.headers, grace.id, small, 100)
    assert inactive.status_code == 422
    assert "not active" in inactive.json()["detail"]
    assert await counts(session) == before


async def test_an_amount_outside_the_policy_is_a_400_as_the_original_answered(client, acme: Org):
    grace = acme["Grace"]
    response = await submit(client, grace.headers, grace.id, acme.policies["Small Equipment"], 5000)
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "amount_outside_policy"
    assert "outside the policy's range" in response.json()["detail"]
    assert response.json()["errors"][0]["field"] == "amount"


async def test_an_unknown_approver_is_a_404_as_the_original_answered(client, acme: Org, admin):
    grace, frank = acme["Grace"], acme["Frank"]
    expense_id = (
        await submit(client, grace.headers, grace.id, acme.policies["Small Equipment"], 100)
    ).json()["expense_id"]
    for who in (frank.headers, admin):
        for decide in (approve, reject):
            response = await decide(client, who, expense_id, 999_999, "no one")
            assert response.status_code == 404, (decide.__name__, response.text)
            assert response.json()["code"] == "employee_not_found"
    status = await status_of(client, grace.headers, expense_id)
    assert [a["status"] for a in status["approvals"]] == ["pending"]


async def test_inactive_submitter_is_refused(client, session, auth, acme: Org, admin):
    from tests.expenses.factories import add_person

    ghost = await add_person(session, auth, acme, "Ghost", 7, active=False)
    response = await submit(client, admin, ghost.id, acme.policies["Small Equipment"], 50)
    assert response.status_code == 422
    assert response.json()["code"] == "expense_refused"


async def test_unknown_fields_and_bad_json_are_422_in_seed_shape(client, acme: Org):
    grace = acme["Grace"]
    response = await client.post("/api/expenses", json={"user_id": grace.id}, headers=grace.headers)
    assert response.status_code == 422
    assert response.json()["code"] == "validation_error"
    assert "detail" in response.json()


async def test_every_endpoint_requires_authentication(client, acme: Org):
    for method, path in (
        ("POST", "/api/expenses"),
        ("POST", "/api/expenses/approve"),
        ("POST", "/api/expenses/reject"),
        ("GET", "/api/expenses"),
        ("GET", "/api/expenses/1/status"),
        ("GET", "/api/expenses/1/audit"),
        ("GET", "/api/approvals/pending"),
        ("GET", "/api/v1/expense-policies"),
        ("POST", "/api/v1/expense-policies"),
        ("GET", "/api/v1/expense-policies/1"),
        ("PATCH", "/api/v1/expense-policies/1"),
        ("DELETE", "/api/v1/expense-policies/1"),
        ("GET", "/api/v1/expense-policies/1/steps"),
        ("POST", "/api/v1/expense-policies/1/steps"),
        ("GET", "/api/v1/approval-steps/1"),
        ("PATCH", "/api/v1/approval-steps/1"),
        ("DELETE", "/api/v1/approval-steps/1"),
    ):
        response = await client.request(method, path, json={})
        assert response.status_code == 401, (method, path, response.status_code)
    seed = await client.post("/api/expenses", json={})
    assert seed.json()["code"] == "unauthorized"


async def test_out_of_range_ids_are_422_not_a_database_error(client, acme: Org):
    grace = acme["Grace"]
    huge = 2**40
    created = await submit(client, grace.headers, grace.id, huge, 10)
    assert created.status_code == 422
    decided = await approve(client, grace.headers, huge, grace.id)
    assert decided.status_code == 422
    status = await client.get(f"/api/expenses/{huge}/status", headers=grace.headers)
    assert status.status_code == 422
    assert status.json()["code"] == "validation_error"
    listed = await client.get(f"/api/expenses?user_id={huge}", headers=grace.headers)
    assert listed.status_code == 422


class _RaceAfterRead:
    """`DECISION_INPUT` that lets `interfere` change the expense right after each of the first
    `times` reads: the decision's write then finds the version moved (a lost race)."""

    def __init__(self, real: Any, interfere: Any, times: int = 1) -> None:
        self.real, self.interfere, self.left = real, interfere, times

    async def fetch(self, conn: Any, **params: Any) -> Any:
        rows = await self.real.fetch(conn, **params)
        if self.left > 0:
            self.left -= 1
            await self.interfere(conn, params["expense_id"])
        return rows


async def _bump_version(conn: Any, expense_id: int) -> None:
    await conn.execute("UPDATE expenses SET version = version + 1 WHERE id = $1", expense_id)


async def test_a_decision_that_lost_a_race_is_taken_again_on_the_new_state(
    client, session: AsyncSession, acme: Org, monkeypatch
):
    from backoffice.expenses import statements

    grace, frank = acme["Grace"], acme["Frank"]
    created = await submit(client, grace.headers, grace.id, acme.policies["Business Travel"], 300)
    expense_id = created.json()["expense_id"]
    race = _RaceAfterRead(statements.DECISION_INPUT, _bump_version)
    monkeypatch.setattr(statements, "DECISION_INPUT", race)

    decided = await approve(client, frank.headers, expense_id, frank.id)
    assert decided.status_code == 200, decided.text
    assert decided.json()["step_approved"] == 1
    assert race.left == 0  # the first write found the version moved; the retry applied
    expense = await session.get(Expense, expense_id, populate_existing=True)
    assert expense is not None and expense.version == 2  # the interference, then the decision
    approvals = await session.scalar(
        select(func.count()).where(
            ExpenseAuditEvent.expense_id == expense_id,
            ExpenseAuditEvent.action == "step_approved",
        )
    )
    assert approvals == 1


async def test_a_step_decided_by_the_race_winner_is_a_409_for_the_loser(
    client, session: AsyncSession, acme: Org, monkeypatch
):
    from backoffice.expenses import statements

    grace, frank = acme["Grace"], acme["Frank"]
    created = await submit(client, grace.headers, grace.id, acme.policies["Business Travel"], 300)
    expense_id = created.json()["expense_id"]

    async def frank_approves_first(conn: Any, expense_id: int) -> None:
        monkeypatch.setattr(statements, "DECISION_INPUT", race.real)  # the winner reads normally
        winner = await approve(client, frank.headers, expense_id, frank.id, "first")
        assert winner.status_code == 200, winner.text
        monkeypatch.setattr(statements, "DECISION_INPUT", race)

    race = _RaceAfterRead(statements.DECISION_INPUT, frank_approves_first)
    monkeypatch.setattr(statements, "DECISION_INPUT", race)
    loser = await approve(client, frank.headers, expense_id, frank.id, "second")
    assert loser.status_code == 409, loser.text
    assert loser.json()["code"] == "step_already_decided"
    comments = await session.scalars(
        select(ExpenseApproval.comments).where(ExpenseApproval.expense_id == expense_id)
    )
    assert sorted(c or "" for c in comments) == ["", "first"]  # step 2 untouched


async def test_a_decision_that_keeps_losing_gives_up_with_a_409(client, acme: Org, monkeypatch):
    from backoffice.expenses import statements

    grace, frank = acme["Grace"], acme["Frank"]
    created = await submit(client, grace.headers, grace.id, acme.policies["Business Travel"], 300)
    expense_id = created.json()["expense_id"]
    race = _RaceAfterRead(statements.DECISION_INPUT, _bump_version, times=10)
    monkeypatch.setattr(statements, "DECISION_INPUT", race)

    decided = await approve(client, frank.headers, expense_id, frank.id)
    assert decided.status_code == 409, decided.text
    assert decided.json()["code"] == "concurrent_decision"
    status = await status_of(client, grace.headers, expense_id)
    assert [a["status"] for a in status["approvals"]] == ["pending", "pending"]


async def test_the_openapi_models_give_the_level_name_and_its_number_beside_it(client):
    schemas = (await client.get("/openapi.json")).json()["components"]["schemas"]
    required = schemas["RequiredApproval"]["properties"]
    assert (required["level"]["type"], required["level_number"]["type"]) == ("string", "integer")
    step = schemas["ApprovalStatusRead"]["properties"]
    assert step["approver_level"]["type"] == "string"
    assert step["approver_level_number"]["type"] == "integer"
