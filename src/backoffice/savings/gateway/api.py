"""The savings API (`/api/v1/savings`): signup, login, plans, credits, balance, transactions.

Every endpoint is one request to a service over NATS (core.messaging), made by the gateway's
`service` module (which the console calls too); the gateway keeps no data. Money leaves as
JSON numbers with two decimals and travels between services as strings.
A customer's request sends their token along, never their bare id: the service that acts
verifies it again and refuses it once the password changed or the customer was deleted.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Header, Query, Request

from backoffice.core.auth.passwords import STRENGTH_RULE
from backoffice.core.auth.throttle import LoginThrottled
from backoffice.core.envelope import Envelope, ok
from backoffice.core.errors import (
    AUTH_ERRORS,
    Conflict,
    NotFound,
    ServiceUnavailable,
    ValidationFailed,
    error_responses,
)
from backoffice.core.openapi import rules_beyond_schema
from backoffice.core.pagination import Pagination, page_info
from backoffice.core.routing import ApiRouter
from backoffice.core.types import Instant
from backoffice.savings.gateway import service
from backoffice.savings.gateway.auth import AnyCaller, Customer, Operator
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
    return ok(await service.sign_up(request, body, key), "Created", status_code=201)


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
    return ok(await service.log_in(request, body))


@router.get(
    "/plans",
    response_model=Envelope[list[PlanRead]],
    responses=error_responses(*AUTH_ERRORS, *CALL_ERRORS),
    summary="List the billing plans (anyone signed in)",
)
async def list_plans(caller: AnyCaller, request: Request) -> Envelope[list[PlanRead]]:
    """Every plan, oldest first."""
    token = caller.token if isinstance(caller, CustomerClaims) else None
    return ok(await service.list_plans(request, token))


@router.post(
    "/plans",
    status_code=201,
    response_model=Envelope[PlanRead],
    responses=error_responses(*AUTH_ERRORS, Conflict, *CALL_ERRORS),
    summary="Create a billing plan (platform admins)",
)
async def create_plan(body: PlanCreate, _: Operator, request: Request) -> Envelope[PlanRead]:
    """A taken name is a 409; a percentage above 100 or a flat amount of 0 is a 422."""
    return ok(await service.create_plan(request, body), "Created", status_code=201)


@router.put(
    "/plan",
    response_model=Envelope[PlanRead],
    responses=error_responses(*AUTH_ERRORS, NotFound, *CALL_ERRORS),
    summary="Select your billing plan (it applies to your next credits)",
)
async def select_plan(body: PlanChoice, customer: Customer, request: Request) -> Envelope[PlanRead]:
    """An unknown plan is a 404."""
    return ok(await service.select_plan(request, customer.token, body.plan_id))


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
    made = await service.credit(request, customer.token, body.amount, key)
    return ok(made, "Created", status_code=201)


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
    return ok(await service.balance(request, customer.token, at))


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
    items, total = await service.transactions(
        request, customer.token, from_=from_, to=to, limit=page.limit, offset=page.offset
    )
    return ok(items, pagination=page_info(page, len(items), total))
