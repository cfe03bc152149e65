"""A savings customer's home: balances, the balance over time, entries, plan, crediting.

Every figure comes from the savings gateway's functions (`savings.gateway.service`) with the
customer's token, as the API's `/balance` and `/transactions` give them; the chart's balances
are the balances right after each of the latest entries (every kind), as the ledger records
them. The home also holds the withdrawal and transfer forms (`savings_ledger` takes them) and
leads to the statements (`savings_statements`). A token the services refuse (expired, the
password changed, the customer deleted) ends the console session there and then.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Annotated, Any, get_args

from fastapi import Query
from pydantic import TypeAdapter
from starlette.requests import Request
from starlette.responses import Response

from backoffice.console import charts
from backoffice.console.access import COOKIE, CUSTOMER_SIGN_IN, SavingsCustomer, signed_in
from backoffice.console.savings_forms import (
    FormProblems,
    fields,
    money,
    new_key,
    parse,
    plan_label,
    posted_key,
    signed,
)
from backoffice.console.web import field_errors, read_form, redirect, render, with_query
from backoffice.core.auth import websessions
from backoffice.core.auth.websessions import Customer
from backoffice.core.db import DbSession
from backoffice.core.errors import DomainError, ValidationFailed
from backoffice.core.routing import ApiRouter
from backoffice.core.types import MAX_INT
from backoffice.savings.gateway import service
from backoffice.savings.gateway.schemas import CreditCreate, PlanChoice, TransactionRead
from backoffice.savings.gateway.statements import Kind

HOME = "/console/savings/"
PLAN = "/console/savings/plan"
CREDITS = "/console/savings/credits"
WITHDRAWALS = "/console/savings/withdrawals"
TRANSFERS = "/console/savings/transfers"
STATEMENTS = "/console/savings/statements"
PAGE_SIZE = 20
# The entries' kinds as the filter offers them (the API's `kind=`), each with its plain name.
KIND_NAMES = {
    "credit": "Credit",
    "withdrawal": "Withdrawal",
    "transfer": "Transfer",
    "interest": "Interest",
    "reversal": "Reversal",
}
KINDS = tuple(KIND_NAMES.items())
# The balances a transfer may leave, as its form names them.
SOURCES = (("main", "From main to savings"), ("savings", "From savings to main"))
assert set(KIND_NAMES) == set(get_args(Kind)), "a kind of entry without its name"
# The chart's points: the balances after the latest entries (the table beside it lists them).
CHART_POINTS = 60
STAMP = "%Y-%m-%d %H:%M:%S"

router = ApiRouter(include_in_schema=False)

_CHOICE = TypeAdapter(PlanChoice)
_CREDIT = TypeAdapter(CreditCreate)


class CustomerGone(Exception):
    """The savings services refused the customer's token: their session is over."""


async def asked(call: Any) -> Any:
    """The answer of a call with the customer's token; `CustomerGone` when it is refused."""
    try:
        return await call
    except DomainError as error:
        if error.status_code == 401:
            raise CustomerGone() from None
        raise


async def signed_out(request: Request, session: DbSession) -> Response:
    """End the session whose token was refused, and send the customer to sign in again."""
    await websessions.end(session, request.cookies.get(COOKIE, ""))
    response = redirect(CUSTOMER_SIGN_IN, notice="Your session has ended: please sign in again.")
    response.delete_cookie(COOKIE, path="/console")
    return response


@dataclass
class Overview:
    """What the customer's page shows."""

    balance: Any
    entries: list[TransactionRead]  # the page of entries listed, newest first
    page: dict[str, Any]
    chart: Any
    chart_rows: list[tuple[str, str, str, str]]
    plans: list[tuple[int, str]] = field(default_factory=list)  # the plan picker's options
    current_plan: int | None = None  # the id of the customer's plan
    current_label: str | None = None  # and what it is


async def _overview(request: Request, token: str, offset: int, kind: str | None) -> Overview:
    """Balances, a page of entries (newest first, `kind` only), the chart, the plans.

    The chart has the latest entries of every kind. Every read stops at the instant of the balance, so the figures agree with each other.
    """
    now = await asked(service.balance(request, token))
    to = now.at + timedelta(microseconds=1)  # the balance counts an entry booked at its `at`
    _, total = await asked(service.transactions(request, token, to=to, limit=1, offset=0))
    first = max(total - CHART_POINTS, 0)
    window: list[TransactionRead] = []
    if total:
        window, _ = await asked(
            service.transactions(request, token, to=to, limit=total - first, offset=first)
        )
    listed_total = total
    if kind is not None:
        _, listed_total = await asked(
            service.transactions(request, token, to=to, kind=kind, limit=1, offset=0)
        )
    offset = min(offset, max(listed_total - 1, 0))
    count = max(min(PAGE_SIZE, listed_total - offset), 0)
    start = listed_total - offset - count  # the page's first entry, oldest first
    listed: list[TransactionRead] = []
    if kind is None and start >= first:
        listed = window[start - first : start - first + count]
    elif count:
        listed, _ = await asked(
            service.transactions(request, token, to=to, kind=kind, limit=count, offset=start)
        )
    points = [(e.at.strftime("%m-%d %H:%M:%S"), e.main_balance + e.savings_balance) for e in window]
    rows = [
        (
            e.at.strftime(STAMP),
            money(e.main_balance),
            money(e.savings_balance),
            money(e.main_balance + e.savings_balance),
        )
        for e in window
    ]
    svg = charts.line_chart(
        title="Your total balance after each entry",
        description=(
            f"Your total balance (main plus savings) after each of your latest {len(points)}"
            " entries, oldest first; the table beside it has the numbers."
        ),
        points=points,
        y_label="Total",
        chart_id="savings-balance",
    )
    found, current = await asked(service.customer_plans(request, token))
    plans = [(p.id, plan_label(p)) for p in found]
    page = {
        "offset": offset,
        "limit": PAGE_SIZE,
        "total": listed_total,
        "has_more": offset + count < listed_total,
    }
    mine = next((label for plan_id, label in plans if plan_id == current), None)
    return Overview(now, list(reversed(listed)), page, svg, rows, plans, current, mine)


# The home's forms, each with its own idempotency key: the credit, the withdrawal, the transfer.
FORMS = ("credit", "withdraw", "transfer")


async def home_page(
    request: Request,
    customer: Customer,
    offset: int = 0,
    kind: str | None = None,
    *,
    status_code: int = 200,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    keys: dict[str, str | None] | None = None,
) -> Response:
    """The customer's home: `errors` and `values` by field name, `keys` by form (`FORMS`).

    A form not named in `keys` gets a fresh idempotency key.
    """
    overview = await _overview(request, customer.token, offset, kind)
    return render(
        request,
        "savings/home.html",
        status_code=status_code,
        overview=overview,
        errors=errors or {},
        values={"transfer_from": "main", **(values or {})},
        keys={form: (keys or {}).get(form) or new_key() for form in FORMS},
        kind=kind or "",
        kinds=KINDS,
        kind_names=KIND_NAMES,
        sources=SOURCES,
        money=money,
        signed=signed,
        stamp=STAMP,
        page_url=lambda o: with_query(HOME, {"kind": kind, "offset": o or None}),
        plan_action=PLAN,
        credit_action=CREDITS,
        withdraw_action=WITHDRAWALS,
        transfer_action=TRANSFERS,
        statements=STATEMENTS,
        home=HOME,  # the filter's action: the page may be a form's answer at its own address
    )


@router.get(HOME)
async def savings_home(
    request: Request,
    customer: SavingsCustomer,
    session: DbSession,
    offset: Annotated[int, Query(ge=0, le=MAX_INT)] = 0,
    kind: Annotated[str, Query(max_length=20)] = "",
) -> Response:
    """Balances, the balance over time, the entries (a page, newest first, `kind` only), forms.

    `kind` empty: every kind (the filter's first choice); not a kind: a 422 page.
    """
    if kind and kind not in KIND_NAMES:
        raise ValidationFailed.field("kind", "Choose a kind of entry from the list.")
    try:
        return await home_page(request, customer, offset, kind or None)
    except CustomerGone:
        return await signed_out(request, session)


def csrf_of(request: Request) -> str:
    """The signed-in visitor's CSRF token (the access check has run)."""
    who = signed_in(request)
    assert who is not None  # the access check ran first
    return who.csrf_token


@router.post(PLAN)
async def choose_plan(request: Request, customer: SavingsCustomer, session: DbSession) -> Response:
    """Put the chosen plan in force for the next credits."""
    form = await read_form(request, csrf_of(request))
    raw = fields(form, "plan_id")["plan_id"].strip()
    try:
        try:
            number = raw.isascii() and raw.isdigit() and len(raw) <= 18  # "²" is no int()
            choice = parse(_CHOICE, {"plan_id": int(raw) if number else raw})
            plan = await asked(service.select_plan(request, customer.token, choice.plan_id))
        except FormProblems as problems:
            return await home_page(request, customer, status_code=422, errors=problems.errors)
        except DomainError as error:
            if error.status_code != 404:
                raise
            errors = {"plan_id": "That plan does not exist (any more): choose another."}
            if error.code != "plan_not_found":
                errors = field_errors(error)
            return await home_page(request, customer, status_code=422, errors=errors)
    except CustomerGone:
        return await signed_out(request, session)
    notice = f"Your plan is now {plan.name}: it applies to your next credits."
    return redirect(HOME, notice=notice)


@router.post(CREDITS)
async def credit(request: Request, customer: SavingsCustomer, session: DbSession) -> Response:
    """Credit the amount once: the form's idempotency key makes a double submit one credit."""
    form = await read_form(request, csrf_of(request))
    amount = fields(form, "amount")["amount"].strip()
    key = posted_key(form)
    try:
        try:
            if key is None:
                raise FormProblems({"form": "This form has expired: reload the page."})
            body = parse(_CREDIT, {"amount": amount})
            made = await asked(service.credit(request, customer.token, body.amount, key))
        except FormProblems as problems:
            return await home_page(
                request,
                customer,
                status_code=422,
                errors=problems.errors,
                values={"amount": amount[:40]},
                keys={"credit": key},
            )
        except DomainError as error:
            if not 400 <= error.status_code < 500:
                raise
            errors = field_errors(error, "amount" if error.status_code == 422 else "form")
            if error.code == "idempotency_key_reused":
                key = None  # this form's key went with another amount: a new one
            return await home_page(
                request,
                customer,
                status_code=422,
                errors=errors,
                values={"amount": amount[:40]},
                keys={"credit": key},
            )
    except CustomerGone:
        return await signed_out(request, session)
    notice = (
        f"Credited {money(made.amount)}: {money(made.main)} to your main balance,"
        f" {money(made.savings)} to your savings."
    )
    return redirect(HOME, notice=notice)
