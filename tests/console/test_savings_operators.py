"""The operators' savings pages: plans with lock-in and interest, an account, a reversal.

The savings services run for real behind the test app (`savings`): what the pages show and do
is checked against the gateway API.
"""

from __future__ import annotations

import re
import uuid

import pytest

from backoffice.core.auth.roles import Role
from tests.console.pages import field_error, form_error, notice, tables
from tests.console.savings_support import bearer, credit, entries, hidden, make_plan, withdraw

pytestmark = pytest.mark.usefixtures("savings")
ACCOUNTS = "/console/savings/accounts"
REVERSALS = "/console/savings/reversals"


async def _user_id(app, client, email: str) -> str:
    token = await bearer(client, email)
    return str(app.state.savings_tokens.verify(token["Authorization"][7:]).user_id)


async def test_a_plan_with_a_lock_in_and_interest(console_as, console_customer, client, admin):
    operator = await console_as(Role.ADMIN)
    name = await make_plan(operator, "percentage", "10", lock_in_days="30", interest_rate="2.5")
    plans = (await client.get("/api/v1/savings/plans", headers=admin)).json()["data"]
    made = next(p for p in plans if p["name"] == name)
    assert (made["lock_in_days"], made["interest_rate"]) == (30, 2.5)
    page = await operator.get("/console/savings/plans")
    row = next(r for r in tables(page.text)["Plans, oldest first"] if r[0] == name)
    assert row[3:5] == ["30 days", "2.5% a year"]
    plain = await make_plan(operator, "flat-amount", "1.00", lock_in_days="", interest_rate="")
    plans = (await client.get("/api/v1/savings/plans", headers=admin)).json()["data"]
    assert [(p["lock_in_days"], p["interest_rate"]) for p in plans if p["name"] == plain] == [
        (0, 0.0)
    ]
    customer, email = await console_customer()
    await customer.form("/console/savings/plan", {"plan_id": str(made["id"])})
    members = await operator.get(f"/console/savings/plans/{made['id']}")
    assert "Lock-in: 30 days. Interest: 2.5% a year." in members.text
    assert re.search(rf'<a href="{ACCOUNTS}/[0-9a-f-]{{36}}">{re.escape(email)}</a>', members.text)


@pytest.mark.parametrize(
    ("lock_in_days", "interest_rate", "field"),
    [
        ("3651", "0", "lock_in_days"),
        ("-1", "0", "lock_in_days"),
        ("\N{SUPERSCRIPT TWO}", "0", "lock_in_days"),
        ("1.5", "0", "lock_in_days"),
        ("0", "25.0001", "interest_rate"),
        ("0", "2.00001", "interest_rate"),
        ("0", "ten", "interest_rate"),
        ("0", "-1", "interest_rate"),
    ],
)
async def test_a_bad_lock_in_or_rate_is_said_next_to_it(
    console_as, client, admin, lock_in_days, interest_rate, field
):
    operator = await console_as(Role.ADMIN)
    before = (await client.get("/api/v1/savings/plans", headers=admin)).json()["data"]
    answer = await operator.form(
        "/console/savings/plans",
        {
            "name": f"bad {uuid.uuid4().hex[:6]}",
            "kind": "percentage",
            "value": "5",
            "lock_in_days": lock_in_days,
            "interest_rate": interest_rate,
        },
    )
    assert answer.status_code == 422
    assert field_error(answer.text, field), answer.text[-1500:]
    after = (await client.get("/api/v1/savings/plans", headers=admin)).json()["data"]
    assert after == before


async def test_an_account_is_the_apis(app, console_as, console_customer, client, admin):
    http, email = await console_customer()
    await credit(http, "80.00")
    assert (await withdraw(http, "5.00")).status_code == 303
    user_id = await _user_id(app, client, email)
    operator = await console_as(Role.ADMIN)
    lookup = await operator.get(ACCOUNTS, params={"user_id": f"  {user_id.upper()} "})
    assert lookup.status_code == 303 and lookup.headers["location"] == f"{ACCOUNTS}/{user_id}"
    page = await operator.get(f"{ACCOUNTS}/{user_id}")
    assert page.status_code == 200
    api = (await client.get(f"/api/v1/savings/accounts/{user_id}", headers=admin)).json()["data"]
    shown = dict(re.findall(r'data-balance="(\w+)">([^<]*)<', page.text))
    assert shown == {"main": "75.00", "savings": "0.00", "total": "75.00"}
    assert api["balances"]["main"] == 75.0
    rows = {row[0]: row[1] for row in tables(page.text)["The account"]}
    assert rows["Email"] == email and rows["Customer id"] == user_id
    assert rows["Status"] == "Open" and rows["Plan"] == "None chosen"
    assert rows["Interest posted through"] == "No interest posted yet"

    empty = await operator.get(ACCOUNTS)
    assert empty.status_code == 200 and field_error(empty.text, "user_id") is None
    for bad in ("nope", "\N{SUPERSCRIPT TWO}", "<b>" + "1" * 33):
        refused = await operator.get(ACCOUNTS, params={"user_id": bad})
        assert refused.status_code == 422
        message = field_error(refused.text, "user_id") or ""
        assert message.startswith("Enter the id as the API")
        assert "<b>1" not in refused.text
    missing = await operator.get(f"{ACCOUNTS}/{uuid.uuid4()}")
    assert missing.status_code == 404
    assert (await operator.get(f"{ACCOUNTS}/not-an-id")).status_code == 422


async def test_an_account_lists_its_latest_entries_each_with_its_reversal(
    app, console_as, console_customer, client, admin
):
    http, email = await console_customer()
    await credit(http, "100.00")
    assert (await withdraw(http, "30.00")).status_code == 303
    user_id = await _user_id(app, client, email)
    listed = (
        await client.get(f"/api/v1/savings/accounts/{user_id}/transactions", headers=admin)
    ).json()["data"]
    operator = await console_as(Role.ADMIN)
    page = await operator.get(f"{ACCOUNTS}/{user_id}")
    rows = next(rows for caption, rows in tables(page.text).items() if "latest" in caption)
    assert [row[1:5] for row in rows] == [
        ["Withdrawal", "30.00", "-30.00", "0.00"],
        ["Credit", "100.00", "+100.00", "0.00"],
    ]
    links = re.findall(
        rf'href="{REVERSALS}\?entry_id=([0-9a-f-]{{36}})&amp;back=([0-9a-f-]+)"', page.text
    )
    assert links == [(e["entry_id"], user_id) for e in reversed(listed)]
    form = await operator.get(
        REVERSALS, params={"entry_id": listed[1]["entry_id"], "back": user_id}
    )
    assert form.status_code == 200
    assert f'value="{listed[1]["entry_id"]}"' in form.text
    assert hidden(form.text, "back") == user_id
    other = await operator.get(REVERSALS, params={"entry_id": "x", "back": "<b>"})
    assert 'name="back" value=""' in other.text and "<b>" not in other.text


async def test_an_entry_is_reversed_after_a_confirmation(
    app, console_as, console_customer, client, admin
):
    http, email = await console_customer()
    await credit(http, "100.00")
    assert (await withdraw(http, "30.00")).status_code == 303
    token = await bearer(client, email)
    withdrawal = (await entries(client, token))[-1]
    user_id = await _user_id(app, client, email)
    operator = await console_as(Role.ADMIN)
    page = await operator.get(f"{ACCOUNTS}/{user_id}")
    key = hidden(page.text, "idempotency_key")
    reason = '<script>alert("x")</script> charged twice'
    typed = {"entry_id": withdrawal["entry_id"], "reason": reason, "back": user_id}
    confirm = await operator.form(REVERSALS, {**typed, "idempotency_key": key})
    assert confirm.status_code == 200
    assert "<h1>Confirm the reversal</h1>" in confirm.text
    assert "<script>alert" not in confirm.text
    assert "&lt;script&gt;alert(" in confirm.text
    assert hidden(confirm.text, "idempotency_key") == key
    assert len(await entries(client, token)) == 2  # nothing reversed before the confirmation

    sure = {**typed, "idempotency_key": key, "confirmed": "yes"}
    done = await operator.form(REVERSALS, sure)
    assert done.status_code == 303 and done.headers["location"] == f"{ACCOUNTS}/{user_id}"
    again = await operator.form(REVERSALS, sure)  # a double click: the same reversal
    assert again.status_code == 303
    listed = await entries(client, token)
    assert [e["kind"] for e in listed] == ["credit", "withdrawal", "reversal"]
    reversal = listed[-1]
    assert reversal["reverses"] == withdrawal["entry_id"] and reversal["reason"] == reason
    after = await operator.get(f"{ACCOUNTS}/{user_id}")
    assert notice(after.text) == (
        f"Entry {withdrawal['entry_id']} reversed by entry {reversal['entry_id']}:"
        f" main +30.00, savings 0.00. Reason: {reason}"
    )
    assert "<script>alert" not in after.text
    assert 'data-balance="main">100.00<' in after.text

    twice = await operator.form(
        REVERSALS, {**typed, "idempotency_key": str(uuid.uuid4()), "confirmed": "yes"}
    )
    assert twice.status_code == 422
    assert field_error(twice.text, "entry_id") == (
        "This entry cannot be reversed: it is a reversal itself, or was reversed already."
    )
    unknown = await operator.form(
        REVERSALS,
        {"entry_id": str(uuid.uuid4()), "reason": "r", "idempotency_key": "k", "confirmed": "yes"},
    )
    assert unknown.status_code == 422
    assert field_error(unknown.text, "entry_id") == "No entry has this id."
    assert len(await entries(client, token)) == 3


async def test_a_reversal_that_would_overdraw_is_refused(app, console_as, console_customer, client):
    http, email = await console_customer()
    await credit(http, "10.00")
    assert (await withdraw(http, "10.00")).status_code == 303
    token = await bearer(client, email)
    first = (await entries(client, token))[0]
    operator = await console_as(Role.ADMIN)
    refused = await operator.form(
        REVERSALS,
        {
            "entry_id": first["entry_id"],
            "reason": "wrong credit",
            "idempotency_key": str(uuid.uuid4()),
            "confirmed": "yes",
        },
    )
    assert refused.status_code == 422
    assert form_error(refused.text) == (
        "Reversing this entry would take a balance below zero: nothing was changed."
    )
    assert len(await entries(client, token)) == 2


@pytest.mark.parametrize(
    ("data", "fields"),
    [
        ({"entry_id": "", "reason": ""}, {"entry_id", "reason"}),
        ({"entry_id": "nope", "reason": "fine"}, {"entry_id"}),
        ({"entry_id": str(uuid.UUID(int=1)), "reason": "x" * 501}, {"reason"}),
        ({"entry_id": str(uuid.UUID(int=1)), "reason": "a\x00b"}, {"reason"}),
        ({"entry_id": str(uuid.UUID(int=1)), "reason": "   "}, {"reason"}),
    ],
)
async def test_a_bad_reversal_form_is_said_next_to_its_fields(console_as, data, fields):
    operator = await console_as(Role.ADMIN)
    answer = await operator.form(REVERSALS, {**data, "idempotency_key": "k", "confirmed": "yes"})
    assert answer.status_code == 422
    assert {f for f in ("entry_id", "reason") if field_error(answer.text, f)} == fields


async def test_operator_forms_without_the_csrf_token_and_each_side_refused(
    console_as, console_customer, client, admin
):
    operator = await console_as(Role.ADMIN)
    data = {"entry_id": str(uuid.UUID(int=1)), "reason": "r", "confirmed": "yes"}
    assert (await operator.post(REVERSALS, data=data)).status_code == 403
    assert (await operator.post(REVERSALS, data={**data, "csrf_token": "x"})).status_code == 403
    customer, _ = await console_customer()
    for path in (ACCOUNTS, f"{ACCOUNTS}/{uuid.UUID(int=1)}", REVERSALS):
        assert (await customer.get(path)).status_code == 403, path
    assert (await customer.form(REVERSALS, data)).status_code == 403
    for role in (Role.STAFF, Role.MANAGER):
        staff = await console_as(role)
        assert (await staff.get(ACCOUNTS)).status_code == 403
        assert (await staff.form(REVERSALS, data)).status_code == 403
    for path in ("/console/savings/statements", "/console/savings/statements/2025-01.csv"):
        assert (await operator.get(path)).status_code == 403, path
    for path in ("/console/savings/withdrawals", "/console/savings/transfers"):
        assert (await operator.form(path, {"idempotency_key": "k"})).status_code == 403, path
