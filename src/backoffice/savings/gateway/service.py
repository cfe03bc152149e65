"""What the gateway does for its callers, whoever they are: the API's routes and the console.

Each function is one request to a savings service over NATS (or two, for a login under the
throttle), with the gateway's own rules around it: the login throttle, the credit's request
hash, instants read as UTC, `from` not after `to`. The callers decide who may call (the API by
its credentials, the console by its session) and how an answer is shown.
"""

from __future__ import annotations

import asyncio
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
    AccountRead,
    BalanceRead,
    CreditRead,
    CustomerRead,
    LoginCreate,
    MovementRead,
    PlanCreate,
    PlanRead,
    ReversalRead,
    SignupCreate,
    TokenRead,
    TransactionRead,
)
from backoffice.savings.gateway.statements import StatementRead, statement_csv, statement_pdf


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


def request_hash(amount: Decimal, *what: object, kind: str = "credit") -> str:
    """What makes two writes with one key the same request: the kind, the amount, what else.

    A credit's is `credit:<amount>` as it always was, so a key used before keeps its meaning.
    """
    text = ":".join([kind, str(amount), *(str(part) for part in what)])
    return hashlib.sha256(text.encode()).hexdigest()


# Interest rates travel between the services as fractions (0.025), and in the API in percent.
PERCENT = Decimal(100)


def _plan(data: dict[str, Any]) -> PlanRead:
    rate = Decimal(str(data.get("interest_rate", 0))) * PERCENT
    return PlanRead.model_validate({**data, "interest_rate": rate.normalize()})


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
    return [_plan(plan) for plan in data["plans"]]


async def customer_plans(request: Request, token: str) -> tuple[list[PlanRead], int | None]:
    """Every plan, oldest first, and the id of the customer's own (None: none chosen yet)."""
    data = await client_of(request).ask(subjects.LIST_PLANS, {"token": token})
    current = data.get("current")
    plans = [_plan(plan) for plan in data["plans"]]
    return plans, current if isinstance(current, int) else None


async def create_plan(request: Request, body: PlanCreate) -> PlanRead:
    """A new plan (an operator's): a taken name is a 409."""
    payload = {
        "name": body.name,
        "kind": body.kind,
        "value": str(body.value),
        "lock_in_days": body.lock_in_days,
        "interest_rate": str(body.interest_rate / PERCENT),
    }
    data = await client_of(request).ask(subjects.CREATE_PLAN, payload)
    return _plan(data)


async def plan_customers(
    request: Request, plan_id: int, *, limit: int, offset: int
) -> PlanCustomersRead:
    """A page of the customers on a plan, by email (an operator's query): no such plan, a 404."""
    payload = {"plan_id": plan_id, "limit": limit, "offset": offset}
    data = await client_of(request).ask(subjects.PLAN_CUSTOMERS, payload)
    return PlanCustomersRead.model_validate({**data, "plan": _plan(data["plan"])})


async def select_plan(request: Request, token: str, plan_id: int) -> PlanRead:
    """Put a plan in force for the customer's next credits: an unknown plan is a 404."""
    payload = {"token": token, "plan_id": plan_id}
    data = await client_of(request).account(subjects.ASSIGN_PLAN, payload)
    return _plan(data)


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
    kind: str | None = None,
    limit: int,
    offset: int,
) -> tuple[list[TransactionRead], int]:
    """A page of the customer's entries in [from_, to), oldest first, and the range's total.

    `kind`: only entries of this kind. `from_` after `to` (or after now, without `to`) is a
    422 on `from`.
    """
    payload = {"token": token, **_range(from_, to, kind, limit, offset)}
    data = await client_of(request).account(subjects.TRANSACTIONS, payload)
    return [TransactionRead.model_validate(item) for item in data["items"]], int(data["total"])


async def account_transactions(
    request: Request,
    user_id: UUID,
    *,
    from_: datetime | None = None,
    to: datetime | None = None,
    kind: str | None = None,
    limit: int,
    offset: int,
) -> tuple[list[TransactionRead], int]:
    """A page of an account's entries, as `transactions` (an operator's query)."""
    payload = {"user_id": str(user_id), **_range(from_, to, kind, limit, offset)}
    data = await client_of(request).ask(subjects.ACCOUNT_TRANSACTIONS, payload)
    return [TransactionRead.model_validate(item) for item in data["items"]], int(data["total"])


def _range(
    from_: datetime | None, to: datetime | None, kind: str | None, limit: int, offset: int
) -> dict[str, Any]:
    """A range of entries as the accounting service reads it; `from` after `to` is a 422."""
    start = instant(from_, "from") if from_ is not None else None
    end = instant(to, "to") if to is not None else None
    if start is not None and start > (end or datetime.now(UTC)):
        raise ValidationFailed.field("from", "`from` must be on or before `to`")
    return {
        "from": start.isoformat() if start is not None else None,
        "to": end.isoformat() if end is not None else None,
        "kind": kind,
        "limit": limit,
        "offset": offset,
    }


async def withdraw(request: Request, token: str, amount: Decimal, key: str) -> MovementRead:
    """Take money out of the customer's main balance: the same key and amount, the first one."""
    cents = to_cents(amount)
    payload = {
        "token": token,
        "amount": str(cents),
        "idempotency_key": key,
        "request_hash": request_hash(cents, kind="withdrawal"),
    }
    data = await client_of(request).account(subjects.WITHDRAW, payload)
    return MovementRead.model_validate(data)


async def transfer(
    request: Request, token: str, source: str, amount: Decimal, key: str
) -> MovementRead:
    """Move money from `source` ("main" or "savings") to the other balance."""
    cents = to_cents(amount)
    payload = {
        "token": token,
        "from": source,
        "amount": str(cents),
        "idempotency_key": key,
        "request_hash": request_hash(cents, source, kind="transfer"),
    }
    data = await client_of(request).account(subjects.TRANSFER, payload)
    return MovementRead.model_validate(data)


async def reverse(
    request: Request, entry_id: UUID, reason: str, key: str, *, by: str
) -> ReversalRead:
    """Compensate an entry (the operator `by`'s): the same key and reason, the first reversal."""
    reason = reason.strip()  # as the service keeps it: " x" and "x" are one request
    payload = {
        "entry_id": str(entry_id),
        "reason": reason,
        "by": by,
        "idempotency_key": key,
        "request_hash": request_hash(Decimal(0), entry_id, reason, kind="reversal"),
    }
    data = await client_of(request).ask(subjects.REVERSE, payload)
    return ReversalRead.model_validate(data)


async def account(request: Request, user_id: UUID) -> AccountRead:
    """An account's profile, status and balances (an operator's query)."""
    data = await client_of(request).ask(subjects.ACCOUNT, {"user_id": str(user_id)})
    return AccountRead.model_validate(data)


def parse_month(month: str) -> tuple[int, int]:
    """(year, month) of a `YYYY-MM` the route's pattern has let through."""
    year, number = month.split("-")
    return int(year), int(number)


async def statement(
    request: Request,
    token: str,
    month: str,
    *,
    limit: int,
    offset: int,
    at: datetime | None = None,
) -> StatementRead:
    """A page of a month's statement (the entries from `offset`, at most `limit` of them).

    `at`: an earlier page's `as_of`, so that every page reads the running month as it stood.
    """
    year, number = parse_month(month)
    payload = {"token": token, "year": year, "month": number, "limit": limit, "offset": offset}
    if at is not None:
        payload["at"] = at.isoformat()
    data = await client_of(request).account(subjects.STATEMENT, payload)
    return StatementRead.model_validate(data)


async def whole_statement(request: Request, token: str, month: str) -> StatementRead:
    """A month's statement with every entry, fetched a page at a time.

    Raises:
        StatementTooLong: more than `STATEMENT_MAX_ENTRIES` entries (the JSON pages have them).
    """
    first = await statement(request, token, month, limit=STATEMENT_PAGE, offset=0)
    if first.total > STATEMENT_MAX_ENTRIES:
        raise StatementTooLong()
    entries = list(first.entries)
    while len(entries) < first.total:
        page = await statement(
            request, token, month, limit=STATEMENT_PAGE, offset=len(entries), at=first.as_of
        )
        if not page.entries:
            break  # pragma: no cover - a month's entries never shrink once it is settled
        entries.extend(page.entries)
    return first.model_copy(update={"entries": entries})


# Rendering a document takes CPU (about 0.9 s for a PDF of 10,000 entries, bench/
# savings_statements.py): in a thread, so the event loop serves everyone else meanwhile, and no
# more than two at once.
_RENDERING = asyncio.Semaphore(2)
CSV_TYPE, PDF_TYPE = "text/csv", "application/pdf"


async def statement_document(request: Request, token: str, month: str, media: str) -> bytes:
    """A month's statement as a document: `text/csv` or `application/pdf`, every entry."""
    whole = await whole_statement(request, token, month)
    async with _RENDERING:
        if media == CSV_TYPE:
            return (await asyncio.to_thread(statement_csv, whole, holder=whole.holder)).encode()
        return await asyncio.to_thread(statement_pdf, whole, holder=whole.holder)


# A statement's document (CSV, PDF) holds every entry of the month, fetched this many at a time,
# and no more than this many in all (one entry every 1.5 minutes for a 31-day month).
STATEMENT_PAGE = 1000
STATEMENT_MAX_ENTRIES = 30000


class StatementTooLong(ValidationFailed):
    """A month with more entries than a document holds."""

    code = "statement_too_long"
    default_message = (
        f"This month has more than {STATEMENT_MAX_ENTRIES} entries: read it as JSON, a page"
        " at a time (limit and offset)"
    )
