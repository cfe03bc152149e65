"""Signup takes an optional `Idempotency-Key`, like credits: a retry returns the first result."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from backoffice.core.errors import ServiceUnavailable
from tests.savings.gateway.conftest import PASSWORD


def _signup(email: str, full_name: str = "Key Holder") -> dict[str, str]:
    return {"email": email, "password": PASSWORD, "full_name": full_name}


async def test_a_signup_answered_503_that_succeeded_returns_its_customer_when_retried(
    api, stack, monkeypatch
):
    client = stack.state.savings_client
    ask = client.ask
    lost = 0

    async def reply_lost(subject: str, payload: Any) -> dict[str, Any]:
        """The users service signs the customer up; its reply never reaches the gateway."""
        nonlocal lost
        await ask(subject, payload)
        lost += 1
        raise ServiceUnavailable("No reply within 5 s")

    email = f"k-{uuid.uuid4().hex[:12]}@example.com"
    headers = {"Idempotency-Key": f"signup-{uuid.uuid4().hex}"}
    monkeypatch.setattr(client, "ask", reply_lost)
    first = await api.post("/signup", json=_signup(email), headers=headers)
    monkeypatch.setattr(client, "ask", ask)
    assert (first.status_code, lost) == (503, 1), first.text

    retried = await api.post("/signup", json=_signup(email), headers=headers)
    assert retried.status_code == 201, retried.text
    assert retried.json()["data"]["email"] == email
    again = await api.post("/signup", json=_signup(email), headers=headers)
    assert again.json()["data"] == retried.json()["data"]
    login = await api.post("/login", json={"email": email, "password": PASSWORD})
    assert login.status_code == 200, login.text


async def test_the_key_with_another_body_is_a_409_and_no_key_works_as_before(api):
    email = f"k-{uuid.uuid4().hex[:12]}@example.com"
    headers = {"Idempotency-Key": f"signup-{uuid.uuid4().hex}"}
    first = await api.post("/signup", json=_signup(email), headers=headers)
    assert first.status_code == 201, first.text
    other = await api.post("/signup", json=_signup(email, "Someone Else"), headers=headers)
    assert other.status_code == 409
    assert other.json()["errors"][0]["code"] == "idempotency_key_reused"
    taken = await api.post("/signup", json=_signup(email))
    assert taken.status_code == 409
    assert taken.json()["errors"][0]["code"] == "email_taken"


async def test_five_signups_with_one_key_at_once_answer_one_customer(api):
    email = f"k-{uuid.uuid4().hex[:12]}@example.com"
    headers = {"Idempotency-Key": f"signup-{uuid.uuid4().hex}"}
    responses = await asyncio.gather(
        *(api.post("/signup", json=_signup(email), headers=headers) for _ in range(5))
    )
    assert {r.status_code for r in responses} == {201}, [r.text for r in responses]
    assert len({r.json()["data"]["user_id"] for r in responses}) == 1


async def test_the_key_is_documented_as_optional(stack):
    operation = stack.openapi()["paths"]["/api/v1/savings/signup"]["post"]
    (key,) = [p for p in operation["parameters"] if p["name"] == "Idempotency-Key"]
    assert key["in"] == "header" and not key.get("required", False)
    assert "409" in operation["responses"]
