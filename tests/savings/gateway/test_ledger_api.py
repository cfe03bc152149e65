"""The ledger through the gateway: withdrawals, transfers, statements, reversals, accounts.

Issue 20's operations over HTTP and NATS, as a customer and an operator call them.
"""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from pypdf import PdfReader

from backoffice.savings.gateway import service
from tests.savings.gateway.conftest import ADMIN, Customer, sign_up


async def _plan(api: httpx.AsyncClient, **terms: Any) -> dict[str, Any]:
    body = {"name": f"ledger {uuid.uuid4().hex[:8]}", "kind": "percentage", "value": "50", **terms}
    response = await api.post("/plans", json=body, auth=ADMIN)
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


async def _write(
    api: httpx.AsyncClient, customer: Customer, path: str, body: dict[str, Any], key: str = ""
) -> httpx.Response:
    headers = {**customer.headers, "Idempotency-Key": key or uuid.uuid4().hex}
    return await api.post(path, json=body, headers=headers)


async def _customer_with(api: httpx.AsyncClient, amount: str, **terms: Any) -> Customer:
    """A customer on a 50% plan (with `terms`) credited `amount` once."""
    customer = await sign_up(api)
    plan = await _plan(api, **terms)
    chosen = await api.put("/plan", json={"plan_id": plan["id"]}, headers=customer.headers)
    assert chosen.status_code == 200, chosen.text
    credited = await _write(api, customer, "/credits", {"amount": amount})
    assert credited.status_code == 201, credited.text
    return customer


async def _balance(api: httpx.AsyncClient, customer: Customer) -> dict[str, Any]:
    response = await api.get("/balance", headers=customer.headers)
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


async def test_plans_carry_their_lock_in_and_interest_rate_in_percent(api):
    plan = await _plan(api, lock_in_days=30, interest_rate="2.5")
    assert (plan["lock_in_days"], plan["interest_rate"]) == (30, 2.5)
    listed = (await api.get("/plans", auth=ADMIN)).json()["data"]
    assert {"lock_in_days": 30, "interest_rate": 2.5}.items() <= next(
        p for p in listed if p["id"] == plan["id"]
    ).items()
    plain = await _plan(api)
    assert (plain["lock_in_days"], plain["interest_rate"]) == (0, 0)
    for bad in ({"interest_rate": "25.5"}, {"interest_rate": -1}, {"lock_in_days": 3651}):
        body = {"name": f"bad {uuid.uuid4().hex[:6]}", "kind": "percentage", "value": 1, **bad}
        refused = await api.post("/plans", json=body, auth=ADMIN)
        assert refused.status_code == 422, (bad, refused.text)


async def test_a_withdrawal_takes_money_out_of_main_once_per_key(api):
    customer = await _customer_with(api, "100.00")
    made = await _write(api, customer, "/withdrawals", {"amount": "20.25"}, key="w-1")
    assert made.status_code == 201, made.text
    data = made.json()["data"]
    assert {k: data[k] for k in ("kind", "amount", "main", "savings")} == {
        "kind": "withdrawal",
        "amount": 20.25,
        "main": -20.25,
        "savings": 0,
    }
    uuid.UUID(data["entry_id"])
    again = await _write(api, customer, "/withdrawals", {"amount": "20.25"}, key="w-1")
    assert again.status_code == 201 and again.json()["data"] == data
    other = await _write(api, customer, "/withdrawals", {"amount": "1.00"}, key="w-1")
    assert other.status_code == 409
    assert other.json()["errors"][0]["code"] == "idempotency_key_reused"
    assert (await _balance(api, customer))["main"] == 29.75


async def test_more_than_main_holds_is_refused_and_writes_nothing(api):
    customer = await _customer_with(api, "10.00")
    before = await _balance(api, customer)
    refused = await _write(api, customer, "/withdrawals", {"amount": "5.01"})
    assert refused.status_code == 422, refused.text
    assert refused.json()["errors"][0]["code"] == "insufficient_funds"
    after = await _balance(api, customer)
    assert (after["main"], after["savings"]) == (before["main"], before["savings"])
    listed = await api.get("/transactions", headers=customer.headers)
    assert listed.json()["pagination"]["total"] == 1


async def test_transfers_move_money_both_ways(api):
    customer = await _customer_with(api, "100.00")  # main 50, savings 50
    into = await _write(api, customer, "/transfers", {"from": "main", "amount": "10"})
    assert into.status_code == 201, into.text
    assert (into.json()["data"]["main"], into.json()["data"]["savings"]) == (-10, 10)
    out = await _write(api, customer, "/transfers", {"from": "savings", "amount": "60"})
    assert out.status_code == 201, out.text
    assert (out.json()["data"]["main"], out.json()["data"]["savings"]) == (60, -60)
    balance = await _balance(api, customer)
    assert (balance["main"], balance["savings"]) == (100, 0)
    too_much = await _write(api, customer, "/transfers", {"from": "savings", "amount": "0.01"})
    assert too_much.json()["errors"][0]["code"] == "insufficient_funds"
    unknown = await _write(api, customer, "/transfers", {"from": "elsewhere", "amount": "1"})
    assert unknown.status_code == 422


async def test_locked_in_savings_say_when_they_unlock(api):
    customer = await _customer_with(api, "100.00", lock_in_days=30)
    credited = (await api.get("/transactions", headers=customer.headers)).json()["data"][0]
    refused = await _write(api, customer, "/transfers", {"from": "savings", "amount": "1"})
    assert refused.status_code == 422, refused.text
    error = refused.json()["errors"][0]
    assert error["code"] == "savings_locked"
    unlocks = datetime.fromisoformat(error["unlocks_at"])
    assert unlocks == datetime.fromisoformat(credited["at"]) + timedelta(days=30)
    assert unlocks.isoformat() in error["message"]
    # Out of main there is no lock-in.
    free = await _write(api, customer, "/transfers", {"from": "main", "amount": "1"})
    assert free.status_code == 201, free.text


async def test_transactions_list_every_kind_and_filter_by_kind(api):
    customer = await _customer_with(api, "100.00")
    await _write(api, customer, "/withdrawals", {"amount": "1"})
    await _write(api, customer, "/transfers", {"from": "main", "amount": "2"})
    listed = await api.get("/transactions", headers=customer.headers)
    items = listed.json()["data"]
    assert [i["kind"] for i in items] == ["credit", "withdrawal", "transfer"]
    assert items[0]["credit_id"] == items[0]["entry_id"]
    assert items[1]["credit_id"] is None
    assert [(i["main_balance"], i["savings_balance"]) for i in items] == [
        (50, 50),
        (49, 50),
        (47, 52),
    ]
    only = await api.get("/transactions", params={"kind": "withdrawal"}, headers=customer.headers)
    assert [i["kind"] for i in only.json()["data"]] == ["withdrawal"]
    assert only.json()["pagination"]["total"] == 1
    bad = await api.get("/transactions", params={"kind": "gift"}, headers=customer.headers)
    assert bad.status_code == 422


async def test_a_statement_in_json_csv_and_pdf(api):
    customer = await _customer_with(api, "100.00")
    await _write(api, customer, "/withdrawals", {"amount": "10"})
    month = datetime.now(UTC).strftime("%Y-%m")
    as_json = await api.get(f"/statements/{month}", headers=customer.headers)
    assert as_json.status_code == 200, as_json.text
    data = as_json.json()["data"]
    assert data["month"] == month and data["total"] == 2
    assert data["opening"] == {"main": 0, "savings": 0, "total": 0}
    assert data["closing"] == {"main": 40, "savings": 50, "total": 90}
    assert [e["kind"] for e in data["entries"]] == ["credit", "withdrawal"]
    paged = await api.get(
        f"/statements/{month}", params={"limit": 1, "offset": 1}, headers=customer.headers
    )
    assert [e["kind"] for e in paged.json()["data"]["entries"]] == ["withdrawal"]

    as_csv = await api.get(
        f"/statements/{month}", headers={**customer.headers, "Accept": "text/csv"}
    )
    assert as_csv.status_code == 200
    assert as_csv.headers["content-type"].startswith("text/csv")
    assert f"statement-{month}.csv" in as_csv.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert [r["kind"] for r in rows] == ["opening", "credit", "withdrawal", "closing"]
    assert rows[-1]["main_balance"] == "40.00"
    assert {r["holder"] for r in rows} == {"Test Customer"}
    # The month is running: its closing row is as of when it was read, not the month's end.
    as_of = datetime.fromisoformat(data["as_of"])
    assert datetime.fromisoformat(data["entries"][-1]["at"]) <= as_of < datetime.now(UTC)
    assert data["holder"] == "Test Customer"
    closed_at = datetime.fromisoformat(rows[-1]["at"].replace("Z", "+00:00"))
    assert as_of <= closed_at < datetime.fromisoformat(data["ends"])

    as_pdf = await api.get(
        f"/statements/{month}", headers={**customer.headers, "Accept": "application/pdf"}
    )
    assert as_pdf.status_code == 200
    assert as_pdf.headers["content-type"] == "application/pdf"
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(as_pdf.content)).pages)
    assert "Savings statement" in text and "40.00" in text

    html = await api.get(
        f"/statements/{month}", headers={**customer.headers, "Accept": "text/html"}
    )
    assert html.status_code == 406
    future = (datetime.now(UTC) + timedelta(days=40)).strftime("%Y-%m")
    assert (await api.get(f"/statements/{future}", headers=customer.headers)).status_code == 422
    for bad in ("2026-13", "2026-1", "202\uff16-01", "x"):
        assert (await api.get(f"/statements/{bad}", headers=customer.headers)).status_code == 422


async def test_an_operator_reverses_an_entry_once(api):
    customer = await _customer_with(api, "100.00")
    withdrawn = await _write(api, customer, "/withdrawals", {"amount": "30"})
    entry = withdrawn.json()["data"]["entry_id"]
    path = f"/entries/{entry}/reversal"
    as_customer = await api.post(
        path, json={"reason": "mine"}, headers={**customer.headers, "Idempotency-Key": "r"}
    )
    assert as_customer.status_code == 403
    reversed_ = await api.post(
        path, json={"reason": "charged twice"}, headers={"Idempotency-Key": "r-1"}, auth=ADMIN
    )
    assert reversed_.status_code == 201, reversed_.text
    data = reversed_.json()["data"]
    assert (data["kind"], data["main"], data["savings"], data["reverses"]) == (
        "reversal",
        30,
        0,
        entry,
    )
    assert (data["reason"], data["by"]) == ("charged twice", "admin")
    replay = await api.post(
        path, json={"reason": "charged twice"}, headers={"Idempotency-Key": "r-1"}, auth=ADMIN
    )
    assert replay.status_code == 201 and replay.json()["data"] == data
    twice = await api.post(
        path, json={"reason": "again"}, headers={"Idempotency-Key": "r-2"}, auth=ADMIN
    )
    assert twice.status_code == 409
    assert twice.json()["errors"][0]["code"] == "entry_not_reversible"
    assert (await _balance(api, customer))["main"] == 50
    # The operator's keys and the customer's never meet: the customer may use "r-1" too.
    mine = await _write(api, customer, "/withdrawals", {"amount": "1"}, key="r-1")
    assert mine.status_code == 201, mine.text
    listed = (await api.get("/transactions", headers=customer.headers)).json()["data"]
    assert "by" not in listed[-2], "who reversed is the operators' to see"
    unknown = await api.post(
        f"/entries/{uuid.uuid4()}/reversal",
        json={"reason": "x"},
        headers={"Idempotency-Key": "r-3"},
        auth=ADMIN,
    )
    assert unknown.status_code == 404


async def test_a_reversal_that_would_leave_a_balance_negative_is_refused(api):
    customer = await _customer_with(api, "100.00")
    listed = await api.get("/transactions", headers=customer.headers)
    credit = listed.json()["data"][0]["entry_id"]
    await _write(api, customer, "/withdrawals", {"amount": "50"})  # main 0
    refused = await api.post(
        f"/entries/{credit}/reversal",
        json={"reason": "bounced"},
        headers={"Idempotency-Key": uuid.uuid4().hex},
        auth=ADMIN,
    )
    assert refused.status_code == 422, refused.text
    assert refused.json()["errors"][0]["code"] == "insufficient_funds"
    assert (await _balance(api, customer))["total"] == 50


async def test_an_operator_sees_an_account(api):
    customer = await _customer_with(api, "100.00")
    found = await api.get(f"/accounts/{customer.user_id}", auth=ADMIN)
    assert found.status_code == 200, found.text
    data = found.json()["data"]
    assert (data["email"], data["status"], data["interest_through"]) == (
        customer.email,
        "open",
        None,
    )
    assert (data["balances"]["main"], data["balances"]["savings"]) == (50, 50)
    assert (await api.get(f"/accounts/{uuid.uuid4()}", auth=ADMIN)).status_code == 404
    mine = await api.get("/transactions", headers=customer.headers)
    theirs = await api.get(f"/accounts/{customer.user_id}/transactions", auth=ADMIN)
    assert theirs.status_code == 200, theirs.text
    assert theirs.json()["data"] == mine.json()["data"]
    assert theirs.json()["pagination"]["total"] == 1
    credits = await api.get(
        f"/accounts/{customer.user_id}/transactions", params={"kind": "credit"}, auth=ADMIN
    )
    assert len(credits.json()["data"]) == 1
    missing = await api.get(f"/accounts/{uuid.uuid4()}/transactions", auth=ADMIN)
    assert missing.status_code == 404
    assert (
        await api.get(f"/accounts/{customer.user_id}/transactions", headers=customer.headers)
    ).status_code == 403
    assert (
        await api.get(f"/accounts/{customer.user_id}", headers=customer.headers)
    ).status_code == 403


async def test_a_statement_document_is_fetched_a_page_at_a_time_and_bounded(api, monkeypatch):
    customer = await _customer_with(api, "100.00")
    for _ in range(2):
        await _write(api, customer, "/withdrawals", {"amount": "1"})
    month = datetime.now(UTC).strftime("%Y-%m")
    as_csv = {**customer.headers, "Accept": "text/csv"}
    monkeypatch.setattr(service, "STATEMENT_PAGE", 2)  # three entries: two pages
    whole = await api.get(f"/statements/{month}", headers=as_csv)
    assert whole.status_code == 200, whole.text
    rows = list(csv.DictReader(io.StringIO(whole.text)))
    assert [r["kind"] for r in rows] == ["opening", "credit", "withdrawal", "withdrawal", "closing"]
    monkeypatch.setattr(service, "STATEMENT_MAX_ENTRIES", 2)
    too_long = await api.get(f"/statements/{month}", headers=as_csv)
    assert too_long.status_code == 422
    assert too_long.json()["errors"][0]["code"] == "statement_too_long"
    still = await api.get(f"/statements/{month}", headers=customer.headers)  # JSON pages
    assert still.status_code == 200 and still.json()["data"]["total"] == 3
