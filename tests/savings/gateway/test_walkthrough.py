"""The README's walkthrough and the gateway's rules, through the whole stack over NATS."""

from __future__ import annotations

import asyncio
import uuid
from decimal import Decimal

import httpx

from tests.savings.gateway.conftest import ADMIN, PASSWORD, make_plan, sign_up


async def test_signup_answers_the_customer_and_refuses_a_taken_email_in_any_case(api):
    email = f"Mixed-{uuid.uuid4().hex[:8]}@Example.COM"
    created = await api.post(
        "/signup", json={"email": email, "password": PASSWORD, "full_name": "Ann Lee"}
    )
    assert created.status_code == 201, created.text
    data = created.json()["data"]
    assert data["email"] == email.lower()
    assert data["full_name"] == "Ann Lee"
    uuid.UUID(data["user_id"])
    again = await api.post(
        "/signup", json={"email": email.upper(), "password": PASSWORD, "full_name": "Other"}
    )
    assert again.status_code == 409
    assert again.json()["errors"][0]["code"] == "email_taken"


async def test_login_refuses_a_wrong_password_without_saying_which_part_was_wrong(api):
    customer = await sign_up(api)
    wrong = await api.post("/login", json={"email": customer.email, "password": "not-it-at-all"})
    unknown = await api.post(
        "/login", json={"email": "nobody-" + customer.email, "password": PASSWORD}
    )
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json()["message"] == unknown.json()["message"]


async def test_a_percentage_plan_splits_each_credit_and_balances_follow_in_time(api):
    customer = await sign_up(api)
    plan = await make_plan(api, "percentage", "12.5")
    chosen = await api.put("/plan", json={"plan_id": plan["id"]}, headers=customer.headers)
    assert chosen.status_code == 200, chosen.text
    credits = []
    for number, amount in enumerate(["100.00", "10.01", "0.05"]):
        response = await api.post(
            "/credits",
            json={"amount": amount},
            headers={**customer.headers, "Idempotency-Key": f"walk-{number}"},
        )
        assert response.status_code == 201, response.text
        credits.append(response.json()["data"])
    # 12.5% half-up to the cent: 12.50, 1.25125 -> 1.25, 0.00625 -> 0.01.
    assert [(c["main"], c["savings"]) for c in credits] == [
        (87.5, 12.5),
        (8.76, 1.25),
        (0.04, 0.01),
    ]

    now = await api.get("/balance", headers=customer.headers)
    assert now.status_code == 200
    assert now.json()["data"]["main"] == 96.3
    assert now.json()["data"]["savings"] == 13.76
    assert now.json()["data"]["total"] == 110.06
    # "now" is an instant of the database's clock: asked again with it, the same balance.
    again = await api.get(
        "/balance", params={"at": now.json()["data"]["at"]}, headers=customer.headers
    )
    assert again.json()["data"] == now.json()["data"]

    between = await api.get("/balance", params={"at": credits[0]["at"]}, headers=customer.headers)
    assert between.json()["data"]["total"] == 100.0
    before = await api.get(
        "/balance", params={"at": "2000-01-01T00:00:00Z"}, headers=customer.headers
    )
    assert before.json()["data"]["total"] == 0

    listed = await api.get(
        "/transactions",
        params={"from": credits[1]["at"], "to": credits[2]["at"]},
        headers=customer.headers,
    )
    assert listed.status_code == 200
    assert [item["credit_id"] for item in listed.json()["data"]] == [credits[1]["credit_id"]]
    page = await api.get("/transactions", params={"limit": 2}, headers=customer.headers)
    assert [item["amount"] for item in page.json()["data"]] == [100.0, 10.01]
    assert page.json()["pagination"] == {"total": 3, "limit": 2, "offset": 0, "has_more": True}


async def test_a_credit_right_after_signup_waits_for_the_account(api):
    customer = await sign_up(api)
    response = await api.post(
        "/credits",
        json={"amount": "5"},
        headers={**customer.headers, "Idempotency-Key": "first"},
    )
    assert response.status_code == 201, response.text
    assert response.json()["data"]["main"] == 5


async def test_the_same_idempotency_key_returns_the_first_credit_and_another_body_is_a_409(api):
    customer = await sign_up(api)
    headers = {**customer.headers, "Idempotency-Key": "same"}
    first = await api.post("/credits", json={"amount": "20"}, headers=headers)
    again = await api.post("/credits", json={"amount": "20.00"}, headers=headers)
    other = await api.post("/credits", json={"amount": "21"}, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json()["data"] == first.json()["data"]
    assert other.status_code == 409
    assert other.json()["errors"][0]["code"] == "idempotency_key_reused"
    missing = await api.post("/credits", json={"amount": "20"}, headers=customer.headers)
    assert missing.status_code == 422
    balance = await api.get("/balance", headers=customer.headers)
    assert balance.json()["data"]["total"] == 20


async def test_ten_requests_with_one_key_at_once_make_one_credit(api):
    customer = await sign_up(api)
    headers = {**customer.headers, "Idempotency-Key": "burst"}
    responses = await asyncio.gather(
        *(api.post("/credits", json={"amount": "3.33"}, headers=headers) for _ in range(10))
    )
    assert {r.status_code for r in responses} == {201}
    assert len({r.json()["data"]["credit_id"] for r in responses}) == 1
    balance = await api.get("/balance", headers=customer.headers)
    assert balance.json()["data"]["total"] == 3.33


async def test_32_concurrent_credits_to_one_account_all_land_exactly(api):
    customer = await sign_up(api)
    plan = await make_plan(api, "percentage", "33")
    await api.put("/plan", json={"plan_id": plan["id"]}, headers=customer.headers)
    amounts = [Decimal(n) + Decimal("0.17") for n in range(1, 33)]
    responses = await asyncio.gather(
        *(
            api.post(
                "/credits",
                json={"amount": str(amount)},
                headers={**customer.headers, "Idempotency-Key": f"c{n}"},
            )
            for n, amount in enumerate(amounts)
        )
    )
    assert [r.status_code for r in responses] == [201] * 32, [r.text for r in responses]
    savings = sum(Decimal(str(r.json()["data"]["savings"])) for r in responses)
    balance = (await api.get("/balance", headers=customer.headers)).json()["data"]
    assert Decimal(str(balance["total"])) == sum(amounts)
    assert Decimal(str(balance["savings"])) == savings


async def test_a_flat_plan_refuses_a_credit_not_above_its_amount_and_writes_nothing(api):
    customer = await sign_up(api)
    plan = await make_plan(api, "flat-amount", "10")
    await api.put("/plan", json={"plan_id": plan["id"]}, headers=customer.headers)
    headers = {**customer.headers, "Idempotency-Key": "flat"}
    refused = await api.post("/credits", json={"amount": "10"}, headers=headers)
    assert refused.status_code == 422, refused.text
    accepted = await api.post(
        "/credits", json={"amount": "10.01"}, headers={**headers, "Idempotency-Key": "flat-2"}
    )
    assert accepted.json()["data"]["savings"] == 10
    assert accepted.json()["data"]["main"] == 0.01
    listed = await api.get("/transactions", headers=customer.headers)
    assert len(listed.json()["data"]) == 1


async def test_plans_are_for_admins_to_create_and_for_anyone_signed_in_to_read(api):
    customer = await sign_up(api)
    name = f"p-{uuid.uuid4().hex[:6]}"
    body: dict[str, object] = {"name": name, "kind": "percentage", "value": 5}
    assert (await api.post("/plans", json=body, headers=customer.headers)).status_code == 403
    staff = httpx.BasicAuth("staff", "staffpass")
    assert (await api.post("/plans", json=body, auth=staff)).status_code == 403
    assert (await api.post("/plans", json=body)).status_code == 401
    created = await api.post("/plans", json=body, auth=ADMIN)
    assert created.status_code == 201
    assert (await api.post("/plans", json=body, auth=ADMIN)).status_code == 409
    too_much = {**body, "name": name + "x", "value": 100.01}
    assert (await api.post("/plans", json=too_much, auth=ADMIN)).status_code == 422
    for caller in ({"headers": customer.headers}, {"auth": staff}):
        listed = await api.get("/plans", **caller)
        assert created.json()["data"] in listed.json()["data"]
    unknown = await api.put("/plan", json={"plan_id": 2**31 - 1}, headers=customer.headers)
    assert unknown.status_code == 404


async def test_customer_endpoints_refuse_operators_and_strangers(api):
    operator = await api.get("/balance", auth=ADMIN)
    assert operator.status_code == 403
    assert operator.json()["errors"][0]["code"] == "not_a_customer"
    assert (await api.get("/balance")).status_code == 401
    forged = await api.get("/balance", headers={"Authorization": "Bearer not.a.token"})
    assert forged.status_code == 401


async def test_instants_out_of_range_and_reversed_ranges_are_422s(api):
    customer = await sign_up(api)
    far = await api.get(
        "/balance", params={"at": "0001-01-01T00:00:00+05:00"}, headers=customer.headers
    )
    assert far.status_code == 422
    reversed_range = await api.get(
        "/transactions",
        params={"from": "2030-01-01T00:00:00Z", "to": "2020-01-01T00:00:00Z"},
        headers=customer.headers,
    )
    assert reversed_range.status_code == 422


async def test_ready_reports_every_service(stack):
    transport = httpx.ASGITransport(app=stack)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        response = await http.get("/ready")
    assert response.status_code == 200, response.text
    checks = response.json()["data"]["checks"]
    assert set(checks) == {"database", "savings-users", "savings-accounting", "savings-gateway"}
