"""The compiled statements of the expense workflow and its views (`core.db.Sql`).

Each is a SQLAlchemy statement compiled once to asyncpg's SQL; `workflow` and `views` run them
on the statement pool (`core.db.StatementPool`: autocommit, one connection per statement), or
on the connection under an ORM session. So each must be safe on its own: a read, or a write that
is one statement (data-modifying CTEs put an expense, its chain, its audit entries and the inbox
counts in one). Nothing here runs anything. tests/core/test_generic_plans.py checks every one of
them under the generic plan the pool uses.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    bindparam,
    exists,
    func,
    literal_column,
    or_,
    select,
    text,
    true,
)

from backoffice.core.db import Sql
from backoffice.expenses.models import (
    ApprovalStep,
    Expense,
    ExpenseApproval,
    ExpenseAuditEvent,
    ExpensePolicy,
    InboxCount,
)
from backoffice.expenses.rules import Scope
from backoffice.org import hierarchy


def _trail_and_inbox(source: str) -> str:
    """The CTEs both writes end with, run once per row of the CTE `source` (the expense written).

    `trail` writes the audit entries `:events` in order; `inbox` adds `:inbox`
    ([{approver_id, delta}]) to the inbox counts, locking their rows in approver order so that
    concurrent statements never deadlock on them.
    """
    return f"""
    trail AS (
        INSERT INTO expense_audit_events (
            expense_id, step_number, action, from_status, to_status, actor_account_id,
            actor_username, actor_employee_id, on_behalf_of_id, comment
        )
        SELECT {source}.id, ev.step_number, ev.action, ev.from_status, ev.to_status,
            :actor_account_id, :actor_username, :actor_employee_id, :on_behalf_of_id,
            ev.comment
        FROM {source}, ROWS FROM (
            jsonb_to_recordset(CAST(CAST(:events AS text) AS jsonb)) AS (
                action text, from_status text, to_status text, step_number int, comment text
            )
        ) WITH ORDINALITY AS ev(action, from_status, to_status, step_number, comment, n)
        ORDER BY ev.n
    ), inbox AS (
        INSERT INTO expense_inbox_counts AS c (approver_id, waiting)
        SELECT d.approver_id, d.delta
        FROM {source}, jsonb_to_recordset(CAST(CAST(:inbox AS text) AS jsonb))
            AS d(approver_id int, delta int)
        ORDER BY d.approver_id
        ON CONFLICT (approver_id) DO UPDATE SET waiting = c.waiting + excluded.waiting
    )"""  # noqa: S608 - `source` is one of our CTE names, never input


# Each write of a submission or a decision is one statement (data-modifying CTEs): the
# expense, its chain and its audit entries go in together, in one round trip. Measured on
# the load test, every statement saved is a fraction of a millisecond of driver overhead.
RECORD_SUBMISSION = Sql(
    text(
        """
    WITH e AS (
        INSERT INTO expenses (
            company_id, submitter_id, policy_id, amount, description, status, completed_at
        )
        VALUES (
            :company_id, :submitter_id, :policy_id, :amount, :description, :status,
            CASE WHEN :done THEN now() END
        )
        RETURNING id
    ), chain AS (
        INSERT INTO expense_approvals (
            expense_id, step_id, step_number, approver_id, approver_level, is_required,
            is_actionable, status, decided_at
        )
        SELECT e.id, l.step_id, l.step_number, l.approver_id, l.approver_level,
            l.is_required, l.is_actionable, :link_status, CASE WHEN :done THEN now() END
        FROM e, jsonb_to_recordset(CAST(CAST(:links AS text) AS jsonb)) AS l(
            step_id int, step_number int, approver_id int, approver_level int,
            is_required boolean, is_actionable boolean
        )
    ), """  # noqa: S608 - built from constants only
        + _trail_and_inbox("e")
        + """
    SELECT id FROM e
    """
    )
)

# A decision is read in one statement (`DECISION_INPUT`) and written in this one, which applies
# only if the expense is still at the version it was decided on: `claimed` bumps the version
# (the row lock it takes makes a concurrent decision wait, then find the version moved and
# change nothing), and every other part runs only if `claimed` did. `:steps` lists the steps
# that change (see `workflow._step_changes`). Returns 1 if applied.
RECORD_DECISION = Sql(
    text(
        """
    WITH claimed AS (
        UPDATE expenses SET version = version + 1, status = CAST(:expense_status AS text),
            completed_at = CASE WHEN CAST(:expense_status AS text) <> 'pending' THEN now() END
        WHERE id = :expense_id AND version = :version AND status = 'pending'
        RETURNING id
    ), steps AS (
        UPDATE expense_approvals AS a
        SET status = s.status, is_actionable = s.is_actionable,
            decided_at = CASE WHEN s.decided THEN now() ELSE a.decided_at END,
            comments = coalesce(s.comments, a.comments)
        FROM claimed, jsonb_to_recordset(CAST(CAST(:steps AS text) AS jsonb)) AS s(
            step_number int, status text, is_actionable boolean, decided boolean, comments text
        )
        WHERE a.expense_id = claimed.id AND a.step_number = s.step_number
    ), """  # noqa: S608 - built from constants only
        + _trail_and_inbox("claimed")
        + """
    SELECT count(*) FROM claimed
    """
    )
)


# The inbox index's predicate, spelled with a literal so that even a generic (prepared)
# plan can use that partial index.
_WAITING = (
    ExpenseApproval.status == literal_column("'pending'"),
    ExpenseApproval.is_actionable,
)


def _approver_pool(company_id: Any, team_id: Any, policy_id: Any) -> Select[tuple[Any]]:
    """Who might approve some step of the policy for a submitter of `team_id` (JSON, SQL).

    The active employees of the company at or above the policy's most junior required level,
    in a team some step can reach: the submitter's, a named one, a company-wide one, or any
    team if a step's scope is the whole company. `rules.build_chain` picks from them.
    """
    of_policy = ApprovalStep.policy_id == policy_id
    lowest = select(func.max(ApprovalStep.required_level)).where(of_policy).scalar_subquery()

    def in_scope(team: Any, company_wide: Any) -> ColumnElement[bool]:
        return or_(
            company_wide.is_(True),
            team == team_id,
            team.in_(select(ApprovalStep.scope_team_id).where(of_policy)),
            exists().where(of_policy, ApprovalStep.team_scope == Scope.COMPANY.value),
        )

    return hierarchy.candidate_pool(company_id, lowest, in_scope)


# Everything a submission reads, in one round trip: the caller (see `identity.resolve_actor`),
# the policy with its steps, and the approvers the chain can pick from when the caller submits
# for themselves (the usual case; an admin submitting for someone else reads them separately).
CLAIM = Sql(
    hierarchy.with_caller(
        select(
            ExpensePolicy.company_id,
            ExpensePolicy.is_active,
            ExpensePolicy.min_amount,
            ExpensePolicy.max_amount,
            ApprovalStep.id.label("step_id"),
            ApprovalStep.step_order,
            ApprovalStep.required_level,
            ApprovalStep.team_scope,
            ApprovalStep.scope_team_id,
            ApprovalStep.is_required,
        )
        .outerjoin(ApprovalStep, ApprovalStep.policy_id == ExpensePolicy.id)
        .where(ExpensePolicy.id == bindparam("policy_id")),
        "step_order",
        beside=_approver_pool(
            hierarchy.CALLER.company_id, hierarchy.CALLER.team_id, bindparam("policy_id")
        ),
    )
)
APPROVER_POOL = Sql(
    _approver_pool(bindparam("company_id"), bindparam("team_id"), bindparam("policy_id"))
)
# What a decision needs, in one statement (one round trip, one snapshot): the caller, the
# expense with its version and its chain (outer join: an expense with no chain gives one row).
DECISION_INPUT = Sql(
    hierarchy.with_caller(
        select(
            Expense.company_id,
            Expense.status.label("expense_status"),
            Expense.version,
            ExpenseApproval.step_number,
            ExpenseApproval.approver_id,
            ExpenseApproval.is_required,
            ExpenseApproval.status.label("step_status"),
        )
        .outerjoin(ExpenseApproval, ExpenseApproval.expense_id == Expense.id)
        .where(Expense.id == bindparam("expense_id")),
        "step_number",
    )
)
# The caller, the expense and its chain in one statement (one round trip, one snapshot): an
# outer join, so an expense with no chain still gives its one row.
EXPENSE_WITH_CHAIN = Sql(
    hierarchy.with_caller(
        select(
            Expense.id,
            Expense.company_id,
            Expense.submitter_id,
            Expense.amount,
            Expense.description,
            Expense.status,
            Expense.submitted_at,
            Expense.completed_at,
            ExpensePolicy.name.label("policy_name"),
            hierarchy.full_name_of(Expense.submitter_id).label("user_name"),
            ExpenseApproval.step_number,
            ExpenseApproval.approver_id,
            ExpenseApproval.approver_level,
            ExpenseApproval.status.label("step_status"),
            ExpenseApproval.decided_at,
            ExpenseApproval.comments,
            ExpenseApproval.is_required,
            hierarchy.full_name_of(ExpenseApproval.approver_id).label("approver_name"),
            hierarchy.level_name_of(
                ExpenseApproval.approver_id, ExpenseApproval.approver_level
            ).label("approver_level_name"),
        )
        .join(ExpensePolicy, ExpensePolicy.id == Expense.policy_id)
        .outerjoin(ExpenseApproval, ExpenseApproval.expense_id == Expense.id)
        .where(Expense.id == bindparam("expense_id")),
        "step_number",
    )
)


def _inbox_items(approver_id: Any) -> Select[*tuple[Any, ...]]:
    """Steps waiting for `approver_id` now (no earlier required step pending), oldest first.

    The page is cut from the partial inbox index first, then each of its rows looks up its
    expense: 20 primary-key lookups, never a join planned over the whole inbox.
    """
    page = (
        select(ExpenseApproval.expense_id, ExpenseApproval.step_number, ExpenseApproval.is_required)
        .where(ExpenseApproval.approver_id == approver_id, *_WAITING)
        # approver_id first (one value here): only the inbox index has this order, so the
        # planner never walks every chain in (expense, step) order filtering for the approver.
        .order_by(
            ExpenseApproval.approver_id, ExpenseApproval.expense_id, ExpenseApproval.step_number
        )
        .limit(bindparam("limit"))
        .offset(bindparam("offset"))
        .subquery("page")
    )
    # LIMIT 1 (at most one expense per id anyway) keeps this lookup a subquery run per page
    # row. Merged into a plain join, a generic plan (the one a prepared statement settles on),
    # which cannot know the page size and guesses a tenth of the inbox, may hash- or merge-join
    # the page with every expense: a full read that grows with the table.
    expense = (
        select(
            Expense.submitter_id,
            hierarchy.full_name_of(Expense.submitter_id).label("user_name"),
            Expense.policy_id,
            ExpensePolicy.name.label("policy_name"),
            Expense.amount,
            Expense.description,
            Expense.submitted_at,
        )
        .join(ExpensePolicy, ExpensePolicy.id == Expense.policy_id)
        .where(Expense.id == page.c.expense_id)
        .limit(1)
        .lateral("expense")
    )
    return (
        select(page.c.expense_id, page.c.step_number, page.c.is_required, *expense.c)
        .select_from(page.join(expense, true()))
        .order_by(page.c.expense_id, page.c.step_number)
    )


def _inbox_total(approver_id: Any) -> Select[int]:
    return select(InboxCount.waiting.label("total")).where(InboxCount.approver_id == approver_id)


# The caller's own inbox: who they are, the page and the total (kept in `expense_inbox_counts`),
# in one round trip.
MY_INBOX = Sql(
    hierarchy.with_caller(
        # The approver as a scalar subquery of its own (run once, first): the index scan then
        # starts right at their range. (Joined to the caller instead, the planner may walk the
        # inbox index from the first approver on.)
        _inbox_items(hierarchy.employee_of_account(bindparam("account_id"))),
        "expense_id",
        "step_number",
        beside=_inbox_total(hierarchy.CALLER.id),
    )
)
# Someone else's inbox (an admin naming `approver_id`) and its total.
INBOX_ITEMS = Sql(_inbox_items(bindparam("approver_id")))
INBOX_TOTAL = Sql(_inbox_total(bindparam("approver_id")))
# The audit trail of an expense, oldest first (who may see it: `EXPENSE_WITH_CHAIN`).
AUDIT_EVENTS = Sql(
    select(
        ExpenseAuditEvent.id,
        ExpenseAuditEvent.step_number,
        ExpenseAuditEvent.action,
        ExpenseAuditEvent.from_status,
        ExpenseAuditEvent.to_status,
        ExpenseAuditEvent.actor_username,
        ExpenseAuditEvent.actor_employee_id,
        ExpenseAuditEvent.on_behalf_of_id,
        ExpenseAuditEvent.comment,
        ExpenseAuditEvent.created_at,
    )
    .where(ExpenseAuditEvent.expense_id == bindparam("expense_id"))
    .order_by(ExpenseAuditEvent.id)
)
