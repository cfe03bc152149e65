"""Administration of expense policies and their approval steps (`/api/v1`), on the ORM session.

Every change goes through the request's transaction (`DbSession`): services flush, never
commit. A chain is fixed when an expense is submitted, so changing a policy or a step never
changes the chains of expenses already submitted.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import and_, delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from backoffice.core.db import flush_or
from backoffice.core.envelope import PageInfo
from backoffice.core.errors import NotFound, ValidationFailed
from backoffice.core.pagination import PageParams, paginate
from backoffice.expenses.errors import (
    DuplicatePolicy,
    DuplicateStep,
    PolicyInUse,
    PolicyNotFound,
    StepNotFound,
)
from backoffice.expenses.identity import Actor
from backoffice.expenses.models import ApprovalStep, Expense, ExpensePolicy
from backoffice.expenses.rules import Scope
from backoffice.expenses.schemas import PolicyCreate, PolicyUpdate, StepCreate, StepUpdate
from backoffice.org import hierarchy


async def _policy_steps(session: AsyncSession, policy_id: int) -> list[ApprovalStep]:
    return list(
        await session.scalars(
            select(ApprovalStep)
            .where(ApprovalStep.policy_id == policy_id)
            .order_by(ApprovalStep.step_order)
        )
    )


async def get_policy(
    session: AsyncSession, actor: Actor, policy_id: int, *, lock: bool = False
) -> ExpensePolicy:
    """The policy, if the caller's company may see it.

    `lock` holds the row until the transaction ends, so a concurrent delete waits for a write,
    or makes it a 404, instead of an update that matches nothing.
    """
    policy = await session.get(ExpensePolicy, policy_id, with_for_update=lock)
    if policy is None or not actor.sees(policy.company_id):
        raise PolicyNotFound(f"Policy {policy_id} not found")
    return policy


async def policy_with_steps(
    session: AsyncSession, actor: Actor, policy_id: int
) -> tuple[ExpensePolicy, list[ApprovalStep]]:
    """The policy and its steps in order."""
    policy = await get_policy(session, actor, policy_id)
    return policy, await _policy_steps(session, policy.id)


async def list_policies(
    session: AsyncSession,
    actor: Actor,
    page: PageParams,
    *,
    company_id: int | None = None,
    category: str | None = None,
    is_active: bool | None = None,
) -> tuple[list[tuple[ExpensePolicy, list[ApprovalStep]]], PageInfo]:
    """The policies the caller may see, with their steps."""
    statement = select(ExpensePolicy)
    conditions = []
    if actor.employee is not None:
        conditions.append(ExpensePolicy.company_id == actor.company_id)
    if company_id is not None:
        conditions.append(ExpensePolicy.company_id == company_id)
    if category is not None:
        conditions.append(ExpensePolicy.category == category)
    if is_active is not None:
        conditions.append(ExpensePolicy.is_active.is_(is_active))
    if conditions:
        statement = statement.where(and_(*conditions))
    policies, info = await paginate(session, statement, page, [ExpensePolicy.id.asc()])
    steps: dict[int, list[ApprovalStep]] = {p.id: [] for p in policies}
    if policies:
        for step in await session.scalars(
            select(ApprovalStep)
            .where(ApprovalStep.policy_id.in_(list(steps)))
            .order_by(ApprovalStep.policy_id, ApprovalStep.step_order)
        ):
            steps[step.policy_id].append(step)
    return [(p, steps[p.id]) for p in policies], info


async def _check_policy_unique(
    session: AsyncSession,
    company_id: int,
    category: str,
    min_amount: Decimal,
    except_id: int | None,
) -> None:
    found = await session.scalar(
        select(ExpensePolicy.id).where(
            ExpensePolicy.company_id == company_id,
            ExpensePolicy.category == category,
            ExpensePolicy.min_amount == min_amount,
        )
    )
    if found is not None and found != except_id:
        raise DuplicatePolicy(
            f"Company {company_id} already has a {category!r} policy from {min_amount}"
        )


async def _check_step_team(session: AsyncSession, company_id: int, team_id: int | None) -> None:
    if team_id is not None and await hierarchy.team_company(session, team_id) != company_id:
        raise ValidationFailed.field(
            "scope_team_id", f"Team {team_id} is not a team of company {company_id}"
        )


async def create_policy(
    session: AsyncSession, actor: Actor, data: PolicyCreate
) -> tuple[ExpensePolicy, list[ApprovalStep]]:
    """Create a policy (and its steps) in a company the caller may manage."""
    if not actor.sees(data.company_id):
        raise NotFound.field("company_id", f"Company {data.company_id} does not exist")
    return await insert_policy(session, data)


async def insert_policy(
    session: AsyncSession, data: PolicyCreate
) -> tuple[ExpensePolicy, list[ApprovalStep]]:
    """Create a policy and its steps (no caller: for the demo loader and jobs)."""
    if not await hierarchy.company_exists(session, data.company_id):
        raise NotFound.field("company_id", f"Company {data.company_id} does not exist")
    await _check_policy_unique(session, data.company_id, data.category, data.min_amount, None)
    for step in data.steps:
        await _check_step_team(session, data.company_id, step.scope_team_id)
    policy = ExpensePolicy(**data.model_dump(exclude={"steps"}))
    session.add(policy)
    await flush_or(session, DuplicatePolicy())
    steps = [ApprovalStep(policy_id=policy.id, **s.model_dump()) for s in data.steps]
    session.add_all(steps)
    await session.flush()
    return policy, sorted(steps, key=lambda s: s.step_order)


async def update_policy(
    session: AsyncSession, actor: Actor, policy_id: int, data: PolicyUpdate
) -> tuple[ExpensePolicy, list[ApprovalStep]]:
    """Change a policy; expenses already submitted keep their chains."""
    policy = await get_policy(session, actor, policy_id, lock=True)
    changes = data.model_dump(exclude_unset=True)
    merged: dict[str, Any] = {
        "category": policy.category,
        "min_amount": policy.min_amount,
        "max_amount": policy.max_amount,
    } | changes
    if merged["max_amount"] is not None and merged["min_amount"] > merged["max_amount"]:
        raise ValidationFailed.field("min_amount", "min_amount must not exceed max_amount")
    if changes.keys() & {"category", "min_amount"}:
        await _check_policy_unique(
            session, policy.company_id, merged["category"], merged["min_amount"], policy.id
        )
    for name, value in changes.items():
        setattr(policy, name, value)
    await flush_or(session, DuplicatePolicy())
    return policy, await _policy_steps(session, policy.id)


async def delete_policy(session: AsyncSession, actor: Actor, policy_id: int) -> None:
    """Delete a policy with no expenses (deactivate one that has some)."""
    policy = await get_policy(session, actor, policy_id, lock=True)
    if await session.scalar(select(Expense.id).where(Expense.policy_id == policy.id).limit(1)):
        raise PolicyInUse(f"Policy {policy_id} has expenses; set is_active to false instead")
    await session.execute(delete(ExpensePolicy).where(ExpensePolicy.id == policy.id))
    session.expunge(policy)


async def add_step(
    session: AsyncSession, actor: Actor, policy_id: int, data: StepCreate
) -> ApprovalStep:
    """Add a step to a policy's chain (for expenses submitted from now on)."""
    policy = await get_policy(session, actor, policy_id, lock=True)
    await _check_step_team(session, policy.company_id, data.scope_team_id)
    if await session.scalar(
        select(ApprovalStep.id).where(
            ApprovalStep.policy_id == policy.id, ApprovalStep.step_order == data.step_order
        )
    ):
        raise DuplicateStep(f"Policy {policy_id} already has a step {data.step_order}")
    step = ApprovalStep(policy_id=policy.id, **data.model_dump())
    session.add(step)
    await flush_or(session, DuplicateStep())
    return step


async def _get_step(
    session: AsyncSession, actor: Actor, step_id: int, *, lock: bool = False
) -> tuple[ApprovalStep, int]:
    statement = (
        select(ApprovalStep, ExpensePolicy.company_id)
        .join(ExpensePolicy, ExpensePolicy.id == ApprovalStep.policy_id)
        .where(ApprovalStep.id == step_id)
    )
    if lock:
        statement = statement.with_for_update(of=ApprovalStep)
    row = (await session.execute(statement)).first()
    if row is None or not actor.sees(row[1]):
        raise StepNotFound(f"Approval step {step_id} not found")
    step, company_id = row
    return step, company_id


async def get_step(session: AsyncSession, actor: Actor, step_id: int) -> ApprovalStep:
    """The step, if the caller's company may see its policy."""
    step, _ = await _get_step(session, actor, step_id)
    return step


async def update_step(
    session: AsyncSession, actor: Actor, step_id: int, data: StepUpdate
) -> ApprovalStep:
    """Change a step; chains of expenses already submitted never change."""
    step, company_id = await _get_step(session, actor, step_id, lock=True)
    changes = data.model_dump(exclude_unset=True)
    scope = Scope(changes.get("team_scope", step.team_scope))
    team_id = changes.get("scope_team_id", step.scope_team_id)
    if "team_scope" in changes and scope is not Scope.TEAM and "scope_team_id" not in changes:
        team_id = changes["scope_team_id"] = None
    if (scope is Scope.TEAM) != (team_id is not None):
        raise ValidationFailed.field(
            "scope_team_id", "scope_team_id is required for team_scope 'team' and only for it"
        )
    await _check_step_team(session, company_id, team_id)
    if "step_order" in changes and changes["step_order"] != step.step_order:
        taken = await session.scalar(
            select(ApprovalStep.id).where(
                ApprovalStep.policy_id == step.policy_id,
                ApprovalStep.step_order == changes["step_order"],
            )
        )
        if taken is not None:
            raise DuplicateStep(
                f"Policy {step.policy_id} already has a step {changes['step_order']}"
            )
    for name, value in changes.items():
        setattr(step, name, value.value if isinstance(value, Scope) else value)
    await flush_or(session, DuplicateStep())
    return step


async def delete_step(session: AsyncSession, actor: Actor, step_id: int) -> None:
    """Remove a step; expenses already submitted keep it in their chains."""
    step, _ = await _get_step(session, actor, step_id, lock=True)
    await session.execute(delete(ApprovalStep).where(ApprovalStep.id == step.id))
    session.expunge(step)
