"""Approvals, my expenses: the list, each expense's page, and the submit form.

The list is paginated and exported as CSV; an expense's page shows its chain as a timeline
and its audit trail; the submit form shows the chain of approvers before sending.

The list is the API's `GET /api/expenses` (`listing.list_expenses`), an expense its status and
audit trail (`views`), the form's chain `workflow.preview_chain` (the same checks and chain as
a submission, writing nothing) and the submission `workflow.submit_expense`.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from fastapi import Query
from pydantic import ValidationError
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from backoffice.console.approvals import (
    PAGE_SIZE,
    Employee,
    Offset,
    StaffActor,
    csrf_of,
    plain,
    shown,
    unlinked_page,
)
from backoffice.console.web import (
    FieldProblem,
    csv_response,
    field_errors,
    read_form,
    redirect,
    render,
    text_field,
    with_query,
)
from backoffice.core.db import DbSession, StatementPool, driver_of
from backoffice.core.errors import DomainError
from backoffice.core.money import MAX_MONEY
from backoffice.core.pagination import MAX_LIMIT, PageParams
from backoffice.core.routing import ApiRouter
from backoffice.core.types import IdParam
from backoffice.expenses import listing, policies, views, workflow
from backoffice.expenses.identity import Actor
from backoffice.expenses.rules import ExpenseStatus, range_text
from backoffice.expenses.schemas import ExpenseCreate, RequiredApproval

router = ApiRouter(include_in_schema=False)

EXPENSES = "/console/approvals/expenses"
SUBMIT = "/console/approvals/submit"
MAX_EXPORT = 1000  # rows in one CSV export
MAX_DESCRIPTION = 2000  # the API's bound
MAX_POLICIES = 200  # policies offered in the picker (a company has a handful)

StatusFilter = Annotated[ExpenseStatus | None, Query(description="Only this status")]


@router.get(EXPENSES)
async def my_expenses(
    request: Request,
    actor: StaffActor,
    session: DbSession,
    status: StatusFilter = None,
    offset: Offset = 0,
) -> Response:
    """My expenses, newest first, filtered by status."""
    if actor.employee is None:
        return unlinked_page(request, actor, "My expenses")
    found = await listing.list_expenses(
        session, actor, PageParams(limit=PAGE_SIZE, offset=offset), status=status
    )
    chosen = status.value if status is not None else ""

    def page_url(at: int) -> str:
        return with_query(EXPENSES, {"status": chosen, "offset": at or None})

    return render(
        request,
        "approvals/expenses.html",
        **shown(
            expenses=found,
            status=chosen,
            statuses=[("", "Any status"), *((s.value, s.value.title()) for s in ExpenseStatus)],
            page_url=page_url,
            csv_url=with_query(f"{EXPENSES}.csv", {"status": chosen}),
            errors={},
        ),
    )


@router.get(f"{EXPENSES}.csv")
async def my_expenses_csv(
    request: Request, actor: StaffActor, session: DbSession, status: StatusFilter = None
) -> Response:
    """My expenses with the list's filter as CSV (the newest `MAX_EXPORT`)."""
    if actor.employee is None:
        return unlinked_page(request, actor, "My expenses")
    rows: list[list[Any]] = []
    while len(rows) < MAX_EXPORT:
        page = PageParams(limit=min(MAX_LIMIT, MAX_EXPORT - len(rows)), offset=len(rows))
        found = await listing.list_expenses(session, actor, page, status=status)
        rows += [
            [
                e.id,
                e.policy_name,
                f"{e.amount:.2f}",
                e.description,
                e.status.value,
                e.submitted_at.isoformat(),
                e.completed_at.isoformat() if e.completed_at else "",
            ]
            for e in found.items
        ]
        if not found.pagination.has_more:
            break
    header = ["id", "policy", "amount", "description", "status", "submitted_at", "completed_at"]
    return csv_response("my-expenses.csv", header, rows)


@router.get(f"{EXPENSES}/{{expense_id}}")
async def expense_page(
    request: Request, expense_id: IdParam, actor: StaffActor, session: DbSession
) -> Response:
    """An expense: its chain as a timeline, and its audit trail.

    Seen by its submitter, its approvers, and admins and managers of its company (`views`);
    anyone else gets "not found".
    """
    conn = await driver_of(session)
    expense = await views.expense_status(conn, actor.principal, expense_id)
    trail = await views.audit_trail(session, actor.principal, expense_id)
    return render(request, "approvals/expense.html", **shown(expense=expense, trail=trail))


# --- the submit form -----------------------------------------------------------------------


async def _policy_options(session: DbSession, actor: Actor) -> list[tuple[str, str]]:
    """The active policies of my company, as (id, "name (category, range)")."""
    found, _ = await policies.list_policies(
        session, actor, PageParams(limit=MAX_POLICIES), is_active=True
    )
    return [
        (str(p.id), f"{p.name} ({p.category}, {range_text(p.min_amount, p.max_amount)})")
        for p, _ in found
    ]


async def _submit_page(
    request: Request,
    actor: Actor,
    session: DbSession,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    chain: list[RequiredApproval] | None = None,
    status_code: int = 200,
) -> Response:
    if actor.employee is None or not actor.capabilities.may_submit:
        return unlinked_page(request, actor, "Submit an expense")
    return render(
        request,
        "approvals/submit.html",
        status_code=status_code,
        **shown(
            problem="",
            policies=[("", "Choose a policy"), *await _policy_options(session, actor)],
            values=values or {"policy_id": "", "amount": "", "description": ""},
            errors=errors or {},
            chain=chain,
        ),
    )


@router.get(SUBMIT)
async def submit_form(request: Request, actor: StaffActor, session: DbSession) -> Response:
    """The submit form: a policy, an amount, a description; the chain shown before sending."""
    return await _submit_page(request, actor, session)


def _amount(text: str) -> Decimal:
    """The amount typed, as money: positive, at most two decimals (a `FieldProblem` if not)."""
    if not text:
        raise FieldProblem("amount", "Enter the amount, e.g. 4000.00.")
    try:
        amount = Decimal(text.replace(",", ""))
    except InvalidOperation:
        raise FieldProblem("amount", "Enter the amount as a number, e.g. 4000.00.") from None
    if not amount.is_finite() or amount <= 0:
        raise FieldProblem("amount", "The amount must be more than zero.")
    if amount.as_tuple().exponent < -2:  # type: ignore[operator]
        raise FieldProblem("amount", "Use at most two decimals (cents).")
    if amount > MAX_MONEY:
        raise FieldProblem("amount", f"The amount must be at most {MAX_MONEY:,}.")
    return amount.quantize(Decimal("0.01"))


def _policy_id(text: str) -> int:
    if not text:
        raise FieldProblem("policy_id", "Choose a policy.")
    # isascii: "²" is a digit to isdigit() and not to int().
    if not (text.isascii() and text.isdigit()) or len(text) > 10 or not 1 <= int(text) <= 2**31 - 1:
        raise FieldProblem("policy_id", "Choose one of the policies listed.")
    return int(text)


def _read_claim(form: FormData) -> tuple[dict[str, str], dict[str, str]]:
    """The fields typed (kept to show again) and what is wrong with each, if anything."""
    values: dict[str, str] = {}
    errors: dict[str, str] = {}
    for name, bound in (("policy_id", 20), ("amount", 40), ("description", MAX_DESCRIPTION)):
        try:
            values[name] = text_field(form, name, max_length=bound)
        except FieldProblem as problem:
            values[name] = ""
            errors[name] = problem.message
    for name, check in (("policy_id", _policy_id), ("amount", _amount)):
        if name not in errors:
            try:
                check(values[name])
            except FieldProblem as problem:
                errors[name] = problem.message
    return values, errors


# Where a refusal of the expenses context is drawn: next to the field it is about.
_FIELD_OF = {
    "amount_outside_policy": "amount",
    "policy_not_found": "policy_id",
    "no_approver_for_step": "policy_id",
    "expense_refused": "policy_id",
}


def _refusal(error: DomainError) -> dict[str, str]:
    fields = field_errors(error, _FIELD_OF.get(error.code, "form"))
    said = plain(error)
    return {("policy_id" if f == "user_id" else f): said for f in fields} or {"form": said}


def _claim(user_id: int, policy_id: int, amount: Decimal, description: str) -> ExpenseCreate:
    """The claim as the API takes it; a description it refuses is a field problem."""
    try:
        return ExpenseCreate(
            user_id=user_id, policy_id=policy_id, amount=amount, description=description
        )
    except ValidationError as invalid:
        raise FieldProblem(
            "description", "Use plain text: letters, digits, punctuation and line breaks."
        ) from invalid


@router.get(f"{SUBMIT}/chain")
async def chain_part(
    request: Request,
    actor: Employee,
    conn: StatementPool,
    policy_id: Annotated[str, Query(max_length=20)] = "",
    amount: Annotated[str, Query(max_length=40)] = "",
) -> Response:
    """The submit form's chain of approvers alone, for the form's script to update in place.

    The same as the "Preview approvers" button, for the policy and amount typed so far; what
    is wrong with them is said in its place.
    """
    chain: list[RequiredApproval] | None = None
    problem = ""
    try:
        if policy_id.strip() and amount.strip():
            chain = await workflow.preview_chain(
                conn, actor.principal, _policy_id(policy_id.strip()), _amount(amount.strip())
            )
    except DomainError as error:
        problem = plain(error)
    return render(request, "approvals/submit.html", block="chain", chain=chain, problem=problem)


@router.post(SUBMIT)
async def submit(
    request: Request, actor: Employee, session: DbSession, conn: StatementPool
) -> Response:
    """Preview the chain (`action=preview`) or submit the claim; nothing is written on error."""
    form = await read_form(request, csrf_of(request))
    assert actor.employee is not None
    values, errors = _read_claim(form)
    preview = form.get("action") == "preview"
    if not preview and not values["description"] and "description" not in errors:
        errors["description"] = "Say what the expense is for."
    if errors:
        return await _submit_page(
            request, actor, session, values=values, errors=errors, status_code=422
        )
    policy_id, amount = _policy_id(values["policy_id"]), _amount(values["amount"])
    try:
        if preview:
            chain = await workflow.preview_chain(conn, actor.principal, policy_id, amount)
            return await _submit_page(request, actor, session, values=values, chain=chain)
        data = _claim(actor.employee.employee_id, policy_id, amount, values["description"])
        created = await workflow.submit_expense(conn, actor.principal, data)
    except DomainError as error:
        return await _submit_page(
            request,
            actor,
            session,
            values=values,
            errors=_refusal(error),
            status_code=error.status_code,
        )
    first = created.approvals_required[0].approver if created.approvals_required else None
    waits = f"; it waits for {first}'s approval" if first and created.status == "pending" else ""
    notice = f"Expense {created.expense_id} submitted ({created.status.value}){waits}."
    return redirect(f"{EXPENSES}/{created.expense_id}", notice=notice)
