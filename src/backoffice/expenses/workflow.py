"""The expense workflow: submit a claim, approve or reject a step.

Runs only compiled statements (`statements`) on a `Driver`: the endpoints pass the statement
pool (autocommit, one connection per statement), so every write here is one statement after
reads, and a decision is optimistic (a version, never a lock held across statements). Domain
errors only; nothing here commits or knows HTTP.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from backoffice.core.auth.service import Principal
from backoffice.core.db import Driver
from backoffice.expenses import rules, statements
from backoffice.expenses.errors import (
    AmountOutsidePolicy,
    ConcurrentDecision,
    ExpenseNotFound,
    ExpenseRefused,
    NoLinkedEmployee,
    PolicyNotFound,
)
from backoffice.expenses.identity import Actor, act_as
from backoffice.expenses.rules import Decision, ExpenseStatus, Scope, StepStatus
from backoffice.expenses.schemas import (
    ApprovalSubmitted,
    DecisionCreate,
    ExpenseCreate,
    ExpenseCreated,
    RejectionCreate,
    RejectionSubmitted,
    RequiredApproval,
)
from backoffice.org import hierarchy
from backoffice.org.hierarchy import Placement


def _event(
    action: str,
    from_status: str | None,
    to_status: str,
    *,
    step_number: int | None = None,
    comment: str | None = None,
) -> dict[str, Any]:
    """One audit-trail entry; who acted is added by the statement that writes it."""
    return {
        "action": action,
        "from_status": from_status,
        "to_status": to_status,
        "step_number": step_number,
        "comment": comment,
    }


def _actor_params(actor: Actor, acting_as: Placement) -> dict[str, Any]:
    """Who acts (the login and its employee), and as whom when an admin acts for someone."""
    return {
        "actor_account_id": actor.principal.account_id,
        "actor_username": actor.principal.username,
        "actor_employee_id": actor.employee_id,
        "on_behalf_of_id": (
            acting_as.employee_id if acting_as.employee_id != actor.employee_id else None
        ),
    }


def _inbox_deltas(approver_of: dict[int, int], before: set[int], after: set[int]) -> str:
    """Each approver's change in waiting steps, as `:inbox`.

    The waiting steps go from `before` to `after` (step numbers; `approver_of` maps them
    to approvers).
    """
    deltas: Counter[int] = Counter()
    for step in before - after:
        deltas[approver_of[step]] -= 1
    for step in after - before:
        deltas[approver_of[step]] += 1
    return json.dumps([{"approver_id": a, "delta": d} for a, d in sorted(deltas.items()) if d])


# --- submission ------------------------------------------------------------------------------


def _member(p: Placement) -> rules.Member:
    # An employee without a level can submit but never approves: rank them below level 10.
    return rules.Member(p.employee_id, p.level_number or 11, p.team_id, p.company_wide, p.is_active)


@dataclass(frozen=True, slots=True)
class _Policy:
    id: int
    company_id: int
    is_active: bool
    min_amount: Decimal
    max_amount: Decimal | None
    steps: tuple[rules.StepRule, ...]


def _policy_for_claim(policy_id: int, rows: list[Any]) -> _Policy | None:
    """The policy and its steps from `statements.CLAIM`'s rows (a policy with no step: one row)."""
    if not rows:
        return None
    first = rows[0]
    steps = tuple(
        rules.StepRule(
            step_order=r["step_order"],
            required_level=r["required_level"],
            scope=Scope(r["team_scope"]),
            team_id=r["scope_team_id"],
            is_required=r["is_required"],
            step_id=r["step_id"],
        )
        for r in rows
        if r["step_id"] is not None
    )
    return _Policy(
        policy_id,
        first["company_id"],
        first["is_active"],
        first["min_amount"],
        first["max_amount"],
        steps,
    )


def _check_claim(submitter: Placement, policy: _Policy, amount: Decimal) -> None:
    if not submitter.is_active:
        raise ExpenseRefused.field("user_id", f"Employee {submitter.employee_id} is not active")
    if not policy.is_active:
        raise ExpenseRefused.field("policy_id", f"Policy {policy.id} is not active")
    if not rules.amount_in_range(amount, policy.min_amount, policy.max_amount):
        raise AmountOutsidePolicy.of(amount, rules.range_text(policy.min_amount, policy.max_amount))
    if not policy.steps:
        raise ExpenseRefused.field("policy_id", f"Policy {policy.id} has no approval steps")


@dataclass(frozen=True, slots=True)
class _Claim:
    """A claim checked against its policy, with the chain it would get if submitted now."""

    actor: Actor
    submitter: Placement
    policy: _Policy
    chain: list[rules.ChainLink]
    people: list[Placement]  # the approvers the chain was picked from

    def approvals_required(self) -> list[RequiredApproval]:
        """The chain with the approvers' names and levels, as the submission answers it."""
        approvers = {p.employee_id: p for p in self.people}
        return [
            RequiredApproval(
                step=link.step_number,
                approver=approvers[link.approver_id].full_name,
                level=approvers[link.approver_id].level_name or "",
                level_number=link.approver_level,
            )
            for link in self.chain
        ]


async def _check_and_chain(
    conn: Driver, principal: Principal, user_id: int | None, policy_id: int, amount: Decimal
) -> _Claim:
    """Check a claim by `user_id` (None: the caller's own employee) and build its chain.

    Only reads. Raises what a submission would: who may claim (`act_as`), the policy
    (not found, inactive, no steps), the amount's range, a required step with no approver.
    """
    rows = await statements.CLAIM.fetch(conn, account_id=principal.account_id, policy_id=policy_id)
    caller, policy_rows = hierarchy.split_caller(rows, "company_id")
    actor = Actor(principal, caller)
    if user_id is None:
        if caller is None:
            raise NoLinkedEmployee()
        user_id = caller.employee_id
    submitter = await act_as(conn, actor, user_id, "user_id")
    policy = _policy_for_claim(policy_id, policy_rows)
    if policy is None or submitter.company_id is None or policy.company_id != submitter.company_id:
        raise PolicyNotFound(f"Policy {policy_id} not found")
    _check_claim(submitter, policy, amount)
    if submitter.employee_id == actor.employee_id:
        pool = rows[0]["pool"]
    else:
        pool = await statements.APPROVER_POOL.fetchval(
            conn, company_id=submitter.company_id, team_id=submitter.team_id, policy_id=policy.id
        )
    people = hierarchy.placements(pool)
    chain = rules.build_chain(policy.steps, _member(submitter), [_member(p) for p in people])
    return _Claim(actor, submitter, policy, chain, people)


async def preview_chain(
    conn: Driver,
    principal: Principal,
    policy_id: int,
    amount: Decimal,
    *,
    user_id: int | None = None,
) -> list[RequiredApproval]:
    """The approvers a claim of `amount` on the policy would get if submitted now.

    The same checks and the same chain as `submit_expense`, writing nothing: what a submit
    form shows before the claim is sent. `user_id` None: the caller's own employee.
    """
    claim = await _check_and_chain(conn, principal, user_id, policy_id, amount)
    return claim.approvals_required()


async def submit_expense(conn: Driver, principal: Principal, data: ExpenseCreate) -> ExpenseCreated:
    """Check the claim, fix its approval chain and record it; nothing is written on refusal.

    Everything before the write only reads, and the write is one statement: the endpoint
    runs it in autocommit (no BEGIN / COMMIT round trips) with the same guarantees.
    """
    claim = await _check_and_chain(conn, principal, data.user_id, data.policy_id, data.amount)
    actor, submitter, policy, chain = claim.actor, claim.submitter, claim.policy, claim.chain
    status = rules.status_after_submission(chain)
    done = status is not ExpenseStatus.PENDING

    ready = (
        set()
        if done
        else rules.actionable(
            [rules.StepState(k.step_number, k.approver_id, k.is_required) for k in chain]
        )
    )
    events = [_event("submitted", None, ExpenseStatus.PENDING)]
    if done:
        events.append(_event("expense_approved", ExpenseStatus.PENDING, status))
    expense_id = await statements.RECORD_SUBMISSION.fetchval(
        conn,
        **{
            "company_id": submitter.company_id,
            "submitter_id": submitter.employee_id,
            "policy_id": policy.id,
            "amount": data.amount,
            "description": data.description,
            "status": status.value,
            "done": done,
            "link_status": (StepStatus.SKIPPED if done else StepStatus.PENDING).value,
            "links": json.dumps(
                [
                    {
                        "step_id": link.step_id,
                        "step_number": link.step_number,
                        "approver_id": link.approver_id,
                        "approver_level": link.approver_level,
                        "is_required": link.is_required,
                        "is_actionable": link.step_number in ready,
                    }
                    for link in chain
                ]
            ),
            "events": json.dumps(events),
            "inbox": _inbox_deltas(
                {link.step_number: link.approver_id for link in chain}, set(), ready
            ),
            **_actor_params(actor, submitter),
        },
    )
    assert expense_id is not None
    return ExpenseCreated(
        expense_id=expense_id,
        status=status,
        amount=data.amount,
        approvals_required=claim.approvals_required(),
    )


# --- decisions -------------------------------------------------------------------------------


# A decision that keeps losing the race to concurrent ones on the same expense gives up (409).
_DECISION_ATTEMPTS = 3


async def _decide(
    conn: Driver, principal: Principal, data: DecisionCreate, decision: Decision
) -> rules.Outcome:
    """Decide the approver's pending step: read, apply the rules, write if nothing moved.

    Optimistic: no transaction spans the two round trips and no lock is held between them.
    If a concurrent decision changed the expense first, the write changes nothing and the
    decision is taken again on the new state, where the rules give the right answer (a 409
    for a step decided meanwhile), exactly as if it had waited for a lock.
    """
    approver: Placement | None = None
    for _ in range(_DECISION_ATTEMPTS):
        rows = await statements.DECISION_INPUT.fetch(
            conn, account_id=principal.account_id, expense_id=data.expense_id
        )
        caller, found = hierarchy.split_caller(rows, "company_id")
        actor = Actor(principal, caller)
        if approver is None:
            approver = await act_as(conn, actor, data.approver_id, "approver_id")
        if not found or not actor.sees(found[0]["company_id"]):
            raise ExpenseNotFound(f"Expense {data.expense_id} not found")
        outcome = rules.decide(
            ExpenseStatus(found[0]["expense_status"]),
            _chain_states(found),
            approver.employee_id,
            decision,
        )
        params = _decision_params(found, outcome, data)
        if await statements.RECORD_DECISION.fetchval(
            conn, **params, **_actor_params(actor, approver)
        ):
            return outcome
    raise ConcurrentDecision()


def _chain_states(rows: list[Any]) -> list[rules.StepState]:
    return [
        rules.StepState(
            r["step_number"], r["approver_id"], r["is_required"], StepStatus(r["step_status"])
        )
        for r in rows
        if r["step_number"] is not None
    ]


def _decision_params(
    rows: list[Any], outcome: rules.Outcome, data: DecisionCreate
) -> dict[str, Any]:
    """What `RECORD_DECISION` writes for `outcome`, decided on the version `rows` show."""
    before = ExpenseStatus(rows[0]["expense_status"])
    events = [
        _event(
            f"step_{after.status.value}",
            was.status,
            after.status,
            step_number=was.step_number,
            comment=data.comments if was.step_number == outcome.step_number else None,
        )
        for was, after in outcome.changed
    ]
    if outcome.expense_status is not ExpenseStatus.PENDING:
        events.append(
            _event(
                f"expense_{outcome.expense_status.value}",
                before,
                outcome.expense_status,
                comment=data.comments,
            )
        )
    approver_of = {r["step_number"]: r["approver_id"] for r in rows if r["step_number"] is not None}
    waiting_before = rules.actionable(_chain_states(rows))
    waiting_after = rules.actionable(outcome.steps)
    return {
        "expense_id": data.expense_id,
        "version": rows[0]["version"],
        "steps": _step_changes(outcome, waiting_after - waiting_before, data.comments),
        "inbox": _inbox_deltas(approver_of, waiting_before, waiting_after),
        "expense_status": outcome.expense_status.value,
        "events": json.dumps(events),
    }


def _step_changes(outcome: rules.Outcome, now_waiting: set[int], comments: str | None) -> str:
    """The steps a decision changes, as `:steps`: decided or closed ones, and newly waiting ones.

    The decided step keeps the approver's comment; a closed step (skipped or cancelled) is
    decided too, without one; a step that now waits becomes actionable (it is in the inbox).
    """
    changes = [
        {
            "step_number": was.step_number,
            "status": after.status.value,
            "is_actionable": False,
            "decided": True,
            "comments": comments if was.step_number == outcome.step_number else None,
        }
        for was, after in outcome.changed
    ]
    changes += [
        {
            "step_number": number,
            "status": StepStatus.PENDING.value,
            "is_actionable": True,
            "decided": False,
            "comments": None,
        }
        for number in sorted(now_waiting)
    ]
    return json.dumps(changes)


async def approve(conn: Driver, principal: Principal, data: DecisionCreate) -> ApprovalSubmitted:
    """Approve the approver's pending step; the last required approval approves the expense."""
    outcome = await _decide(conn, principal, data, Decision.APPROVE)
    return ApprovalSubmitted(
        expense_id=data.expense_id,
        step_approved=outcome.step_number,
        expense_status=outcome.expense_status,
        pending_approvals=outcome.pending_count,
    )


async def reject(conn: Driver, principal: Principal, data: RejectionCreate) -> RejectionSubmitted:
    """Reject the approver's pending step: the expense is rejected, the other steps cancelled."""
    outcome = await _decide(conn, principal, data, Decision.REJECT)
    cancelled = sum(1 for _, after in outcome.changed if after.status is StepStatus.CANCELLED)
    return RejectionSubmitted(
        expense_id=data.expense_id,
        step_rejected=outcome.step_number,
        expense_status=outcome.expense_status,
        cancelled_approvals=cancelled,
    )
