"""What the gateway does for its callers, whoever they are: the API's routes and the console.

Each function is one request to a savings service over NATS (or two, for a login under the
throttle), with the gateway's own rules around it: the login throttle, the credit's request
hash, instants read as UTC, `from` not after `to`. The callers decide who may call (the API by
its credentials, the console by its session) and how an answer is shown.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from pydantic import BaseModel
from starlette.requests import Request

from backoffice.core.auth.dependencies import client_address
from backoffice.core.auth.throttle import SAVINGS_SCOPE, LoginThrottle
from backoffice.core.errors import ServiceUnavailable, Unauthorized, ValidationFailed
from backoffice.core.messaging import RemoteError
from backoffice.core.money import to_cents
from backoffice.savings import subjects
from backoffice.savings.gateway.client import SavingsClient
from backoffice.savings.gateway.schemas import (
    BalanceRead,
    CreditRead,
    CustomerRead,
    LoginCreate,
    PlanCreate,
    PlanRead,
    SignupCreate,
    TokenRead,
)


class PlanCustomerRead(BaseModel):
    """A customer whose account is on a plan (what an operator sees)."""

    user_id: UUID
    email: str
    full_name: str


class PlanCustomersRead(BaseModel):
    """A page of the customers on a plan, the plan itself and how many there are in all."""

    plan: PlanRead
    items: list[PlanCustomerRead]
    total: int


def client_of(request: Request) -> SavingsClient:
    """The app's client of the savings services (`ServiceUnavailable` until it is connected)."""
    client: SavingsClient | None = getattr(request.app.state, "savings_client", None)
    if client is None:
        raise ServiceUnavailable("The savings services are not connected yet")
    return client


def instant(value: datetime, field: str) -> datetime:
    """`value` in UTC (a time without an offset is UTC); out of range: a 422 on `field`."""
    try:
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    except OverflowError:
        raise ValidationFailed.field(field, "is out of range") from None


def request_hash(amount: Decimal) -> str:
    """What makes two credits with one key the same request: the amount, to the cent."""
    return hashlib.sha256(f"credit:{amount}".encode()).hexdigest()


async def sign_up(request: Request, body: SignupCreate, key: str | None = None) -> CustomerRead:
    """A new customer (`key`: the same key and body again return the same customer)."""
    payload = body.model_dump()
    if key is not None:
        payload["idempotency_key"] = key
    data = await client_of(request).ask(subjects.SIGNUP, payload)
    return CustomerRead.model_validate(data)


async def log_in(request: Request, body: LoginCreate) -> TokenRead:
    """A customer's token for their email and password, under the login throttle.

    Throttled per email and per client address (core.auth.throttle): past a few wrong
    passwords, `LoginThrottled` (a 429 with `Retry-After`), for a registered email or not,
    before any password is checked. A wrong email or password is a 401 that does not say which.
    """
    client = client_of(request)
    throttle: LoginThrottle = request.app.state.login_throttle
    attempt = throttle.attempt(SAVINGS_SCOPE, body.email, client_address(request))
    await throttle.begin(attempt)  # counted as wrong until it proves right
    try:
        data = await client.ask(subjects.LOGIN, body.model_dump())
    except RemoteError as error:
        if error.status_code != Unauthorized.status_code:
            await throttle.abandoned(attempt)  # not a wrong password: the service failed
        raise
    await throttle.succeeded(attempt)
    return TokenRead.model_validate(data)


async def list_plans(request: Request, token: str | None = None) -> list[PlanRead]:
    """Every plan, oldest first (`token`: the customer asking; None: an operator)."""
    payload = {"token": token} if token is not None else {}
    data = await client_of(request).ask(subjects.LIST_PLANS, payload)
    return [PlanRead.model_validate(plan) for plan in data["plans"]]


async def customer_plans(request: Request, token: str) -> tuple[list[PlanRead], int | None]:
    """Every plan, oldest first, and the id of the customer's own (None: none chosen yet)."""
    data = await client_of(request).ask(subjects.LIST_PLANS, {"token": token})
    current = data.get("current")
    plans = [PlanRead.model_validate(plan) for plan in data["plans"]]
    return plans, current if isinstance(current, int) else None


async def create_plan(request: Request, body: PlanCreate) -> PlanRead:
    """A new plan (an operator's): a taken name is a 409."""
    payload = {"name": body.name, "kind": body.kind, "value": str(body.value)}
    data = await client_of(request).ask(subjects.CREATE_PLAN, payload)
    return PlanRead.model_validate(data)


async def plan_customers(
    request: Request, plan_id: int, *, limit: int, offset: int
) -> PlanCustomersRead:
    """A page of the customers on a plan, by email (an operator's query): no such plan, a 404."""
    payload = {"plan_id": plan_id, "limit": limit, "offset": offset}
    data = await client_of(request).ask(subjects.PLAN_CUSTOMERS, payload)
    return PlanCustomersRead.model_validate(data)


async def select_plan(request: Request, token: str, plan_id: int) -> PlanRead:
    """Put a plan in force for the customer's next credits: an unknown plan is a 404."""
    payload = {"token": token, "plan_id": plan_id}
    data = await client_of(request).account(subjects.ASSIGN_PLAN, payload)
    return PlanRead.model_validate(data)


async def credit(request: Request, token: str, amount: Decimal, key: str) -> CreditRead:
    """Credit the customer's account: the same key and amount return the first credit."""
    cents = to_cents(amount)
    payload = {
        "token": token,
        "amount": str(cents),
        "idempotency_key": key,
        "request_hash": request_hash(cents),
    }
    data = await client_of(request).account(subjects.CREDIT, payload)
    return CreditRead.model_validate(data)


async def balance(request: Request, token: str, at: datetime | None = None) -> BalanceRead:
    """The customer's balances after every credit booked at or before `at` (None: now)."""
    payload = {"token": token, "at": instant(at, "at").isoformat() if at is not None else None}
    data = await client_of(request).account(subjects.BALANCE, payload)
    return BalanceRead.model_validate(data)


async def transactions(
    request: Request,
    token: str,
    *,
    from_: datetime | None = None,
    to: datetime | None = None,
    limit: int,
    offset: int,
) -> tuple[list[CreditRead], int]:
    """A page of the customer's credits in [from_, to), oldest first, and the range's total.

    `from_` after `to` (or after now, without `to`) is a 422 on `from`.
    """
    start = instant(from_, "from") if from_ is not None else None
    end = instant(to, "to") if to is not None else None
    if start is not None and start > (end or datetime.now(UTC)):
        raise ValidationFailed.field("from", "`from` must be on or before `to`")
    payload: dict[str, Any] = {
        "token": token,
        "from": start.isoformat() if start is not None else None,
        "to": end.isoformat() if end is not None else None,
        "limit": limit,
        "offset": offset,
    }
    data = await client_of(request).account(subjects.TRANSACTIONS, payload)
    return [CreditRead.model_validate(item) for item in data["items"]], int(data["total"])
