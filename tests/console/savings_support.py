"""Helpers of the savings pages' tests: the API's view of a customer, and posting the forms."""

from __future__ import annotations

import re
import uuid
from decimal import Decimal
from typing import Any

from tests.conftest import PASSWORD

HOME = "/console/savings/"


async def bearer(client: Any, email: str) -> dict[str, str]:
    """The customer's API token, from the gateway's own login."""
    login = await client.post("/api/v1/savings/login", json={"email": email, "password": PASSWORD})
    assert login.status_code == 200, login.text
    return {"Authorization": f"Bearer {login.json()['data']['access_token']}"}


def hidden(html: str, name: str) -> str:
    """The value of the first hidden field `name` of a page."""
    found = re.search(rf'name="{name}" value="([^"]+)"', html)
    assert found is not None, f"no {name} on the page"
    return found.group(1)


def keys(html: str) -> list[str]:
    """Every idempotency key of a page, in the order of its forms."""
    return re.findall(r'name="idempotency_key" value="([^"]+)"', html)


def money(value: float | str | Decimal) -> str:
    return f"{Decimal(str(value)):,.2f}"


def signed(value: float | str) -> str:
    amount = Decimal(str(value))
    return money(amount) if amount == 0 else f"{amount:+,.2f}"


def balances(html: str) -> dict[str, str]:
    """The balance cards of a page by name."""
    return dict(re.findall(r'data-balance="(\w+)">([^<]*)<', html))


async def post_home_form(http: Any, path: str, data: dict[str, str], form: int) -> Any:
    """Post one of the home's forms with the key the page drew for it (0 credit, 1 withdraw,
    2 transfer)."""
    page = await http.get(HOME)
    key = keys(page.text)[form]
    return await http.form(path, {**data, "idempotency_key": key})


async def credit(http: Any, amount: str) -> None:
    answer = await post_home_form(http, "/console/savings/credits", {"amount": amount}, 0)
    assert answer.status_code == 303, answer.text


async def withdraw(http: Any, amount: str) -> Any:
    return await post_home_form(
        http, "/console/savings/withdrawals", {"withdraw_amount": amount}, 1
    )


async def transfer(http: Any, source: str, amount: str) -> Any:
    return await post_home_form(
        http,
        "/console/savings/transfers",
        {"transfer_from": source, "transfer_amount": amount},
        2,
    )


async def entries(client: Any, token: dict[str, str], **params: str) -> list[dict[str, Any]]:
    """The customer's entries as the API lists them, oldest first."""
    answer = await client.get(
        "/api/v1/savings/transactions", params={"limit": 100, **params}, headers=token
    )
    assert answer.status_code == 200, answer.text
    return list(answer.json()["data"])


async def make_plan(http: Any, kind: str, value: str, **more: str) -> str:
    """A new plan made through the console's form; its name."""
    name = f"{kind} {value} {uuid.uuid4().hex[:6]}"
    answer = await http.form(
        "/console/savings/plans", {"name": name, "kind": kind, "value": value, **more}
    )
    assert answer.status_code == 303, answer.text
    return name
