"""Schemathesis, every check (`--checks all`), over every operation of the OpenAPI document.

Run as an admin over the whole document, and as a savings customer (a bearer token from the
gateway's own signup and login) over the gateway's operations, so the customer's reach their
handlers too. A route
added later is covered with no extra work. `FUZZ_EXAMPLES` and `FUZZ_SEED` widen a run by hand
(the issue's acceptance run: `FUZZ_EXAMPLES=100 FUZZ_SEED=<new>`).
"""

from __future__ import annotations

import os
import secrets

import httpx

from tests.api.conftest import basic_header
from tests.api.fuzz import config, document, operation_count, run

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "25"))
SEED = int(os.environ.get("FUZZ_SEED", "20261204"))
SAVINGS = "/api/v1/savings/"


def customer_token(api_url: str) -> str:
    """A new savings customer's bearer token, through the gateway as a client gets one."""
    email = f"fuzz-{secrets.token_hex(6)}@example.com"
    password = secrets.token_urlsafe(18)
    signup = {"email": email, "password": password, "full_name": "Fuzz Customer"}
    created = httpx.post(f"{api_url}/api/v1/savings/signup", json=signup, timeout=30)
    assert created.status_code == 201, created.text
    login = {"email": email, "password": password}
    answered = httpx.post(f"{api_url}/api/v1/savings/login", json=login, timeout=30)
    assert answered.status_code == 200, answered.text
    token: str = answered.json()["data"]["access_token"]
    return token


def test_every_operation_answers_as_documented_to_an_admin(api_url):
    admin = {"Authorization": basic_header("admin", "adminpass")}
    settings = config(api_url, admin, max_examples=EXAMPLES, seed=SEED, document=document(api_url))
    run(f"{api_url}/openapi.json", settings).assert_clean(operations=operation_count(api_url))


def test_every_savings_operation_answers_as_documented_to_a_customer(api_url):
    # A customer's token opens the savings gateway only; how every other operation refuses it
    # is the auth matrix's business.
    customer = {"Authorization": f"Bearer {customer_token(api_url)}"}
    settings = config(
        api_url,
        customer,
        max_examples=EXAMPLES,
        seed=SEED + 1,
        document=document(api_url),
        only=SAVINGS,
    )
    report = run(f"{api_url}/openapi.json", settings)
    report.assert_clean(operations=operation_count(api_url, SAVINGS))
