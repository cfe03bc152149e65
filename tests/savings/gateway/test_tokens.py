"""A customer's token, end to end: it stops working when the password changes or the customer is
deleted, a token living past the maximum is refused, and no service acts on a bare user id."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from fastapi import FastAPI

from backoffice.core.embedded import EmbeddedNats
from backoffice.core.messaging import Bus, RemoteError
from backoffice.savings import subjects
from backoffice.savings.keys import signing_key
from backoffice.savings.tokens import AUDIENCE, ISSUER
from tests import live
from tests.savings.gateway.conftest import Customer, make_plan, sign_up


@pytest.fixture
async def bus(stack: FastAPI, stack_nats: EmbeddedNats) -> AsyncIterator[Bus]:
    """A connection of the test's own to the stack's NATS (as any process reaching it)."""
    connection = await Bus.connect(live.tests_url(stack_nats), name="test-tokens")
    yield connection
    await connection.close()


def _token(customer: Customer) -> str:
    return customer.headers["Authorization"].removeprefix("Bearer ")


async def _uses(api: httpx.AsyncClient, customer: Customer, plan_id: int) -> list[int]:
    """The status of each customer endpoint with this customer's token."""
    key = {"Idempotency-Key": uuid.uuid4().hex}
    return [
        (await api.get("/plans", headers=customer.headers)).status_code,
        (await api.put("/plan", json={"plan_id": plan_id}, headers=customer.headers)).status_code,
        (
            await api.post("/credits", json={"amount": "5"}, headers={**customer.headers, **key})
        ).status_code,
        (await api.get("/balance", headers=customer.headers)).status_code,
        (await api.get("/transactions", headers=customer.headers)).status_code,
    ]


async def _eventually_refused(
    api: httpx.AsyncClient, customer: Customer, plan_id: int
) -> list[int]:
    """Accounting learns of the change from the users service's event: a moment later.

    Waits on a read (a credit in the wait would be booked while the old token still works),
    then tries every use once.
    """
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if (await api.get("/balance", headers=customer.headers)).status_code == 401:
            break
        await asyncio.sleep(0.05)
    return await _uses(api, customer, plan_id)


async def test_a_password_change_ends_the_customers_earlier_tokens(api, bus):
    customer = await sign_up(api)
    plan = await make_plan(api, "percentage", "10")
    assert await _uses(api, customer, plan["id"]) == [200, 200, 201, 200, 200]
    await bus.request(
        subjects.UPDATE_USER,
        {"token": _token(customer), "password": "a-brand-new-secret"},
        timeout=5,
    )
    assert await _eventually_refused(api, customer, plan["id"]) == [401] * 5
    login = await api.post(
        "/login", json={"email": customer.email, "password": "a-brand-new-secret"}
    )
    assert login.status_code == 200
    fresh = Customer(
        customer.user_id,
        customer.email,
        {"Authorization": f"Bearer {login.json()['data']['access_token']}"},
    )
    assert await _uses(api, fresh, plan["id"]) == [200, 200, 201, 200, 200]
    balance = (await api.get("/balance", headers=fresh.headers)).json()["data"]
    assert balance["total"] == 10.0, "the same account: both credits of 5"


async def test_a_deleted_customers_token_stops_working(api, bus):
    customer = await sign_up(api)
    plan = await make_plan(api, "percentage", "10")
    assert (await api.get("/balance", headers=customer.headers)).status_code == 200
    await bus.request(subjects.DELETE_USER, {"token": _token(customer)}, timeout=5)
    assert await _eventually_refused(api, customer, plan["id"]) == [401] * 5


def _signed(stack: FastAPI, **claims: Any) -> str:
    key = serialization.load_pem_private_key(signing_key(stack.state.settings), password=None)
    return jwt.encode(claims, key, algorithm="EdDSA")  # type: ignore[arg-type]


async def test_a_token_living_past_the_maximum_is_refused(api, stack):
    customer = await sign_up(api)
    now = int(time.time())
    claims = {
        "sub": customer.user_id,
        "email": customer.email,
        "ver": 1,
        "iss": ISSUER,
        "aud": AUDIENCE,
        "iat": now,
    }
    ttl = stack.state.settings.savings_token_ttl_seconds
    for lifetime, status in ((ttl, 200), (ttl + 1, 401), (30 * 86_400, 401)):
        token = _signed(stack, **claims, exp=now + lifetime)
        response = await api.get("/balance", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == status, (lifetime, response.text)


async def test_the_services_act_on_a_verified_token_never_on_a_bare_user_id(api, bus, stack):
    """What anyone reaching the bus could send: a customer's id, or a token of their own."""
    victim = await sign_up(api)
    intruder = await sign_up(api)
    credit = {"amount": "1000", "idempotency_key": "k", "request_hash": "h"}
    for subject, payload in (
        (subjects.CREDIT, {"user_id": victim.user_id, **credit}),
        (subjects.BALANCE, {"user_id": victim.user_id, "at": "2030-01-01T00:00:00+00:00"}),
        (subjects.ASSIGN_PLAN, {"user_id": victim.user_id, "plan_id": 1}),
        (subjects.UPDATE_USER, {"user_id": victim.user_id, "password": "taken-over-now!"}),
        (subjects.DELETE_USER, {"user_id": victim.user_id}),
    ):
        with pytest.raises(RemoteError) as bare:
            await bus.request(subject, payload, timeout=5)
        assert bare.value.status_code == 422, subject
        assert {e["field"] for e in bare.value.errors or []} == {"token"}, subject
    forged = _token(victim)[:-4] + ("AAAA" if not _token(victim).endswith("AAAA") else "BBBB")
    with pytest.raises(RemoteError) as refused:
        await bus.request(subjects.CREDIT, {"token": forged, **credit}, timeout=5)
    assert refused.value.status_code == 401
    # A token speaks for its own customer only: the intruder credits their own account.
    assert (await api.get("/balance", headers=intruder.headers)).status_code == 200  # opened
    done = await bus.request(subjects.CREDIT, {"token": _token(intruder), **credit}, timeout=5)
    assert done["amount"] == "1000.00"
    balance = (await api.get("/balance", headers=victim.headers)).json()["data"]
    assert balance["total"] == 0


async def test_signup_refuses_a_common_password_or_the_email_itself(api):
    for password in ("password123", "ann.lee@example.com"):
        response = await api.post(
            "/signup",
            json={"email": "Ann.Lee@example.com", "password": password, "full_name": "Ann Lee"},
        )
        assert response.status_code == 422, response.text
        assert response.json()["errors"][0] == {
            "field": "password",
            "message": response.json()["message"],
            "code": "weak_password",
        }
