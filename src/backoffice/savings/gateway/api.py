"""The savings API (`/api/v1/savings`): signup, login, plans, credits, balance, transactions.

Every endpoint is one request to a service over NATS (core.messaging); the gateway keeps no
data. Money leaves as JSON numbers with two decimals and travels between services as strings.
A customer's request sends their token along, never their bare id: the service that acts
verifies it again and refuses it once the password changed or the customer was deleted.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any

from fastapi import Header, Query, Request

from backoffice.core.auth.dependencies import client_address
from backoffice.core.auth.passwords import STRENGTH_RULE
from backoffice.core.auth.throttle import SAVINGS_SCOPE, LoginThrottle, LoginThrottled
from backoffice.core.envelope import Envelope, ok
from backoffice.core.errors import (
    AUTH_ERRORS,
    Conflict,
    NotFound,
    ServiceUnavailable,
    Unauthorized,
    ValidationFailed,
    error_responses,
)
from backoffice.core.messaging import RemoteError
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
from backoffice.savings.tokens import CustomerClaims

router = ApiRouter(prefix="/api/v1/savings", tags=["savings"])

# Every call may find a service down (503) or reply with a validation error of its own (422).
CALL_ERRORS = (ServiceUnavailable, ValidationFailed)
# An idempotency key: visible ASCII, as clients generate them (a UUID, a hash, a counter).
KEY_RULES: dict[str, Any] = {
    "alias": "Idempotency-Key",
    "min_length": 1,
    "max_length": 200,
    "pattern": r"^[\x21-\x7e]+$",
}
IdempotencyKey = Annotated[
    str,
    Header(
        **KEY_RULES,
        description="Required: the same key with the same body returns the first result",
    ),
]
# Optional on signup, so that clients written before it keep working.
OptionalIdempotencyKey = Annotated[
    str | None,
    Header(
        **KEY_RULES,
        description="Optional: the same key with the same body returns the first customer"
        " (also after a 503); with another body it is a 409",
    ),
]


def _client(request: Request) -> SavingsClient:
    client: SavingsClient | None = getattr(request.app.state, "savings_client", None)
    if client is None:
        raise ServiceUnavailable("The savings services are not connected yet")
    return client


def _instant(value: datetime, field: str) -> datetime:
    """`value` in UTC (a time without an offset is UTC)."""
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
    openapi_extra=rules_beyond_schema(STRENGTH_RULE),
)
async def signup(
    body: SignupCreate, request: Request, key: OptionalIdempotencyKey = None
) -> Envelope[CustomerRead]:
    """A taken email (in any case) is a 409.

    With an `Idempotency-Key`, a retry of a signup whose answer was lost (a 503, a timeout)
    returns the customer it made (201), not a 409; the same key with another email, name or
    password is a 409 `idempotency_key_reused`.
    """
    payload = body.model_dump()
    if key is not None:
        payload["idempotency_key"] = key
    data = await _client(request).ask(subjects.SIGNUP, payload)
    return ok(CustomerRead.model_validate(data), "Created", status_code=201)


@router.post(
    "/login",
    response_model=Envelope[TokenRead],
    responses=error_responses(*AUTH_ERRORS, LoginThrottled, *CALL_ERRORS),
    summary="Exchange a customer's email and password for a bearer token",
)
async def login(body: LoginCreate, request: Request) -> Envelope[TokenRead]:
    """Wrong email or password: a 401 that does not say which.

    Throttled per email and per client address (core.auth.throttle): past a few wrong
    passwords, a 429 with `Retry-After`, for a registered email or not, before any password
    is checked.
    """
    client = _client(request)
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
    return ok(TokenRead.model_validate(data))


@router.get(
    "/plans",
    response_model=Envelope[list[PlanRead]],
    responses=error_responses(*AUTH_ERRORS, *CALL_ERRORS),
    summary="List the billing plans (anyone signed in)",
)
async def list_plans(caller: AnyCaller, request: Request) -> Envelope[list[PlanRead]]:
    """Every plan, oldest first."""
    payload = {"token": caller.token} if isinstance(caller, CustomerClaims) else {}
    data = await _client(request).ask(subjects.LIST_PLANS, payload)
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
    payload = {"token": customer.token, "plan_id": body.plan_id}
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
        "token": customer.token,
        "amount": str(amount),
        "idempotency_key": key,
        "request_hash": _request_hash(amount),
    }
    data = await _client(request).account(subjects.CREDIT, payload)
    return ok(CreditRead.model_validate(data), "Created", status_code=201)


# What the history endpoints' instants mean (the README's savings section says the same).
INSTANT = (
    "ISO 8601 instant (no offset: UTC), kept to the microsecond (finer digits are dropped)."
    " Credits are booked at the accounting database's clock as they commit; once an instant"
    " has passed, the answer up to it never changes."
)
MILLISECONDS = (
    " A client that keeps milliseconds (JavaScript's `Date`) should send back the instants it"
    " received as strings: `...06.307582Z` cut to `...06.307Z` comes before that credit."
)


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
        Instant | None,
        Query(
            description=f"{INSTANT} Included: a credit booked at `at` counts.{MILLISECONDS}"
            " Default: now, by the accounting database's clock, returned as `at`: asking"
            " again with that `at` gives the same balance."
        ),
    ] = None,
) -> Envelope[BalanceRead]:
    """The balances after every credit booked at or before `at`.

    An instant still to come is answered with the credits booked so far.
    """
    payload = {
        "token": customer.token,
        "at": _instant(at, "at").isoformat() if at is not None else None,
    }
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
        Query(alias="from", description=f"{INSTANT} Included. Default: all."),
    ] = None,
    to: Annotated[
        Instant | None,
        Query(
            description=f"{INSTANT} Excluded: a credit booked at `to` is not listed."
            f"{MILLISECONDS} Default: now, by the accounting database's clock."
        ),
    ] = None,
) -> Envelope[list[CreditRead]]:
    """Paginated; `from` after `to` is a 422."""
    start = _instant(from_, "from") if from_ is not None else None
    end = _instant(to, "to") if to is not None else None
    if start is not None and start > (end or datetime.now(UTC)):
        raise ValidationFailed.field("from", "`from` must be on or before `to`")
    payload: dict[str, Any] = {
        "token": customer.token,
        "from": start.isoformat() if start is not None else None,
        "to": end.isoformat() if end is not None else None,
        "limit": page.limit,
        "offset": page.offset,
    }
    data = await _client(request).account(subjects.TRANSACTIONS, payload)
    items = [CreditRead.model_validate(item) for item in data["items"]]
    return ok(items, pagination=page_info(page, len(items), int(data["total"])))


def _request_hash(amount: Decimal) -> str:
    """What makes two credits with one key the same request: the amount, to the cent."""
    return hashlib.sha256(f"credit:{amount}".encode()).hexdigest()
