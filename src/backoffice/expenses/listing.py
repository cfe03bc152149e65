"""The expense list (`GET /api/expenses`), on the request's ORM session.

A filtered, paginated ORM query; whom an admin names is checked by `identity` in the same
session's transaction.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from backoffice.core.pagination import PageParams, paginate_rows
from backoffice.expenses.errors import NoLinkedEmployee
from backoffice.expenses.identity import Actor, act_as_in_session
from backoffice.expenses.models import Expense, ExpensePolicy
from backoffice.expenses.rules import ExpenseStatus
from backoffice.expenses.schemas import ExpensePage, ExpenseRead


async def list_expenses(
    session: AsyncSession,
    actor: Actor,
    page: PageParams,
    *,
    status: ExpenseStatus | None = None,
    user_id: int | None = None,
) -> ExpensePage:
    """The caller's expenses (or `user_id`'s, for an admin), newest first."""
    statement = select(
        Expense.id,
        Expense.submitter_id,
        Expense.policy_id,
        ExpensePolicy.name.label("policy_name"),
        Expense.amount,
        Expense.description,
        Expense.status,
        Expense.submitted_at,
        Expense.completed_at,
    ).join(ExpensePolicy, ExpensePolicy.id == Expense.policy_id)
    conditions: list[ColumnElement[bool]] = []
    if user_id is not None:
        submitter = await act_as_in_session(session, actor, user_id, "user_id")
        conditions.append(Expense.submitter_id == submitter.employee_id)
    elif actor.employee is not None:
        conditions.append(Expense.submitter_id == actor.employee.employee_id)
    elif not actor.capabilities.may_act_for_others:
        raise NoLinkedEmployee()
    if status is not None:
        conditions.append(Expense.status == status.value)
    statement = statement.where(*conditions)
    # Every expense has its policy: the total needs no join.
    counted = select(func.count()).select_from(Expense).where(*conditions)
    rows, info = await paginate_rows(session, statement, page, [Expense.id.desc()], counted=counted)
    return ExpensePage(
        items=[
            ExpenseRead(
                id=e.id,
                user_id=e.submitter_id,
                policy_id=e.policy_id,
                policy_name=e.policy_name,
                amount=e.amount,
                description=e.description,
                status=ExpenseStatus(e.status),
                submitted_at=e.submitted_at,
                completed_at=e.completed_at,
            )
            for e in rows
        ],
        pagination=info,
    )
