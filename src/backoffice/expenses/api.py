"""HTTP API of expense approvals.

`/api/expenses` and `/api/approvals` keep the seed's unwrapped JSON and `{"detail", "code"}`
errors; the policy and step administration lives under `/api/v1` in the envelope.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from fastapi import Query
from sqlalchemy.ext.asyncio import AsyncSession

from backoffice.core.auth.dependencies import CanCreate, CanDelete, CanRead, CanUpdate, CurrentUser
from backoffice.core.auth.service import Principal
from backoffice.core.contexts import Context, Routes
from backoffice.core.db import AutocommitSession, DbSession, StatementPool
from backoffice.core.envelope import Envelope, ErrorStyle, ok
from backoffice.core.errors import (
    Conflict,
    Forbidden,
    NotFound,
    Unauthorized,
    ValidationFailed,
    error_responses,
)
from backoffice.core.openapi import rules_beyond_schema
from backoffice.core.pagination import Pagination
from backoffice.core.routing import ApiRouter
from backoffice.core.types import FlagParam, IdParam
from backoffice.expenses import identity, listing, policies, views, workflow
from backoffice.expenses.errors import AmountOutsidePolicy
from backoffice.expenses.models import ApprovalStep, ExpensePolicy
from backoffice.expenses.rules import ExpenseStatus
from backoffice.expenses.schemas import (
    ApprovalSubmitted,
    AuditTrailRead,
    DecisionCreate,
    ExpenseCreate,
    ExpenseCreated,
    ExpensePage,
    ExpenseStatusRead,
    InboxPage,
    PolicyCreate,
    PolicyRead,
    PolicyUpdate,
    RejectionCreate,
    RejectionSubmitted,
    StepCreate,
    StepRead,
    StepUpdate,
)

router = ApiRouter(tags=["expenses"])
admin_router = ApiRouter(prefix="/api/v1", tags=["expense policies"])


_DECISION_ERRORS = error_responses(Unauthorized, Forbidden, NotFound, Conflict, ValidationFailed)


@router.post(
    "/api/expenses",
    status_code=201,
    response_model=ExpenseCreated,
    responses=error_responses(
        AmountOutsidePolicy, Unauthorized, Forbidden, NotFound, ValidationFailed
    ),
    summary="Submit an expense; its approval chain is fixed now",
    openapi_extra=rules_beyond_schema(
        ("amount within the policy's min_amount and max_amount", 400),
        "the policy must be active and of the employee's company",
        "the policy has approval steps, and an approver exists for every required step",
    ),
)
async def submit_expense(
    data: ExpenseCreate, conn: StatementPool, principal: CurrentUser
) -> ExpenseCreated:
    """`user_id` must be the caller's employee (an admin may submit for anyone)."""
    # Autocommit: the checks only read, and the expense, its chain and its audit entries are
    # written by one statement (see workflow.submit_expense), atomic on its own.
    return await workflow.submit_expense(conn, principal, data)


@router.post(
    "/api/expenses/approve",
    response_model=ApprovalSubmitted,
    responses=_DECISION_ERRORS,
    summary="Approve your pending step of an expense",
)
async def approve_expense(
    data: DecisionCreate, conn: StatementPool, principal: CurrentUser
) -> ApprovalSubmitted:
    """Steps are decided in order; only the step's designated approver may decide it."""
    return await workflow.approve(conn, principal, data)


@router.post(
    "/api/expenses/reject",
    response_model=RejectionSubmitted,
    responses=_DECISION_ERRORS,
    summary="Reject an expense at your pending step (a comment is required)",
)
async def reject_expense(
    data: RejectionCreate, conn: StatementPool, principal: CurrentUser
) -> RejectionSubmitted:
    """The expense is rejected and every step left is cancelled."""
    return await workflow.reject(conn, principal, data)


@router.get(
    "/api/expenses",
    response_model=ExpensePage,
    responses=error_responses(Unauthorized, Forbidden, NotFound, ValidationFailed),
    summary="Your expenses, newest first",
)
async def list_expenses(
    session: AutocommitSession,
    principal: CurrentUser,
    page: Pagination,
    status: Annotated[ExpenseStatus | None, Query(description="Only this status")] = None,
    user_id: Annotated[IdParam | None, Query(description="Admins: another employee's")] = None,
) -> ExpensePage:
    """The caller's own expenses; an admin may name another employee with `user_id`."""
    actor = await identity.session_actor(session, principal)
    return await listing.list_expenses(session, actor, page, status=status, user_id=user_id)


@router.get(
    "/api/expenses/{expense_id}/status",
    response_model=ExpenseStatusRead,
    responses=error_responses(Unauthorized, NotFound, ValidationFailed),
    summary="An expense and its approval chain",
)
async def expense_status(
    expense_id: IdParam, conn: StatementPool, principal: CurrentUser
) -> ExpenseStatusRead:
    """Visible to its submitter, its approvers, and admins and managers of its company."""
    return await views.expense_status(conn, principal, expense_id)


@router.get(
    "/api/expenses/{expense_id}/audit",
    response_model=AuditTrailRead,
    responses=error_responses(Unauthorized, NotFound, ValidationFailed),
    summary="The audit trail of an expense",
)
async def expense_audit(
    expense_id: IdParam, session: AutocommitSession, principal: CurrentUser
) -> AuditTrailRead:
    """Every state change: actor, on-behalf-of, action, from and to status, time, comment."""
    return await views.audit_trail(session, principal, expense_id)


@router.get(
    "/api/approvals/pending",
    response_model=InboxPage,
    responses=error_responses(Unauthorized, Forbidden, NotFound, ValidationFailed),
    summary="Your inbox: steps waiting for your decision now",
)
async def pending_approvals(
    conn: StatementPool,
    principal: CurrentUser,
    page: Pagination,
    approver_id: Annotated[IdParam | None, Query(description="Admins: another approver's")] = None,
) -> InboxPage:
    """Only steps with no earlier required step pending, oldest expense first."""
    return await views.inbox(conn, principal, page, approver_id=approver_id)


# --- administration: policies and approval steps ---------------------------------------------


def _policy_read(policy: ExpensePolicy, steps: list[ApprovalStep]) -> PolicyRead:
    read = PolicyRead.model_validate(policy)
    read.steps = [StepRead.model_validate(s) for s in steps]
    return read


@admin_router.get(
    "/expense-policies",
    response_model=Envelope[list[PolicyRead]],
    responses=error_responses(Unauthorized, Forbidden),
)
async def list_policies(
    session: DbSession,
    principal: CanRead,
    page: Pagination,
    company_id: IdParam | None = None,
    category: Annotated[str | None, Query(max_length=50, description="Exact category")] = None,
    is_active: FlagParam | None = None,
) -> Envelope[list[PolicyRead]]:
    """The expense policies of the caller's company (every company for a platform login)."""
    actor = await identity.session_actor(session, principal)
    rows, info = await policies.list_policies(
        session, actor, page, company_id=company_id, category=category, is_active=is_active
    )
    return ok([_policy_read(p, s) for p, s in rows], pagination=info)


@admin_router.post(
    "/expense-policies",
    status_code=201,
    response_model=Envelope[PolicyRead],
    responses=error_responses(Unauthorized, Forbidden, NotFound, Conflict, ValidationFailed),
    openapi_extra=rules_beyond_schema(
        "min_amount must not exceed max_amount",
        "step_order values are unique",
        "scope_team_id is given when team_scope is 'team', and only then; the team is of the policy's company",
    ),
)
async def create_policy(
    data: PolicyCreate, session: DbSession, principal: CanCreate
) -> Envelope[PolicyRead]:
    """Create a policy, optionally with its approval steps."""
    policy, steps = await policies.create_policy(
        session, await identity.session_actor(session, principal), data
    )
    return ok(_policy_read(policy, steps), "Policy created", status_code=201)


@admin_router.get(
    "/expense-policies/{policy_id}",
    response_model=Envelope[PolicyRead],
    responses=error_responses(Unauthorized, Forbidden, NotFound),
)
async def get_policy(
    policy_id: IdParam, session: DbSession, principal: CanRead
) -> Envelope[PolicyRead]:
    """A policy with its steps in order."""
    actor = await identity.session_actor(session, principal)
    return ok(_policy_read(*await policies.policy_with_steps(session, actor, policy_id)))


@admin_router.patch(
    "/expense-policies/{policy_id}",
    response_model=Envelope[PolicyRead],
    responses=error_responses(Unauthorized, Forbidden, NotFound, Conflict, ValidationFailed),
    openapi_extra=rules_beyond_schema(
        "min_amount must not exceed max_amount (the stored one where one is left out)"
    ),
)
async def update_policy(
    policy_id: IdParam, data: PolicyUpdate, session: DbSession, principal: CanUpdate
) -> Envelope[PolicyRead]:
    """Change a policy (deactivate it with `is_active: false`)."""
    actor = await identity.session_actor(session, principal)
    policy, steps = await policies.update_policy(session, actor, policy_id, data)
    return ok(_policy_read(policy, steps), "Policy updated")


@admin_router.delete(
    "/expense-policies/{policy_id}",
    response_model=Envelope[None],
    responses=error_responses(Unauthorized, Forbidden, NotFound, Conflict),
)
async def delete_policy(
    policy_id: IdParam, session: DbSession, principal: CanDelete
) -> Envelope[None]:
    """Delete a policy that has no expenses."""
    await policies.delete_policy(
        session, await identity.session_actor(session, principal), policy_id
    )
    return ok(None, "Policy deleted")


@admin_router.get(
    "/expense-policies/{policy_id}/steps",
    response_model=Envelope[list[StepRead]],
    responses=error_responses(Unauthorized, Forbidden, NotFound),
)
async def list_steps(
    policy_id: IdParam, session: DbSession, principal: CanRead
) -> Envelope[list[StepRead]]:
    """The policy's approval steps in order."""
    actor = await identity.session_actor(session, principal)
    _, steps = await policies.policy_with_steps(session, actor, policy_id)
    return ok([StepRead.model_validate(s) for s in steps])


@admin_router.post(
    "/expense-policies/{policy_id}/steps",
    status_code=201,
    response_model=Envelope[StepRead],
    responses=error_responses(Unauthorized, Forbidden, NotFound, Conflict, ValidationFailed),
    openapi_extra=rules_beyond_schema(
        "scope_team_id is given when team_scope is 'team', and only then; the team is of the policy's company"
    ),
)
async def add_step(
    policy_id: IdParam, data: StepCreate, session: DbSession, principal: CanCreate
) -> Envelope[StepRead]:
    """Add a step to the policy's chain (for expenses submitted from now on)."""
    step = await policies.add_step(
        session, await identity.session_actor(session, principal), policy_id, data
    )
    return ok(StepRead.model_validate(step), "Step created", status_code=201)


@admin_router.get(
    "/approval-steps/{step_id}",
    response_model=Envelope[StepRead],
    responses=error_responses(Unauthorized, Forbidden, NotFound),
)
async def get_step(step_id: IdParam, session: DbSession, principal: CanRead) -> Envelope[StepRead]:
    """One approval step."""
    step = await policies.get_step(
        session, await identity.session_actor(session, principal), step_id
    )
    return ok(StepRead.model_validate(step))


@admin_router.patch(
    "/approval-steps/{step_id}",
    response_model=Envelope[StepRead],
    responses=error_responses(Unauthorized, Forbidden, NotFound, Conflict, ValidationFailed),
    openapi_extra=rules_beyond_schema(
        "scope_team_id is given when team_scope is 'team', and only then (the stored ones where left out); the team is of the policy's company"
    ),
)
async def update_step(
    step_id: IdParam, data: StepUpdate, session: DbSession, principal: CanUpdate
) -> Envelope[StepRead]:
    """Change a step; chains already fixed never change."""
    step = await policies.update_step(
        session, await identity.session_actor(session, principal), step_id, data
    )
    return ok(StepRead.model_validate(step), "Step updated")


@admin_router.delete(
    "/approval-steps/{step_id}",
    response_model=Envelope[None],
    responses=error_responses(Unauthorized, Forbidden, NotFound),
)
async def delete_step(step_id: IdParam, session: DbSession, principal: CanDelete) -> Envelope[None]:
    """Remove a step from its policy's chain."""
    await policies.delete_step(session, await identity.session_actor(session, principal), step_id)
    return ok(None, "Step deleted")


async def capabilities(session: AsyncSession, principal: Principal) -> dict[str, Any]:
    """What the caller may do in expenses, for `GET /api/v1/auth/me`."""
    return asdict((await identity.session_actor(session, principal)).capabilities)


# The seed endpoints keep their clients' `{"detail", "code"}` errors; the administration under
# `/api/v1` speaks the envelope like the rest of the platform.
context = Context(
    "expenses",
    routers=(Routes(router, ErrorStyle.DETAIL), admin_router),
    capabilities={"expenses": capabilities},
)
