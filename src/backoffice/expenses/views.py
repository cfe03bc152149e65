"""What the expense endpoints read: an expense's status and audit trail, an approver's inbox.

Runs only compiled statements (`statements`) on a `Driver`: the statement pool for status and
inbox, the connection under the request's session for the audit trail. Isolation: an expense
is visible to its submitter, the approvers in its chain, and admins or managers of its company;
anyone else gets "not found", which confirms nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from backoffice.core.auth.service import Principal
from backoffice.core.db import Driver, driver_of
from backoffice.core.pagination import PageParams, page_info
from backoffice.expenses import statements
from backoffice.expenses.errors import ExpenseNotFound, NoLinkedEmployee
from backoffice.expenses.identity import Actor, act_as, resolve_actor
from backoffice.expenses.rules import ExpenseStatus, StepStatus
from backoffice.expenses.schemas import (
    ApprovalStatusRead,
    AuditEventRead,
    AuditTrailRead,
    ExpenseStatusRead,
    InboxItemRead,
    InboxPage,
)
from backoffice.org import hierarchy
from backoffice.org.hierarchy import Placement


@dataclass(frozen=True, slots=True)
class _Link:
    """One step of an expense's chain as the status endpoint shows it."""

    step_number: int
    approver_id: int
    approver_level: int
    status: str
    decided_at: datetime | None
    comments: str | None
    is_required: bool
    approver_name: str | None
    approver_level_name: str | None


@dataclass(frozen=True, slots=True)
class _Chain:
    """An expense as the caller may see it, with its chain and the names to show."""

    expense: Any  # a driver record of `statements.EXPENSE_WITH_CHAIN`
    links: list[_Link]


async def _viewable_expense(conn: Driver, principal: Principal, expense_id: int) -> _Chain:
    """The expense and its chain, if the caller may see them.

    The submitter, the approvers in its chain and admins or managers of its company may;
    anyone else gets "not found", which confirms nothing.
    """
    rows = await statements.EXPENSE_WITH_CHAIN.fetch(
        conn, account_id=principal.account_id, expense_id=expense_id
    )
    caller, found = hierarchy.split_caller(rows, "id")
    actor = Actor(principal, caller)
    expense = found[0] if found else None
    if expense is None or not actor.sees(expense["company_id"]):
        raise ExpenseNotFound(f"Expense {expense_id} not found")
    links = [
        _Link(
            r["step_number"],
            r["approver_id"],
            r["approver_level"],
            r["step_status"],
            r["decided_at"],
            r["comments"],
            r["is_required"],
            r["approver_name"],
            r["approver_level_name"],
        )
        for r in found
        if r["step_number"] is not None
    ]
    involved = {expense["submitter_id"], *(link.approver_id for link in links)}
    if not actor.capabilities.may_read_all and actor.employee_id not in involved:
        raise ExpenseNotFound(f"Expense {expense_id} not found")
    return _Chain(expense, links)


async def expense_status(conn: Driver, principal: Principal, expense_id: int) -> ExpenseStatusRead:
    """The expense with its chain, as the seed's status endpoint shows it."""
    found = await _viewable_expense(conn, principal, expense_id)
    e = found.expense
    return ExpenseStatusRead(
        id=e["id"],
        amount=e["amount"],
        description=e["description"],
        status=ExpenseStatus(e["status"]),
        submitted_at=e["submitted_at"],
        completed_at=e["completed_at"],
        user_name=e["user_name"] or "",
        policy_name=e["policy_name"],
        approvals=[
            ApprovalStatusRead(
                step_number=a.step_number,
                approver_name=a.approver_name or "",
                approver_level=a.approver_level_name or "",
                approver_level_number=a.approver_level,
                status=StepStatus(a.status),
                approved_at=a.decided_at,
                comments=a.comments,
                required=a.is_required,
            )
            for a in found.links
        ],
    )


async def audit_trail(
    session: AsyncSession, principal: Principal, expense_id: int
) -> AuditTrailRead:
    """Every state change of the expense, oldest first."""
    conn = await driver_of(session)
    await _viewable_expense(conn, principal, expense_id)
    events = await statements.AUDIT_EVENTS.fetch(conn, expense_id=expense_id)
    return AuditTrailRead(
        expense_id=expense_id, events=[AuditEventRead.model_validate(dict(e)) for e in events]
    )


async def inbox(
    conn: Driver, principal: Principal, page: PageParams, *, approver_id: int | None = None
) -> InboxPage:
    """Steps waiting for the approver's decision now, oldest expense first."""
    params = {"limit": page.limit, "offset": page.offset}
    approver: Placement | None
    if approver_id is None:
        rows = await statements.MY_INBOX.fetch(conn, account_id=principal.account_id, **params)
        approver, items = hierarchy.split_caller(rows, "expense_id")
        if approver is None:
            raise NoLinkedEmployee()
        total = rows[0]["total"]
    else:
        actor = await resolve_actor(conn, principal)
        approver = await act_as(conn, actor, approver_id, "approver_id")
        items = await statements.INBOX_ITEMS.fetch(conn, approver_id=approver.employee_id, **params)
        total = await statements.INBOX_TOTAL.fetchval(conn, approver_id=approver.employee_id)
    total = total or 0  # no row yet: nothing ever waited for this approver
    info = page_info(page, len(items), total)
    return InboxPage(
        approver_id=approver.employee_id,
        items=[
            InboxItemRead(
                expense_id=r["expense_id"],
                step_number=r["step_number"],
                required=r["is_required"],
                user_id=r["submitter_id"],
                user_name=r["user_name"] or "",
                policy_id=r["policy_id"],
                policy_name=r["policy_name"],
                amount=r["amount"],
                description=r["description"],
                submitted_at=r["submitted_at"],
            )
            for r in items
        ],
        pagination=info,
    )
