"""A savings customer's own pages: balances, the balance over time, credits, plan, crediting.

Every figure comes from the savings gateway's functions (`savings.gateway.service`) with the
customer's token, as the API's `/balance` and `/transactions` give them; the chart's balances
are the balances right after each of the latest credits. A token the services refuse (expired,
the password changed, the customer deleted) ends the console session there and then.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Annotated, Any

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
)
from backoffice.console.web import field_errors, read_form, redirect, render, with_query
from backoffice.core.auth import websessions
from backoffice.core.auth.websessions import Customer
from backoffice.core.db import DbSession
from backoffice.core.errors import DomainError
from backoffice.core.routing import ApiRouter
from backoffice.core.types import MAX_INT
from backoffice.savings.gateway import service
from backoffice.savings.gateway.schemas import CreditCreate, CreditRead, PlanChoice

HOME = "/console/savings/"
PLAN = "/console/savings/plan"
CREDITS = "/console/savings/credits"
PAGE_SIZE = 20
# The chart's points: the balances after the latest credits (the table beside it lists them).
CHART_POINTS = 60
STAMP = "%Y-%m-%d %H:%M:%S"

router = ApiRouter(include_in_schema=False)

_CHOICE = TypeAdapter(PlanChoice)
_CREDIT = TypeAdapter(CreditCreate)


class CustomerGone(Exception):
    """The savings services refused the customer's token: their session is over."""


async def _asked(call: Any) -> Any:
    """The answer of a call with the customer's token; `CustomerGone` when it is refused."""
    try:
        return await call
    except DomainError as error:
        if error.status_code == 401:
            raise CustomerGone() from None
        raise


async def _signed_out(request: Request, session: DbSession) -> Response:
    """End the session whose token was refused, and send the customer to sign in again."""
    await websessions.end(session, request.cookies.get(COOKIE, ""))
    response = redirect(CUSTOMER_SIGN_IN, notice="Your session has ended: please sign in again.")
    response.delete_cookie(COOKIE, path="/console")
    return response


@dataclass
class Overview:
    """What the customer's page shows."""

    balance: Any
    credits: list[CreditRead]
    page: dict[str, Any]
    chart: Any
    chart_rows: list[tuple[str, str, str, str]]
    plans: list[tuple[int, str]] = field(default_factory=list)  # the plan picker's options
    current_plan: int | None = None  # the id of the customer's plan
    current_label: str | None = None  # and what it is


async def _overview(request: Request, token: str, offset: int) -> Overview:
    """Balances now, a page of credits (newest first), the chart of the latest credits, plans.

    Every read stops at the instant of the balance, so the figures agree with each other.
    """
    now = await _asked(service.balance(request, token))
    to = now.at + timedelta(microseconds=1)  # the balance counts a credit booked at its `at`
    _, total = await _asked(service.transactions(request, token, to=to, limit=1, offset=0))
    first = max(total - CHART_POINTS, 0)
    window: list[CreditRead] = []
    if total:
        window, _ = await _asked(
            service.transactions(request, token, to=to, limit=total - first, offset=first)
        )
    offset = min(offset, max(total - 1, 0))
    count = max(min(PAGE_SIZE, total - offset), 0)
    start = total - offset - count  # the page's first credit, oldest first
    if start >= first:
        listed = window[start - first : start - first + count]
    else:
        listed, _ = await _asked(
            service.transactions(request, token, to=to, limit=count, offset=start)
        )
    points, rows = await _chart_points(request, token, window)
    svg = charts.line_chart(
        title="Your total balance after each credit",
        description=(
            f"Your total balance (main plus savings) after each of your latest {len(points)}"
            " credits, oldest first; the table beside it has the numbers."
        ),
        points=points,
        y_label="Total",
        chart_id="savings-balance",
    )
    found, current = await _asked(service.customer_plans(request, token))
    plans = [(p.id, plan_label(p)) for p in found]
    page = {
        "offset": offset,
        "limit": PAGE_SIZE,
        "total": total,
        "has_more": offset + count < total,
    }
    mine = next((label for plan_id, label in plans if plan_id == current), None)
    return Overview(now, list(reversed(listed)), page, svg, rows, plans, current, mine)


async def _chart_points(
    request: Request, token: str, window: list[CreditRead]
) -> tuple[list[tuple[str, Decimal]], list[tuple[str, str, str, str]]]:
    """The balances right after each credit of `window`: from the balance at the first one."""
    if not window:
        return [], []
    before = await _asked(service.balance(request, token, window[0].at))
    main = Decimal(before.main) - Decimal(window[0].main)
    savings = Decimal(before.savings) - Decimal(window[0].savings)
    points: list[tuple[str, Decimal]] = []
    rows: list[tuple[str, str, str, str]] = []
    for credit in window:
        main += Decimal(credit.main)
        savings += Decimal(credit.savings)
        points.append((credit.at.strftime("%m-%d %H:%M:%S"), main + savings))
        rows.append((credit.at.strftime(STAMP), money(main), money(savings), money(main + savings)))
    return points, rows


async def _page(
    request: Request,
    customer: Customer,
    offset: int = 0,
    *,
    status_code: int = 200,
    errors: dict[str, str] | None = None,
    amount: str = "",
    key: str | None = None,
) -> Response:
    overview = await _overview(request, customer.token, offset)
    return render(
        request,
        "savings/home.html",
        status_code=status_code,
        overview=overview,
        errors=errors or {},
        amount=amount,
        key=key or new_key(),
        money=money,
        stamp=STAMP,
        page_url=lambda o: with_query(HOME, {"offset": o or None}),
        plan_action=PLAN,
        credit_action=CREDITS,
    )


@router.get(HOME)
async def savings_home(
    request: Request,
    customer: SavingsCustomer,
    session: DbSession,
    offset: Annotated[int, Query(ge=0, le=MAX_INT)] = 0,
) -> Response:
    """Balances, the balance over time, the credits (a page, newest first), the forms."""
    try:
        return await _page(request, customer, offset)
    except CustomerGone:
        return await _signed_out(request, session)


def _csrf(request: Request) -> str:
    who = signed_in(request)
    assert who is not None  # the access check ran first
    return who.csrf_token


@router.post(PLAN)
async def choose_plan(request: Request, customer: SavingsCustomer, session: DbSession) -> Response:
    """Put the chosen plan in force for the next credits."""
    form = await read_form(request, _csrf(request))
    raw = fields(form, "plan_id")["plan_id"].strip()
    try:
        try:
            number = raw.isascii() and raw.isdigit() and len(raw) <= 18  # "²" is no int()
            choice = parse(_CHOICE, {"plan_id": int(raw) if number else raw})
            plan = await _asked(service.select_plan(request, customer.token, choice.plan_id))
        except FormProblems as problems:
            return await _page(request, customer, status_code=422, errors=problems.errors)
        except DomainError as error:
            if error.status_code != 404:
                raise
            errors = {"plan_id": "That plan does not exist (any more): choose another."}
            if error.code != "plan_not_found":
                errors = field_errors(error)
            return await _page(request, customer, status_code=422, errors=errors)
    except CustomerGone:
        return await _signed_out(request, session)
    notice = f"Your plan is now {plan.name}: it applies to your next credits."
    return redirect(HOME, notice=notice)


@router.post(CREDITS)
async def credit(request: Request, customer: SavingsCustomer, session: DbSession) -> Response:
    """Credit the amount once: the form's idempotency key makes a double submit one credit."""
    form = await read_form(request, _csrf(request))
    amount = fields(form, "amount")["amount"].strip()
    key = posted_key(form)
    try:
        try:
            if key is None:
                raise FormProblems({"form": "This form has expired: reload the page."})
            body = parse(_CREDIT, {"amount": amount})
            made = await _asked(service.credit(request, customer.token, body.amount, key))
        except FormProblems as problems:
            return await _page(
                request,
                customer,
                status_code=422,
                errors=problems.errors,
                amount=amount[:40],
                key=key,
            )
        except DomainError as error:
            if not 400 <= error.status_code < 500:
                raise
            errors = field_errors(error, "amount" if error.status_code == 422 else "form")
            if error.code == "idempotency_key_reused":
                key = None  # this form's key went with another amount: a new one
            return await _page(
                request, customer, status_code=422, errors=errors, amount=amount[:40], key=key
            )
    except CustomerGone:
        return await _signed_out(request, session)
    notice = (
        f"Credited {money(made.amount)}: {money(made.main)} to your main balance,"
        f" {money(made.savings)} to your savings."
    )
    return redirect(HOME, notice=notice)
