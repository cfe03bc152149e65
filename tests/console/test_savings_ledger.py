"""A customer's withdrawals and transfers on the console, and the entries list of every kind.

The savings services run for real behind the test app (`savings`): the page's figures are
compared with the gateway API's for the same customer.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import pytest

from backoffice.console.savings_forms import readable_instant
from tests.console.pages import field_error, form_error, notice, tables
from tests.console.savings_support import (
    HOME,
    balances,
    bearer,
    credit,
    entries,
    hidden,
    keys,
    money,
    signed,
    transfer,
    withdraw,
)

pytestmark = pytest.mark.usefixtures("savings")
KIND = {"credit": "Credit", "withdrawal": "Withdrawal", "transfer": "Transfer"}


def _row(entry: dict[str, Any]) -> list[str]:
    return [
        entry["at"][:19].replace("T", " "),
        KIND[entry["kind"]],
        money(entry["amount"]),
        signed(entry["main"]),
        signed(entry["savings"]),
        money(entry["main_balance"]),
        money(entry["savings_balance"]),
    ]


async def test_withdrawals_and_transfers_show_the_apis_figures(console_customer, client):
    http, email = await console_customer()
    await credit(http, "100.00")
    answers = [
        await withdraw(http, "30.00"),
        await transfer(http, "main", "20.00"),
        await transfer(http, "savings", "5.50"),
    ]
    assert [a.status_code for a in answers] == [303, 303, 303]
    home = await http.get(HOME)
    assert notice(home.text) == "Moved 5.50 from your savings to your main balance."
    token = await bearer(client, email)
    balance = (await client.get("/api/v1/savings/balance", headers=token)).json()["data"]
    assert balances(home.text) == {k: money(balance[k]) for k in ("main", "savings", "total")}
    assert balances(home.text) == {"main": "55.50", "savings": "14.50", "total": "70.00"}
    listed = await entries(client, token)
    assert [e["kind"] for e in listed] == ["credit", "withdrawal", "transfer", "transfer"]
    shown = tables(home.text)["Your entries, newest first"]
    assert shown == [_row(e) for e in reversed(listed)]
    assert [row[3:5] for row in shown] == [
        ["+5.50", "-5.50"],
        ["-20.00", "+20.00"],
        ["-30.00", "0.00"],
        ["+100.00", "0.00"],
    ]
    chart = tables(home.text)["Balances after each of your latest entries"]
    assert [row[1:] for row in chart] == [
        [
            money(e["main_balance"]),
            money(e["savings_balance"]),
            money(float(e["main_balance"]) + float(e["savings_balance"])),
        ]
        for e in listed
    ]

    only = await http.get(HOME, params={"kind": "transfer"})
    api = await entries(client, token, kind="transfer")
    assert tables(only.text)["Your entries, newest first"] == [_row(e) for e in reversed(api)]
    assert '<option value="transfer" selected>' in only.text
    every = await http.get(HOME, params={"kind": ""})
    assert len(tables(every.text)["Your entries, newest first"]) == 4
    none = await http.get(HOME, params={"kind": "interest"})
    assert "No interest entries yet." in none.text
    for bad in ("bogus", "\N{SUPERSCRIPT TWO}", "<b>"):
        refused = await http.get(HOME, params={"kind": bad})
        assert refused.status_code == 422, bad
        assert "<b>" not in refused.text  # said as text, if at all


async def test_the_kind_filter_pages_newest_first(console_customer, monkeypatch):
    from backoffice.console import savings_account

    monkeypatch.setattr(savings_account, "PAGE_SIZE", 2)
    http, _ = await console_customer()
    await credit(http, "50.00")
    for amount in ("1.00", "2.00", "3.00"):
        assert (await withdraw(http, amount)).status_code == 303
    first = await http.get(HOME, params={"kind": "withdrawal"})
    second = await http.get(HOME, params={"kind": "withdrawal", "offset": "2"})
    amounts = [
        [row[2] for row in tables(page.text)["Your entries, newest first"]]
        for page in (first, second)
    ]
    assert amounts == [["3.00", "2.00"], ["1.00"]]
    assert 'href="/console/savings/?kind=withdrawal&amp;offset=2" rel="next"' in first.text


async def test_a_double_submitted_withdrawal_withdraws_once(console_customer, client):
    http, email = await console_customer()
    await credit(http, "40.00")
    page = await http.get(HOME)
    key = keys(page.text)[1]
    for _ in range(2):
        answer = await http.form(
            "/console/savings/withdrawals", {"withdraw_amount": "15.00", "idempotency_key": key}
        )
        assert answer.status_code == 303
    token = await bearer(client, email)
    assert [e["kind"] for e in await entries(client, token)] == ["credit", "withdrawal"]
    home = await http.get(HOME)
    assert balances(home.text)["main"] == "25.00"
    assert len(set(keys(home.text))) == 3  # one fresh key per form


async def test_a_withdrawal_over_main_is_refused_next_to_the_amount(console_customer, client):
    http, email = await console_customer()
    await credit(http, "10.00")
    key = str(uuid.uuid4())
    refused = await http.form(
        "/console/savings/withdrawals", {"withdraw_amount": "10.01", "idempotency_key": key}
    )
    assert refused.status_code == 422
    assert field_error(refused.text, "withdraw_amount") == (
        "Your main balance holds less than this amount."
    )
    assert field_error(refused.text, "amount") is None  # the credit form's field is untouched
    assert 'value="10.01"' in refused.text and f'value="{key}"' in refused.text
    over = await http.form(
        "/console/savings/transfers",
        {"transfer_from": "savings", "transfer_amount": "1.00", "idempotency_key": key + "t"},
    )
    assert over.status_code == 422
    assert field_error(over.text, "transfer_amount") == "Your savings hold less than this amount."
    token = await bearer(client, email)
    assert [e["kind"] for e in await entries(client, token)] == ["credit"]


@pytest.mark.parametrize(
    ("path", "data", "field"),
    [
        ("/console/savings/withdrawals", {"withdraw_amount": ""}, "withdraw_amount"),
        ("/console/savings/withdrawals", {"withdraw_amount": "1.001"}, "withdraw_amount"),
        (
            "/console/savings/withdrawals",
            {"withdraw_amount": "\N{SUPERSCRIPT TWO}"},
            "withdraw_amount",
        ),
        (
            "/console/savings/transfers",
            {"transfer_from": "sideways", "transfer_amount": "1"},
            "transfer_from",
        ),
        (
            "/console/savings/transfers",
            {"transfer_from": "main", "transfer_amount": "0"},
            "transfer_amount",
        ),
    ],
)
async def test_bad_movement_forms_are_said_next_to_the_field(console_customer, path, data, field):
    http, _ = await console_customer()
    answer = await http.form(path, {**data, "idempotency_key": str(uuid.uuid4())})
    assert answer.status_code == 422
    assert field_error(answer.text, field), answer.text[-2000:]
    keyless = await http.form(path, data)
    assert keyless.status_code == 422
    assert form_error(keyless.text) == "This form has expired: reload the page."


async def test_locked_savings_say_when_they_unlock(console_customer, client):
    http, email = await console_customer()
    plans = (await client.get("/api/v1/savings/plans", headers=await bearer(client, email))).json()
    locked = next(p for p in plans["data"] if p["lock_in_days"] == 30)
    await http.form("/console/savings/plan", {"plan_id": str(locked["id"])})
    await credit(http, "100.00")
    refused = await transfer(http, "savings", "10.00")
    assert refused.status_code == 422
    token = await bearer(client, email)
    (made,) = await entries(client, token)
    unlocks = datetime.fromisoformat(made["at"]) + timedelta(days=30)
    assert field_error(refused.text, "transfer_amount") == (
        "Your plan still locks in these savings: this amount can leave your savings from"
        f" {readable_instant(unlocks)}."
    )
    assert 'value="savings" selected' in refused.text  # the direction chosen is kept
    assert [e["kind"] for e in await entries(client, token)] == ["credit"]


async def test_movement_forms_without_the_csrf_token_are_refused(console_customer, client):
    http, email = await console_customer()
    await credit(http, "10.00")
    for path, data in (
        ("/console/savings/withdrawals", {"withdraw_amount": "1.00"}),
        ("/console/savings/transfers", {"transfer_from": "main", "transfer_amount": "1.00"}),
    ):
        data = {**data, "idempotency_key": str(uuid.uuid4())}
        assert (await http.post(path, data=data)).status_code == 403
        assert (await http.post(path, data={**data, "csrf_token": "x"})).status_code == 403
    token = await bearer(client, email)
    assert [e["kind"] for e in await entries(client, token)] == ["credit"]
    assert hidden((await http.get(HOME)).text, "csrf_token") == http.csrf
