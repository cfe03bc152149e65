"""The savings API (`/api/v1/savings`): customers' money and statements, operators' corrections.

Signup, login, plans, the movements of money, balances, transactions and statements; for
operators, reversals and an account's summary.

Every endpoint is one request to a service over NATS (core.messaging), made by the gateway's
`service` module (which the console calls too); the gateway keeps no data. Money leaves as
JSON numbers with two decimals and travels between services as strings.
A customer's request sends their token along, never their bare id: the service that acts
verifies it again and refuses it once the password changed or the customer was deleted.
"""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import Header, Path, Query, Request
from fastapi.responses import Response

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
from backoffice.core.negotiation import NotAcceptable, negotiate
from backoffice.core.openapi import rules_beyond_schema
from backoffice.core.pagination import Pagination, page_info
from backoffice.core.routing import ApiRouter
from backoffice.core.types import Instant
from backoffice.savings.gateway import service
from backoffice.savings.gateway.auth import AnyCaller, Customer, Operator
from backoffice.savings.gateway.schemas import (
    AccountRead,
    BalanceRead,
    CreditCreate,
    CreditRead,
    CustomerRead,
    LoginCreate,
    MovementRead,
    PlanChoice,
    PlanCreate,
    PlanRead,
    ReversalCreate,
    ReversalRead,
    SignupCreate,
    TokenRead,
    TransactionRead,
    TransferCreate,
    WithdrawalCreate,
)
from backoffice.savings.gateway.statements import Kind, Month, StatementRead
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


# A range of entries: its kind, its first instant and its end.
KindFilter = Annotated[Kind | None, Query(description="Only entries of this kind")]
From = Annotated[
    Instant | None, Query(alias="from", description=f"{INSTANT} Included. Default: all.")
]
To = Annotated[
    Instant | None,
    Query(
        description=f"{INSTANT} Excluded: an entry booked at `to` is not listed."
        f"{MILLISECONDS} Default: now, by the accounting database's clock."
    ),
]


@router.get(
    "/transactions",
    response_model=Envelope[list[TransactionRead]],
    responses=error_responses(*AUTH_ERRORS, NotFound, *CALL_ERRORS),
    summary="Your entries (credits, withdrawals, transfers, interest, reversals) in a time range",
    openapi_extra=rules_beyond_schema("from must not be after to"),
)
async def transactions(
    customer: Customer,
    request: Request,
    page: Pagination,
    kind: KindFilter = None,
    from_: From = None,
    to: To = None,
) -> Envelope[list[TransactionRead]]:
    """Oldest first, paginated; `from` after `to` is a 422.

    Every entry has `entry_id`, `kind`, `amount`, the signed changes `main` and `savings`, the
    balances after it and `at`; a credit keeps its `credit_id` (its `entry_id`), a reversal
    names the entry it `reverses` and the `reason`, interest the `period` it was earned in.
    """
    items, total = await service.transactions(
        request,
        customer.token,
        from_=from_,
        to=to,
        kind=kind,
        limit=page.limit,
        offset=page.offset,
    )
    return ok(items, pagination=page_info(page, len(items), total))


@router.post(
    "/withdrawals",
    status_code=201,
    response_model=Envelope[MovementRead],
    responses=error_responses(*AUTH_ERRORS, NotFound, Conflict, *CALL_ERRORS),
    summary="Withdraw money from your main balance",
    openapi_extra=rules_beyond_schema("the amount must not exceed the main balance"),
)
async def withdraw(
    body: WithdrawalCreate, key: IdempotencyKey, customer: Customer, request: Request
) -> Envelope[MovementRead]:
    """Requires `Idempotency-Key`: the same key and amount return the first withdrawal.

    More than main holds is a 422 `insufficient_funds`, and nothing is written. `main` in the
    answer is the change (negative), `savings` 0.
    """
    made = await service.withdraw(request, customer.token, body.amount, key)
    return ok(made, "Created", status_code=201)


@router.post(
    "/transfers",
    status_code=201,
    response_model=Envelope[MovementRead],
    responses=error_responses(*AUTH_ERRORS, NotFound, Conflict, *CALL_ERRORS),
    summary="Move money between your main and savings balances",
    openapi_extra=rules_beyond_schema(
        "the amount must not exceed the balance it leaves",
        "out of savings, only savings older than the plan's lock_in_days may leave",
        "the balance it goes to stays within 999999999999.99",
    ),
)
async def transfer(
    body: TransferCreate, key: IdempotencyKey, customer: Customer, request: Request
) -> Envelope[MovementRead]:
    """Requires `Idempotency-Key`: the same key and body return the first transfer.

    More than the balance holds is a 422 `insufficient_funds`. Out of savings, money saved less
    than the plan's `lock_in_days` ago cannot leave: a 422 `savings_locked` whose error names
    the instant the amount unlocks (`unlocks_at`). Nothing is written either way.
    """
    made = await service.transfer(request, customer.token, body.from_, body.amount, key)
    return ok(made, "Created", status_code=201)


# A statement's media types: JSON (the default), CSV and PDF.
JSON, CSV, PDF = "application/json", service.CSV_TYPE, service.PDF_TYPE
STATEMENT_DOCUMENTS = {
    CSV: {"schema": {"type": "string"}},
    PDF: {"schema": {"type": "string", "format": "binary"}},
}


@router.get(
    "/statements/{month}",
    response_model=Envelope[StatementRead],
    responses={
        **error_responses(*AUTH_ERRORS, NotFound, NotAcceptable, *CALL_ERRORS),
        200: {"content": STATEMENT_DOCUMENTS, "description": "The statement"},
    },
    summary="Your statement for a month (UTC): JSON, CSV or PDF by Accept",
    openapi_extra=rules_beyond_schema("the month must have started"),
)
async def statement(
    month: Annotated[Month, Path(description="The month, `YYYY-MM` (UTC)")],
    customer: Customer,
    request: Request,
    page: Pagination,
) -> Envelope[StatementRead] | Response:
    """Opening balances, the month's entries, closing balances and the interest earned.

    `Accept: application/json` (the default) pages the entries (`limit`, `offset`); `text/csv`
    and `application/pdf` hold every entry of the month (a 422 `statement_too_long` past
    30,000: read those as JSON). For the month still running, the closing balances and entries
    are those booked so far. A month not started yet is a 422.
    """
    media = negotiate(request.headers.get("accept"), (JSON, CSV, PDF))
    if media == JSON:
        made = await service.statement(
            request, customer.token, month, limit=page.limit, offset=page.offset
        )
        return ok(made, pagination=page_info(page, len(made.entries), made.total))
    document = await service.statement_document(request, customer.token, month, media)
    extension = "csv" if media == CSV else "pdf"
    return Response(
        document,
        media_type="text/csv; charset=utf-8" if media == CSV else PDF,
        headers={"Content-Disposition": f'attachment; filename="statement-{month}.{extension}"'},
    )


@router.post(
    "/entries/{entry_id}/reversal",
    status_code=201,
    response_model=Envelope[ReversalRead],
    responses=error_responses(*AUTH_ERRORS, NotFound, Conflict, *CALL_ERRORS),
    summary="Reverse an entry with a compensating one (platform admins)",
    openapi_extra=rules_beyond_schema("no balance may fall below zero"),
)
async def reverse(
    entry_id: UUID,
    body: ReversalCreate,
    key: IdempotencyKey,
    operator: Operator,
    request: Request,
) -> Envelope[ReversalRead]:
    """Requires `Idempotency-Key`: the same key and reason return the first reversal.

    Adds an entry of kind `reversal` that undoes the entry's changes; nothing is deleted or
    edited. An entry is reversed once (a 409 `entry_not_reversible` after), a reversal never;
    one that would leave a balance below zero is a 422 `insufficient_funds`.
    """
    made = await service.reverse(request, entry_id, body.reason, key, by=operator.username)
    return ok(made, "Created", status_code=201)


@router.get(
    "/accounts/{user_id}",
    response_model=Envelope[AccountRead],
    responses=error_responses(*AUTH_ERRORS, NotFound, *CALL_ERRORS),
    summary="A customer's account: balances and status (platform admins)",
)
async def account(user_id: UUID, _: Operator, request: Request) -> Envelope[AccountRead]:
    """The account's profile, plan, status (`open` or `closed`), interest posted, balances now."""
    return ok(await service.account(request, user_id))


@router.get(
    "/accounts/{user_id}/transactions",
    response_model=Envelope[list[TransactionRead]],
    responses=error_responses(*AUTH_ERRORS, NotFound, *CALL_ERRORS),
    summary="A customer's entries in a time range (platform admins)",
    openapi_extra=rules_beyond_schema("from must not be after to"),
)
async def account_transactions(
    user_id: UUID,
    _: Operator,
    request: Request,
    page: Pagination,
    kind: KindFilter = None,
    from_: From = None,
    to: To = None,
) -> Envelope[list[TransactionRead]]:
    """As the customer's own `/transactions`: the entries an operator may reverse."""
    items, total = await service.account_transactions(
        request, user_id, from_=from_, to=to, kind=kind, limit=page.limit, offset=page.offset
    )
    return ok(items, pagination=page_info(page, len(items), total))
