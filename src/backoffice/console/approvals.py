"""Approvals, the inbox: what waits for my decision, decided one by one or approved in bulk.

Everything goes through the expenses context: who the signed-in login is as an employee
(`identity`), the inbox (`views.inbox`, the API's `GET /api/approvals/pending`) and the
decisions (`workflow.approve` / `workflow.reject`, the API's own). The context decides who may
do what (`expenses.capabilities`); this module only shows it: a login linked to no employee
gets a page saying why, and its posts are refused (`Employee`, a 403).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from fastapi import Depends, Query
from starlette.requests import Request
from starlette.responses import Response

from backoffice.console.access import ACCESS_CHECKS, Access, Staff, signed_in
from backoffice.console.web import (
    FieldProblem,
    field_errors,
    read_form,
    redirect,
    render,
    text_field,
    with_query,
)
from backoffice.core.auth.service import Principal
from backoffice.core.db import DbSession, StatementPool, driver_of
from backoffice.core.errors import DomainError, Forbidden
from backoffice.core.pagination import PageParams
from backoffice.core.routing import ApiRouter
from backoffice.core.types import IdParam
from backoffice.expenses import identity, views, workflow
from backoffice.expenses.identity import Actor
from backoffice.expenses.rules import ExpenseStatus
from backoffice.expenses.schemas import DecisionCreate, InboxPage, RejectionCreate

router = ApiRouter(include_in_schema=False)

INBOX = "/console/approvals/"
PAGE_SIZE = 25
MAX_OFFSET = 1_000_000
MAX_COMMENT = 2000  # the API's bound on a decision's comment
MAX_BULK = 100  # expenses approved by one bulk form at most

Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET, description="Rows to skip")]

# What an error of the expenses context means, said plainly (its own message otherwise).
PLAIN: dict[str, str] = {
    "step_out_of_order": "An earlier approver has not decided yet: it reaches you after them.",
    "step_already_decided": "You have already decided your step of this expense.",
    "not_designated_approver": "You are not an approver of this expense.",
    "expense_not_found": "There is no such expense, or it is not yours to see.",
    "concurrent_decision": (
        "Someone decided this expense at the same moment. Reload the page and try again."
    ),
    "no_linked_employee": (
        "Your login is not linked to an employee, so it cannot submit or decide expenses."
    ),
    "policy_not_found": "Choose one of the policies listed.",
}


def plain(error: DomainError) -> str:
    """An expense error in plain words, for a person rather than a program."""
    if error.code == "expense_already_decided":
        return f"{error.message}: nothing is left to decide."
    return PLAIN.get(error.code, error.message)


def money(amount: Decimal | float | int) -> str:
    """An amount as the pages show it: 4,000.00."""
    return f"{Decimal(str(amount)):,.2f}"


def when(moment: datetime | None) -> str:
    """A time as the pages show it, in UTC to the minute ('' for none)."""
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment is not None else ""


STATUS_BADGE = {
    "pending": "wait",
    "approved": "ok",
    "rejected": "bad",
    "cancelled": "",
    "skipped": "",
}


def shown(**values: Any) -> dict[str, Any]:
    """The helpers every approvals template uses, with the page's own `values`."""
    return {"money": money, "when": when, "badge": STATUS_BADGE, **values}


async def actor_of(principal: Staff, session: DbSession) -> Actor:
    """The signed-in login as the expenses context sees it: its employee and capabilities."""
    return await identity.session_actor(session, principal)


StaffActor = Annotated[Actor, Depends(actor_of)]


async def employee(actor: StaffActor) -> Actor:
    """A login linked to an employee: the only kind that submits and decides as itself."""
    if actor.employee is None:
        raise Forbidden(PLAIN["no_linked_employee"])
    return actor


ACCESS_CHECKS[employee] = Access.EMPLOYEE
Employee = Annotated[Actor, Depends(employee)]


def csrf_of(request: Request) -> str:
    """The CSRF token of the signed-in visitor (the access checks ran first)."""
    who = signed_in(request)
    return who.csrf_token if who is not None else ""


def unlinked_page(request: Request, actor: Actor, heading: str) -> Response:
    """A login linked to no employee: what it cannot do here, and why."""
    return render(
        request,
        "approvals/unlinked.html",
        heading=heading,
        may_read_all=actor.capabilities.may_read_all,
    )


# --- the inbox -----------------------------------------------------------------------------


async def _inbox(session: DbSession, principal: Principal, offset: int) -> InboxPage:
    page = PageParams(limit=PAGE_SIZE, offset=offset)
    return await views.inbox(await driver_of(session), principal, page)


async def inbox_page(
    request: Request,
    actor: Actor,
    session: DbSession,
    *,
    offset: int = 0,
    errors: dict[str, str] | None = None,
    comments: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    """The inbox, with `errors` next to their rows and the `comments` typed kept."""
    if actor.employee is None:
        return unlinked_page(request, actor, "Approvals inbox")
    caps = actor.capabilities
    inbox = await _inbox(session, actor.principal, offset) if caps.may_approve else None
    return render(
        request,
        "approvals/inbox.html",
        status_code=status_code,
        **shown(
            inbox=inbox,
            may_approve=caps.may_approve,
            errors=errors or {},
            comments=comments or {},
            page_url=lambda at: with_query(INBOX, {"offset": at or None}),
        ),
    )


@router.get(INBOX)
async def inbox(
    request: Request, actor: StaffActor, session: DbSession, offset: Offset = 0
) -> Response:
    """My pending approvals: the steps waiting for my decision now, oldest expense first."""
    return await inbox_page(request, actor, session, offset=offset)


def _decision_failed(expense_id: int, error: DomainError) -> dict[str, str]:
    said = plain(error)
    return {"form": f"Expense {expense_id} was not decided: {said}", f"row-{expense_id}": said}


async def _decide(
    request: Request,
    expense_id: int,
    actor: Actor,
    session: DbSession,
    decide: Callable[[int, str], Awaitable[str]],
    *,
    keep_as_typed: bool,
) -> Response:
    """Read the expense's comment, `decide` with it (its notice back), or the inbox with why not.

    When the decision fails, the comment field holds again the comment as typed (cut to its
    bound) with `keep_as_typed`, else as read ('' when it could not be read).
    """
    form = await read_form(request, csrf_of(request))
    assert actor.employee is not None
    field = f"comment-{expense_id}"
    typed = form.get(field)
    comment = ""
    try:
        comment = text_field(form, field, max_length=MAX_COMMENT)
        notice = await decide(actor.employee.employee_id, comment)
    except DomainError as error:
        as_typed = typed[:MAX_COMMENT] if isinstance(typed, str) else ""
        return await inbox_page(
            request,
            actor,
            session,
            errors=_row_errors(expense_id, error),
            comments={field: as_typed if keep_as_typed else comment},
            status_code=error.status_code,
        )
    return redirect(INBOX, notice=notice)


@router.post("/console/approvals/{expense_id}/approve")
async def approve(
    request: Request,
    expense_id: IdParam,
    actor: Employee,
    session: DbSession,
    conn: StatementPool,
) -> Response:
    """Approve my step of the expense (an optional comment)."""

    async def decide(approver_id: int, comment: str) -> str:
        decision = DecisionCreate(
            expense_id=expense_id, approver_id=approver_id, comments=comment or None
        )
        done = await workflow.approve(conn, actor.principal, decision)
        if done.expense_status is ExpenseStatus.APPROVED:
            return f"Expense {expense_id} approved: it is now fully approved."
        return f"Expense {expense_id}: your step {done.step_approved} is approved; it moves on."

    return await _decide(request, expense_id, actor, session, decide, keep_as_typed=True)


def _row_errors(expense_id: int, error: DomainError) -> dict[str, str]:
    """A decision's error: next to its comment field when that is at fault, else on its row."""
    fields = field_errors(error)
    field = f"comment-{expense_id}"
    if field in fields:
        return {field: fields[field]}
    return _decision_failed(expense_id, error)


@router.post("/console/approvals/{expense_id}/reject")
async def reject(
    request: Request,
    expense_id: IdParam,
    actor: Employee,
    session: DbSession,
    conn: StatementPool,
) -> Response:
    """Reject the expense at my step: a comment saying why is required."""

    async def decide(approver_id: int, comment: str) -> str:
        if not comment:
            raise FieldProblem(
                f"comment-{expense_id}", "Write why you reject it: a comment is required to reject."
            )
        rejection = RejectionCreate(
            expense_id=expense_id, approver_id=approver_id, comments=comment
        )
        await workflow.reject(conn, actor.principal, rejection)
        return f"Expense {expense_id} rejected."

    return await _decide(request, expense_id, actor, session, decide, keep_as_typed=False)


# --- bulk approve ----------------------------------------------------------------------------


def _chosen(values: list[Any]) -> list[int] | None:
    """The expense ids ticked, in order, once each (None: one is not an id)."""
    ids: list[int] = []
    for value in values:
        # isascii: "²" is a digit to isdigit() and not to int().
        if (
            not isinstance(value, str)
            or not (value.isascii() and value.isdigit())
            or len(value) > 10
        ):
            return None
        number = int(value)
        if not 1 <= number <= 2**31 - 1:
            return None
        if number not in ids:
            ids.append(number)
    return ids


@router.post("/console/approvals/bulk-approve")
async def bulk_approve(
    request: Request,
    actor: Employee,
    session: DbSession,
    conn: StatementPool,
) -> Response:
    """Approve every ticked expense, each on its own; then each one's result.

    Each approval is its own decision, as if approved one by one: one that fails (decided
    meanwhile, not yet my turn) leaves the others approved, and the page says which and why.
    """
    form = await read_form(request, csrf_of(request))
    assert actor.employee is not None
    ids = _chosen(form.getlist("expense_id"))
    problem = None
    if ids is None:
        problem = "Tick the expenses to approve in the list below."
    elif not ids:
        problem = "Tick at least one expense to approve."
    elif len(ids) > MAX_BULK:
        problem = f"Approve at most {MAX_BULK} expenses at once."
    if problem is not None or ids is None:
        return await inbox_page(
            request, actor, session, errors={"expense_id": problem or ""}, status_code=422
        )
    results = []
    for expense_id in ids:
        decision = DecisionCreate(expense_id=expense_id, approver_id=actor.employee.employee_id)
        try:
            done = await workflow.approve(conn, actor.principal, decision)
        except DomainError as error:
            results.append({"expense_id": expense_id, "approved": False, "why": plain(error)})
            continue
        fully = done.expense_status is ExpenseStatus.APPROVED
        outcome = "fully approved" if fully else f"step {done.step_approved} approved; it moves on"
        results.append({"expense_id": expense_id, "approved": True, "why": outcome})
    approved = sum(1 for r in results if r["approved"])
    return render(
        request,
        "approvals/bulk_result.html",
        results=results,
        approved=approved,
        failed=len(results) - approved,
    )
