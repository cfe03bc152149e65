"""The savings plans, for platform admins: the plans, a new plan, and who is on each.

As on the API (`POST /api/v1/savings/plans` is for platform admins), only an admin opens these
pages. They call the savings gateway's functions (`savings.gateway.service`): a plan's form is
checked by the API's own schema, and the accounting service answers who is on a plan. A plan
has a lock-in (days a sum stays in savings) and a yearly interest rate on savings, in percent
as the API takes it; left empty, each is 0 (none). Each customer leads to their account
(`savings_accounts`).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Path, Query
from pydantic import TypeAdapter
from starlette.requests import Request
from starlette.responses import Response

from backoffice.console.access import Admin, signed_in
from backoffice.console.savings_accounts import ACCOUNTS
from backoffice.console.savings_forms import (
    FormProblems,
    fields,
    lock_in_label,
    money,
    parse,
    rate_label,
)
from backoffice.console.web import (
    csv_response,
    field_errors,
    read_form,
    redirect,
    render,
    with_query,
)
from backoffice.core.errors import DomainError
from backoffice.core.routing import ApiRouter
from backoffice.core.types import MAX_INT
from backoffice.savings.gateway import service
from backoffice.savings.gateway.schemas import PlanCreate

PLANS = "/console/savings/plans"
PAGE_SIZE = 50
# A plan's customers as CSV: at most this many (in pages of `EXPORT_PAGE`).
EXPORT_LIMIT = 10_000
EXPORT_PAGE = 1000
KINDS = (("percentage", "Percentage of each credit"), ("flat-amount", "Flat amount per credit"))
VALUE_HELP = {
    "percentage": "Enter a percentage from 0 to 100 with at most two decimals, like 12.5.",
    "flat-amount": "Enter an amount above 0 with at most two decimals, like 5.00.",
}

# The new-plan form as first drawn (no lock-in, no interest unless typed).
EMPTY_PLAN = {
    "name": "",
    "kind": "percentage",
    "value": "",
    "lock_in_days": "0",
    "interest_rate": "0",
}

router = ApiRouter(include_in_schema=False)

_PLAN = TypeAdapter(PlanCreate)
PlanId = Annotated[int, Path(ge=1, le=MAX_INT)]


def _plans_page(
    request: Request,
    plans: list[Any],
    *,
    status_code: int = 200,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
) -> Response:
    return render(
        request,
        "savings/plans.html",
        status_code=status_code,
        plans=plans,
        errors=errors or {},
        values=values or EMPTY_PLAN,
        kinds=KINDS,
        money=money,
        rate=rate_label,
        lock_in=lock_in_label,
        action=PLANS,
        accounts=ACCOUNTS,
    )


def _plan_body(values: dict[str, str]) -> dict[str, object]:
    """The form as the API's body: an empty lock-in or rate left out (the schema's 0).

    The lock-in goes as an int only when it is ASCII digits ("²" is a digit to `str.isdigit`,
    and `int` refuses it): anything else goes as typed, for the schema to refuse.
    """
    body: dict[str, object] = {k: values[k] for k in ("name", "kind", "value")}
    days = values["lock_in_days"]
    if days:
        whole = days.isascii() and days.isdigit() and len(days) <= 9
        body["lock_in_days"] = int(days) if whole else days
    if values["interest_rate"]:
        body["interest_rate"] = values["interest_rate"]
    return body


@router.get(PLANS)
async def plans(request: Request, principal: Admin) -> Response:
    """Every plan, oldest first, each leading to its customers; the form for a new one."""
    return _plans_page(request, await service.list_plans(request))


@router.post(PLANS)
async def create_plan(request: Request, principal: Admin) -> Response:
    """A new plan: checked as the API checks it; a taken name is said next to the name."""
    who = signed_in(request)
    assert who is not None  # the access check ran first
    form = await read_form(request, who.csrf_token)
    values = fields(form, "name", "kind", "value", "lock_in_days", "interest_rate")
    values = {k: v.strip() for k, v in values.items()}
    shown = {k: v[:120] for k, v in values.items()}
    try:
        if values["kind"] not in dict(KINDS):
            raise FormProblems({"kind": "Choose a percentage or a flat amount."})
        plan = await service.create_plan(request, parse(_PLAN, _plan_body(values)))
    except FormProblems as problems:
        errors = problems.errors
        if "value" in errors:  # the kind is known: say what it takes
            errors["value"] = VALUE_HELP[values["kind"]]
        found = await service.list_plans(request)
        return _plans_page(request, found, status_code=422, errors=errors, values=shown)
    except DomainError as error:
        if error.status_code not in (409, 422):
            raise
        errors = field_errors(error, "name" if error.status_code == 409 else "form")
        if error.code == "plan_name_taken":
            errors = {"name": "Another plan already has this name."}
        found = await service.list_plans(request)
        return _plans_page(request, found, status_code=422, errors=errors, values=shown)
    return redirect(PLANS, notice=f"Plan {plan.name} created.")


@router.get(PLANS + "/{plan_id}")
async def plan_customers(
    request: Request,
    principal: Admin,
    plan_id: PlanId,
    offset: Annotated[int, Query(ge=0, le=MAX_INT)] = 0,
) -> Response:
    """The customers whose account is on the plan, by email, a page at a time."""
    found = await service.plan_customers(request, plan_id, limit=PAGE_SIZE, offset=offset)
    page = {
        "offset": offset,
        "limit": PAGE_SIZE,
        "total": found.total,
        "has_more": offset + len(found.items) < found.total,
    }
    here = f"{PLANS}/{plan_id}"
    return render(
        request,
        "savings/plan.html",
        found=found,
        page=page,
        money=money,
        rate=rate_label,
        lock_in=lock_in_label,
        accounts=ACCOUNTS,
        page_url=lambda o: with_query(here, {"offset": o or None}),
        export=f"{here}/customers.csv",
    )


@router.get(PLANS + "/{plan_id}/customers.csv")
async def plan_customers_csv(request: Request, principal: Admin, plan_id: PlanId) -> Response:
    """The plan's customers as CSV (the first `EXPORT_LIMIT`, by email)."""
    rows: list[tuple[str, str, str]] = []
    while len(rows) < EXPORT_LIMIT:
        found = await service.plan_customers(request, plan_id, limit=EXPORT_PAGE, offset=len(rows))
        rows += [(str(c.user_id), c.email, c.full_name) for c in found.items]
        if len(found.items) < EXPORT_PAGE:
            break
    return csv_response(f"plan-{plan_id}-customers.csv", ("user_id", "email", "full_name"), rows)
