"""The savings API (`/api/v1/savings`): signup, login, plans, credits, balance, transactions.

Every endpoint is one request to a service over NATS (core.messaging); the gateway keeps no
data. Money leaves as JSON numbers with two decimals and travels between services as strings.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any

from fastapi import Header, Query, Request

from backoffice.core.envelope import Envelope, ok
from backoffice.core.errors import (
    AUTH_ERRORS,
    Conflict,
    NotFound,
    ServiceUnavailable,
    ValidationFailed,
    error_responses,
)
from backoffice.core.money import to_cents
from backoffice.core.openapi import rules_beyond_schema
from backoffice.core.pagination import Pagination, page_info
from backoffice.core.routing import ApiRouter
from backoffice.core.types import Instant
from backoffice.savings import subjects
from backoffice.savings.gateway.auth import AnyCaller, Customer, Operator
from backoffice.savings.gateway.client import SavingsClient
from backoffice.savings.gateway.schemas import (
    BalanceRead,
    CreditCreate,
    CreditRead,
    CustomerRead,
    LoginCreate,
    PlanChoice,
    PlanCreate,
    PlanRead,
    SignupCreate,
    TokenRead,
)

router = ApiRouter(prefix="/api/v1/savings", tags=["savings"])

# Every call may find a service down (503) or reply with a validation error of its own (422).
CALL_ERRORS = (ServiceUnavailable, ValidationFailed)
# An idempotency key: visible ASCII, as clients generate them (a UUID, a hash, a counter).
IdempotencyKey = Annotated[
    str,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=200,
        pattern=r"^[\x21-\x7e]+$",
        description="Required: the same key with the same body returns the first result",
    ),
]


def _client(request: Request) -> SavingsClient:
    client: SavingsClient | None = getattr(request.app.state, "savings_client", None)
    if client is None:
        raise ServiceUnavailable("The savings services are not connected yet")
    return client


def _instant(value: datetime | None, field: str) -> datetime:
    """`value` in UTC (a time without an offset is UTC); now when absent."""
    if value is None:
        return datetime.now(UTC)
    try:
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    except OverflowError:
        raise ValidationFailed.field(field, "is out of range") from None


@router.post(
    "/signup",
    status_code=201,
    response_model=Envelope[CustomerRead],
    responses=error_responses(Conflict, *CALL_ERRORS),
    summary="Sign up as a savings customer",
)
async def signup(body: SignupCreate, request: Request) -> Envelope[CustomerRead]:
    """A taken email (in any case) is a 409."""
    data = await _client(request).ask(subjects.SIGNUP, body.model_dump())
    return ok(CustomerRead.model_validate(data), "Created", status_code=201)


@router.post(
    "/login",
    response_model=Envelope[TokenRead],
    responses=error_responses(*AUTH_ERRORS, *CALL_ERRORS),
    summary="Exchange a customer's email and password for a bearer token",
)
async def login(body: LoginCreate, request: Request) -> Envelope[TokenRead]:
    """Wrong email or password: a 401 that does not say which."""
    data = await _client(request).ask(subjects.LOGIN, body.model_dump())
    return ok(TokenRead.model_validate(data))


@router.get(
    "/plans",
    response_model=Envelope[list[PlanRead]],
    responses=error_responses(*AUTH_ERRORS, *CALL_ERRORS),
    summary="List the billing plans (anyone signed in)",
)
async def list_plans(_: AnyCaller, request: Request) -> Envelope[list[PlanRead]]:
    """Every plan, oldest first."""
    data = await _client(request).ask(subjects.LIST_PLANS, {})
    return ok([PlanRead.model_validate(plan) for plan in data["plans"]])


@router.post(
    "/plans",
    status_code=201,
    response_model=Envelope[PlanRead],
    responses=error_responses(*AUTH_ERRORS, Conflict, *CALL_ERRORS),
    summary="Create a billing plan (platform admins)",
)
async def create_plan(body: PlanCreate, _: Operator, request: Request) -> Envelope[PlanRead]:
    """A taken name is a 409; a percentage above 100 or a flat amount of 0 is a 422."""
    payload = {"name": body.name, "kind": body.kind, "value": str(body.value)}
    data = await _client(request).ask(subjects.CREATE_PLAN, payload)
    return ok(PlanRead.model_validate(data), "Created", status_code=201)


@router.put(
    "/plan",
    response_model=Envelope[PlanRead],
    responses=error_responses(*AUTH_ERRORS, NotFound, *CALL_ERRORS),
    summary="Select your billing plan (it applies to your next credits)",
)
async def select_plan(body: PlanChoice, customer: Customer, request: Request) -> Envelope[PlanRead]:
    """An unknown plan is a 404."""
    payload = {"user_id": str(customer.user_id), "plan_id": body.plan_id}
    data = await _client(request).account(subjects.ASSIGN_PLAN, payload)
    return ok(PlanRead.model_validate(data))


@router.post(
    "/credits",
    status_code=201,
    response_model=Envelope[CreditRead],
    responses=error_responses(*AUTH_ERRORS, NotFound, Conflict, *CALL_ERRORS),
    summary="Credit your account; the amount is split by your plan",
    openapi_extra=rules_beyond_schema(
        "with a flat-amount plan, the amount must exceed the flat amount",
        "the balances after the credit stay within 999999999999.99",
    ),
)
async def credit(
    body: CreditCreate, key: IdempotencyKey, customer: Customer, request: Request
) -> Envelope[CreditRead]:
    """Requires `Idempotency-Key`: the same key and amount return the first credit.

    The same key with another amount is a 409. With a flat-amount plan, a credit must exceed
    the flat amount (422).
    """
    amount = to_cents(body.amount)
    payload = {
        "user_id": str(customer.user_id),
        "amount": str(amount),
        "idempotency_key": key,
        "request_hash": _request_hash(amount),
    }
    data = await _client(request).account(subjects.CREDIT, payload)
    return ok(CreditRead.model_validate(data), "Created", status_code=201)


@router.get(
    "/balance",
    response_model=Envelope[BalanceRead],
    responses=error_responses(*AUTH_ERRORS, NotFound, *CALL_ERRORS),
    summary="Your main, savings and total balance now or at an instant",
)
async def balance(
    customer: Customer,
    request: Request,
    at: Annotated[
        Instant | None, Query(description="RFC 3339 instant (no offset: UTC); default now")
    ] = None,
) -> Envelope[BalanceRead]:
    """The balances after every credit made at or before `at`."""
    payload = {"user_id": str(customer.user_id), "at": _instant(at, "at").isoformat()}
    data = await _client(request).account(subjects.BALANCE, payload)
    return ok(BalanceRead.model_validate(data))


@router.get(
    "/transactions",
    response_model=Envelope[list[CreditRead]],
    responses=error_responses(*AUTH_ERRORS, NotFound, *CALL_ERRORS),
    summary="Your credits in a time range, oldest first",
    openapi_extra=rules_beyond_schema("from must not be after to"),
)
async def transactions(
    customer: Customer,
    request: Request,
    page: Pagination,
    from_: Annotated[
        Instant | None,
        Query(alias="from", description="RFC 3339, included (no offset: UTC); default: all"),
    ] = None,
    to: Annotated[
        Instant | None, Query(description="RFC 3339, excluded (no offset: UTC); default now")
    ] = None,
) -> Envelope[list[CreditRead]]:
    """Paginated; `from` after `to` is a 422."""
    start = _instant(from_, "from") if from_ is not None else None
    end = _instant(to, "to")
    if start is not None and start > end:
        raise ValidationFailed.field("from", "`from` must be on or before `to`")
    payload: dict[str, Any] = {
        "user_id": str(customer.user_id),
        "from": start.isoformat() if start is not None else None,
        "to": end.isoformat(),
        "limit": page.limit,
        "offset": page.offset,
    }
    data = await _client(request).account(subjects.TRANSACTIONS, payload)
    items = [CreditRead.model_validate(item) for item in data["items"]]
    return ok(items, pagination=page_info(page, len(items), int(data["total"])))


def _request_hash(amount: Decimal) -> str:
    """What makes two credits with one key the same request: the amount, to the cent."""
    return hashlib.sha256(f"credit:{amount}".encode()).hexdigest()
