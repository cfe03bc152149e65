"""The savings pages in-process: a customer's own pages and the operators' plans.

The savings services run for real behind the test app (`savings`, tests/console/conftest.py):
the figures each page shows are compared with the gateway API's for the same customer.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from decimal import Decimal
from typing import Any

import pytest

from backoffice.core.auth.roles import Role
from backoffice.core.messaging import Bus
from backoffice.savings import subjects
from tests.conftest import PASSWORD
from tests.console.pages import field_error, form_error, notice, tables

pytestmark = pytest.mark.usefixtures("savings")


async def test_a_customer_signs_up_and_sees_their_empty_savings(console_customer):
    http, email = await console_customer()
    home = await http.get("/console/savings/")
    assert home.status_code == 200
    assert notice(home.text) is None  # the welcome was shown once, on the way in
    assert email in home.text
    assert re.findall(r'data-balance="(\w+)">([^<]*)<', home.text) == [
        ("main", "0.00"),
        ("savings", "0.00"),
        ("total", "0.00"),
    ]
    assert "No entries yet" in home.text
    assert "You have no plan yet" in home.text
    assert 'href="/console/savings/"' in home.text  # My savings, in the navigation
    assert 'href="/console/savings/plans"' not in home.text


async def _bearer(client, email: str) -> dict[str, str]:
    """The customer's API token, from the gateway's own login."""
    login = await client.post("/api/v1/savings/login", json={"email": email, "password": PASSWORD})
    assert login.status_code == 200, login.text
    return {"Authorization": f"Bearer {login.json()['data']['access_token']}"}


async def _credit(http, amount: str, key: str | None = None) -> str:
    """Post the credit form as the page draws it (its own fresh key unless given)."""
    if key is None:
        page = await http.get("/console/savings/")
        key = _hidden(page.text, "idempotency_key")
    answer = await http.form("/console/savings/credits", {"amount": amount, "idempotency_key": key})
    assert answer.status_code == 303, answer.text
    return key


async def _plan_id(client, admin, name_part: str) -> int:
    plans = (await client.get("/api/v1/savings/plans", headers=admin)).json()["data"]
    return int(next(p["id"] for p in plans if name_part in p["name"]))


async def _make_plan(http, kind: str, value: str) -> str:
    name = f"{kind} {value} {uuid.uuid4().hex[:6]}"
    answer = await http.form("/console/savings/plans", {"name": name, "kind": kind, "value": value})
    assert answer.status_code == 303, answer.text
    return name


def _hidden(html: str, name: str) -> str:
    """The value of a page's hidden field `name`."""
    found = re.search(rf'name="{name}" value="([^"]+)"', html)
    assert found is not None, f"no {name} on the page"
    return found.group(1)


def _money(value: float) -> str:
    return f"{Decimal(str(value)):,.2f}"


async def test_the_figures_are_the_apis(console_customer, console_as, client, admin):
    operator = await console_as(Role.ADMIN)
    name = await _make_plan(operator, "percentage", "12.5")
    http, email = await console_customer()
    plan_id = await _plan_id(client, admin, name)
    chosen = await http.form("/console/savings/plan", {"plan_id": str(plan_id)})
    assert chosen.status_code == 303
    home = await http.get("/console/savings/")
    assert notice(home.text) == f"Your plan is now {name}: it applies to your next credits."
    assert f"Your plan: {name} (12.50% of each credit saved)." in home.text
    assert f'<option value="{plan_id}" selected>' in home.text
    for amount in ("100.00", "10.01", "0.05"):
        await _credit(http, amount)
    home = await http.get("/console/savings/")
    bearer = await _bearer(client, email)

    balance = (await client.get("/api/v1/savings/balance", headers=bearer)).json()["data"]
    shown = dict(re.findall(r'data-balance="(\w+)">([^<]*)<', home.text))
    assert shown == {k: _money(balance[k]) for k in ("main", "savings", "total")}
    assert shown == {"main": "96.30", "savings": "13.76", "total": "110.06"}

    listed = (await client.get("/api/v1/savings/transactions", headers=bearer)).json()["data"]
    found = tables(home.text)
    credits = found["Your entries, newest first"]
    assert credits == [
        [
            c["at"][:19].replace("T", " "),
            "Credit",
            _money(c["amount"]),
            "+" + _money(c["main"]),
            "+" + _money(c["savings"]),
            _money(c["main_balance"]),
            _money(c["savings_balance"]),
        ]
        for c in reversed(listed)
    ]
    chart = found["Balances after each of your latest entries"]
    expected = []
    for c in listed:
        at = (
            await client.get("/api/v1/savings/balance", params={"at": c["at"]}, headers=bearer)
        ).json()["data"]
        expected.append(
            [c["at"][:19].replace("T", " "), *(_money(at[k]) for k in ("main", "savings", "total"))]
        )
    assert chart == expected
    assert "<svg" in home.text and "Your total balance after each entry" in home.text


async def test_a_double_submitted_credit_credits_once(console_customer, client):
    http, email = await console_customer()
    key = await _credit(http, "25.00")
    await _credit(http, "25.00", key)  # the same form posted again (a double click, a resend)
    bearer = await _bearer(client, email)
    listed = await client.get("/api/v1/savings/transactions", headers=bearer)
    assert listed.json()["pagination"]["total"] == 1
    home = await http.get("/console/savings/")
    assert notice(home.text) == "Credited 25.00: 25.00 to your main balance, 0.00 to your savings."
    # A fresh key each time the page is drawn: a reload does not reuse the last one.
    keys = set()
    for _ in range(2):
        page = await http.get("/console/savings/")
        keys.add(_hidden(page.text, "idempotency_key"))
    assert len(keys) == 2 and key not in keys


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        ("", "Enter an amount above 0 with at most two decimals, like 25.50."),
        ("abc", "Enter an amount above 0 with at most two decimals, like 25.50."),
        ("0", "Enter an amount above 0 with at most two decimals, like 25.50."),
        ("1.234", "Enter an amount above 0 with at most two decimals, like 25.50."),
        ("1000000000000", "Enter an amount above 0 with at most two decimals, like 25.50."),
    ],
)
async def test_a_bad_amount_is_said_next_to_it_and_credits_nothing(
    console_customer, client, amount, message
):
    http, email = await console_customer()
    key = str(uuid.uuid4())
    answer = await http.form("/console/savings/credits", {"amount": amount, "idempotency_key": key})
    assert answer.status_code == 422
    assert field_error(answer.text, "amount") == message
    assert f'value="{key}"' in answer.text  # the same form, its key kept
    bearer = await _bearer(client, email)
    listed = await client.get("/api/v1/savings/transactions", headers=bearer)
    assert listed.json()["pagination"]["total"] == 0


async def test_a_credit_below_a_flat_plan_and_a_form_without_its_key(
    console_customer, console_as, client, admin
):
    operator = await console_as(Role.ADMIN)
    name = await _make_plan(operator, "flat-amount", "5.00")
    http, email = await console_customer()
    await http.form("/console/savings/plan", {"plan_id": str(await _plan_id(client, admin, name))})
    small = await http.form(
        "/console/savings/credits", {"amount": "5.00", "idempotency_key": str(uuid.uuid4())}
    )
    assert small.status_code == 422
    assert field_error(small.text, "amount")  # the service's own words, next to the amount
    keyless = await http.form("/console/savings/credits", {"amount": "9.00"})
    assert keyless.status_code == 422
    assert form_error(keyless.text) == "This form has expired: reload the page."
    reused = str(uuid.uuid4())
    await _credit(http, "9.00", reused)
    other = await http.form(
        "/console/savings/credits", {"amount": "10.00", "idempotency_key": reused}
    )
    assert other.status_code == 422
    assert form_error(other.text)
    assert f'value="{reused}"' not in other.text  # a new key for the next try
    bearer = await _bearer(client, email)
    listed = (await client.get("/api/v1/savings/transactions", headers=bearer)).json()
    assert [c["amount"] for c in listed["data"]] == [9.0]


async def test_choosing_a_plan_that_does_not_exist(console_customer):
    http, _ = await console_customer()
    for value, status in (("999999", 422), ("nope", 422), ("", 422), ("\N{SUPERSCRIPT TWO}", 422)):
        answer = await http.form("/console/savings/plan", {"plan_id": value})
        assert answer.status_code == status
        assert field_error(answer.text, "plan_id")


async def test_forms_without_the_csrf_token_are_refused(
    console_customer, console_as, client, admin
):
    http, email = await console_customer()
    key = str(uuid.uuid4())
    for path, data in (
        ("/console/savings/credits", {"amount": "5.00", "idempotency_key": key}),
        ("/console/savings/plan", {"plan_id": "1"}),
    ):
        answer = await http.post(path, data=data)
        assert answer.status_code == 403
        assert "came from another site" in answer.text
        forged = await http.post(path, data={**data, "csrf_token": "forged"})
        assert forged.status_code == 403
    bearer = await _bearer(client, email)
    listed = await client.get("/api/v1/savings/transactions", headers=bearer)
    assert listed.json()["pagination"]["total"] == 0
    operator = await console_as(Role.ADMIN)
    name = f"forged {uuid.uuid4().hex[:6]}"
    refused = await operator.post(
        "/console/savings/plans", data={"name": name, "kind": "percentage", "value": "5"}
    )
    assert refused.status_code == 403
    plans = (await client.get("/api/v1/savings/plans", headers=admin)).json()["data"]
    assert name not in {p["name"] for p in plans}


async def test_credits_page_newest_first_and_the_chart_keeps_the_latest(
    console_customer, client, monkeypatch
):
    from backoffice.console import savings_account

    monkeypatch.setattr(savings_account, "PAGE_SIZE", 2)
    monkeypatch.setattr(savings_account, "CHART_POINTS", 2)
    http, email = await console_customer()
    for amount in ("1.00", "2.00", "4.00"):
        await _credit(http, amount)
    first = await http.get("/console/savings/")
    second = await http.get("/console/savings/?offset=2")
    beyond = await http.get("/console/savings/?offset=99")
    amounts = [
        [row[2] for row in tables(page.text)["Your entries, newest first"]]
        for page in (first, second, beyond)
    ]
    assert amounts == [["4.00", "2.00"], ["1.00"], ["1.00"]]
    assert 'href="/console/savings/?offset=2" rel="next"' in first.text
    assert 'href="/console/savings/" rel="prev"' in second.text
    chart = tables(first.text)["Balances after each of your latest entries"]
    assert [row[1:] for row in chart] == [
        ["3.00", "0.00", "3.00"],
        ["7.00", "0.00", "7.00"],
    ]
    bearer = await _bearer(client, email)
    listed = (await client.get("/api/v1/savings/transactions", headers=bearer)).json()["data"]
    assert [row[0] for row in chart] == [c["at"][:19].replace("T", " ") for c in listed[1:]]
    bad = await http.get("/console/savings/?offset=-1")
    assert bad.status_code == 422


async def test_sign_up_errors_are_next_to_their_fields_and_make_nobody(
    console_clients, console_customer, client
):
    http = console_clients()
    page = await http.get("/console/savings/sign-up")
    token = _hidden(page.text, "csrf_token")
    email = f"weak-{uuid.uuid4().hex[:8]}@example.com"
    cases = [
        ({"email": "not an email", "full_name": "A", "password": PASSWORD}, "email"),
        ({"email": email, "full_name": "A", "password": "short"}, "password"),
        ({"email": email, "full_name": "A", "password": "password123"}, "password"),
        ({"email": email, "full_name": "", "password": PASSWORD}, "full_name"),
    ]
    for data, name in cases:
        answer = await http.post(
            "/console/savings/sign-up",
            data={"csrf_token": token, "idempotency_key": str(uuid.uuid4()), **data},
        )
        assert answer.status_code == 422, (data, answer.text)
        assert field_error(answer.text, name), (data, name)
        assert PASSWORD not in answer.text  # a password is never drawn back
    login = await client.post("/api/v1/savings/login", json={"email": email, "password": PASSWORD})
    assert login.status_code == 401  # nobody was made
    _, taken = await console_customer()
    again = await http.post(
        "/console/savings/sign-up",
        data={"csrf_token": token, "email": taken.upper(), "full_name": "B", "password": PASSWORD},
    )
    assert again.status_code == 422
    assert field_error(again.text, "email") == (
        "A customer with this email already exists: sign in instead."
    )
    no_token = await console_clients().post(
        "/console/savings/sign-up",
        data={"email": email, "full_name": "A", "password": PASSWORD},
    )
    assert no_token.status_code == 403


async def test_a_customer_signs_out_and_in_again(console_customer, console_clients):
    http, email = await console_customer()
    out = await http.form("/console/sign-out")
    assert out.headers["location"] == "/console/savings/sign-in"
    gone = await http.get("/console/savings/")
    assert gone.status_code == 303
    assert gone.headers["location"] == "/console/savings/sign-in?next=%2Fconsole%2Fsavings%2F"

    browser = console_clients()
    form = await browser.get("/console/savings/sign-in?next=/console/savings/%3Foffset%3D0")
    assert form.status_code == 200
    token = _hidden(form.text, "csrf_token")

    async def sign_in(**data: str) -> Any:
        return await browser.post("/console/savings/sign-in", data={"csrf_token": token, **data})

    empty = await sign_in(email="", password="")
    assert empty.status_code == 422
    assert field_error(empty.text, "email") == "Enter your email."
    assert field_error(empty.text, "password") == "Enter your password."
    malformed = await sign_in(email="nobody", password="x")
    assert malformed.status_code == 422
    assert field_error(malformed.text, "email")
    wrong = await sign_in(email=email, password="not-the-password")
    assert wrong.status_code == 401
    assert form_error(wrong.text) == "Wrong email or password."
    right = await sign_in(email=email, password=PASSWORD, next="/console/savings/?offset=0")
    assert right.status_code == 303
    assert right.headers["location"] == "/console/savings/?offset=0"
    home = await browser.get("/console/savings/")
    assert home.status_code == 200 and email in home.text
    # Signed in already: the sign-in and sign-up pages lead to the customer's savings.
    for path in ("/console/savings/sign-in", "/console/savings/sign-up"):
        again = await browser.get(path)
        assert again.status_code == 303 and again.headers["location"] == "/console/savings/"


async def test_the_customer_sign_in_is_throttled_like_the_apis(
    app, console_customer, console_clients
):
    from backoffice.core.auth.throttle import LoginThrottle, MemoryStore, Policy

    _, email = await console_customer()
    limits = {"first_lock": 60.0, "max_lock": 600.0, "memory": 3600.0}
    throttle = LoginThrottle(
        MemoryStore(), account=Policy(3, **limits), address=Policy(50, **limits)
    )
    saved, app.state.login_throttle = app.state.login_throttle, throttle
    try:
        browser = console_clients()
        form = await browser.get("/console/savings/sign-in")
        token = _hidden(form.text, "csrf_token")
        codes = []
        for password in ("wrong-one-1", "wrong-one-2", "wrong-one-3", PASSWORD):
            answer = await browser.post(
                "/console/savings/sign-in",
                data={"csrf_token": token, "email": email, "password": password},
            )
            codes.append(answer.status_code)
        assert codes == [401, 401, 401, 429]
        assert answer.headers["retry-after"] == "60"
        assert form_error(answer.text) == "Too many failed sign-ins. Try again in 60 seconds."
        # The API's login shares the lock: the same email is refused there too.
        api = await browser.post(
            "/api/v1/savings/login", json={"email": email, "password": PASSWORD}
        )
        assert api.status_code == 429
    finally:
        app.state.login_throttle = saved


async def test_the_session_ends_when_the_services_refuse_the_customer(
    app, client, console_customer, savings_services
):
    http, email = await console_customer()
    bearer = await _bearer(client, email)
    user_id = app.state.savings_tokens.verify(bearer["Authorization"][7:]).user_id
    nats = savings_services.state.test_nats
    bus = await Bus.connect(nats.url, name="test-users", login=nats.login("savings-users"))
    try:  # the users service's word that the customer was deleted
        await bus.publish(
            subjects.USER_DELETED, {"user_id": str(user_id)}, msg_id=str(uuid.uuid4())
        )
    finally:
        await bus.close()

    for _ in range(100):  # accounting closes the account when the event arrives
        answer = await http.get("/console/savings/")
        if answer.status_code != 200:
            break
        await asyncio.sleep(0.05)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/console/savings/sign-in"
    after = await http.get("/console/savings/")  # the session is gone, not just refused once
    assert after.headers["location"].startswith("/console/savings/sign-in?next=")


async def test_the_plans_page_lists_the_apis_plans_and_creates_one(console_as, client, admin):
    operator = await console_as(Role.ADMIN)
    name = await _make_plan(operator, "percentage", "7.25")
    page = await operator.get("/console/savings/plans")
    assert page.status_code == 200
    assert notice(page.text) == f"Plan {name} created."
    plans = (await client.get("/api/v1/savings/plans", headers=admin)).json()["data"]
    rows = tables(page.text)["Plans, oldest first"]
    assert [row[0] for row in rows] == [p["name"] for p in plans]
    made = next(p for p in plans if p["name"] == name)
    assert made["kind"] == "percentage" and made["value"] == 7.25
    assert [name, "Percentage", "7.25%", "None", "None", f"Who is on {name}"] in rows
    assert f'href="/console/savings/plans/{made["id"]}"' in page.text


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"name": "", "kind": "percentage", "value": "5"}, "name"),
        ({"name": "x" * 101, "kind": "percentage", "value": "5"}, "name"),
        ({"name": "N", "kind": "bonus", "value": "5"}, "kind"),
        ({"name": "N", "kind": "percentage", "value": "100.01"}, "value"),
        ({"name": "N", "kind": "percentage", "value": "ten"}, "value"),
        ({"name": "N", "kind": "flat-amount", "value": "0"}, "value"),
        ({"name": "N", "kind": "flat-amount", "value": "1.001"}, "value"),
    ],
)
async def test_a_bad_plan_is_said_next_to_the_field_and_makes_nothing(
    console_as, client, admin, data, field
):
    operator = await console_as(Role.ADMIN)
    before = (await client.get("/api/v1/savings/plans", headers=admin)).json()["data"]
    suffix = uuid.uuid4().hex[:6]
    data = {**data, "name": data["name"] + suffix if data["name"] else ""}
    answer = await operator.form("/console/savings/plans", data)
    assert answer.status_code == 422
    assert field_error(answer.text, field), answer.text
    if field == "value":
        assert field_error(answer.text, "value") == (
            "Enter a percentage from 0 to 100 with at most two decimals, like 12.5."
            if data["kind"] == "percentage"
            else "Enter an amount above 0 with at most two decimals, like 5.00."
        )
    assert f'value="{data["value"]}"' in answer.text  # what was typed is kept
    after = (await client.get("/api/v1/savings/plans", headers=admin)).json()["data"]
    assert after == before


async def test_a_taken_plan_name_is_said_next_to_the_name(console_as, client, admin):
    operator = await console_as(Role.ADMIN)
    name = await _make_plan(operator, "flat-amount", "2.00")
    again = await operator.form(
        "/console/savings/plans", {"name": name, "kind": "percentage", "value": "3"}
    )
    assert again.status_code == 422
    assert field_error(again.text, "name") == "Another plan already has this name."
    plans = (await client.get("/api/v1/savings/plans", headers=admin)).json()["data"]
    assert [p["kind"] for p in plans if p["name"] == name] == ["flat-amount"]


async def test_who_is_on_a_plan(console_as, console_customer, client, admin, monkeypatch):
    from backoffice.console import savings_plans

    operator = await console_as(Role.ADMIN)
    name = await _make_plan(operator, "percentage", "1")
    plan_id = await _plan_id(client, admin, name)
    emails = []
    for _ in range(3):
        http, email = await console_customer()
        await http.form("/console/savings/plan", {"plan_id": str(plan_id)})
        emails.append(email)
    page = await operator.get(f"/console/savings/plans/{plan_id}")
    assert page.status_code == 200
    assert "3 customers on it." in page.text
    rows = tables(page.text)[f"Customers on {name}, by email"]
    assert rows == [[email, "Sam Saver"] for email in sorted(emails)]
    csv = await operator.get(f"/console/savings/plans/{plan_id}/customers.csv")
    assert csv.headers["content-type"].startswith("text/csv")
    lines = csv.text.strip().splitlines()
    assert lines[0] == "user_id,email,full_name"
    assert [line.split(",")[1] for line in lines[1:]] == sorted(emails)
    monkeypatch.setattr(savings_plans, "PAGE_SIZE", 2)
    monkeypatch.setattr(savings_plans, "EXPORT_PAGE", 2)
    first = await operator.get(f"/console/savings/plans/{plan_id}")
    second = await operator.get(f"/console/savings/plans/{plan_id}?offset=2")
    assert [r[0] for r in tables(first.text)[f"Customers on {name}, by email"]] == sorted(emails)[
        :2
    ]
    assert [r[0] for r in tables(second.text)[f"Customers on {name}, by email"]] == [
        sorted(emails)[2]
    ]
    assert f'href="/console/savings/plans/{plan_id}?offset=2" rel="next"' in first.text
    paged = await operator.get(f"/console/savings/plans/{plan_id}/customers.csv")
    assert paged.text == csv.text
    empty_name = await _make_plan(operator, "percentage", "2")
    empty = await operator.get(
        f"/console/savings/plans/{await _plan_id(client, admin, empty_name)}"
    )
    assert "No customer is on this plan." in empty.text
    missing = await operator.get("/console/savings/plans/2147483647")
    assert missing.status_code == 404
    assert (await operator.get("/console/savings/plans/0")).status_code == 422


async def test_each_side_is_refused_the_others_pages(console_as, console_customer):
    customer, _ = await console_customer()
    for path in ("/console/savings/plans", "/console/savings/plans/1"):
        answer = await customer.get(path)
        assert answer.status_code == 403
    refused = await customer.form(
        "/console/savings/plans", {"name": "x", "kind": "percentage", "value": "1"}
    )
    assert refused.status_code == 403
    for role in (Role.STAFF, Role.MANAGER):
        staff = await console_as(role)
        for path in ("/console/savings/", "/console/savings/plans"):
            answer = await staff.get(path)
            assert answer.status_code == 403, (role, path)
        home = await staff.get("/console/")
        assert 'href="/console/savings/plans"' not in home.text  # not shown either
        assert 'href="/console/savings/"' not in home.text
        credit = await staff.form(
            "/console/savings/credits", {"amount": "1.00", "idempotency_key": "k"}
        )
        assert credit.status_code == 403
    admin = await console_as(Role.ADMIN)
    assert (await admin.get("/console/savings/")).status_code == 403
    home = await admin.get("/console/")
    assert 'href="/console/savings/plans"' in home.text
