"""Pure rules of expense approval: building the chain and deciding its steps. No I/O here.

The service loads rows, hands them to these functions as small frozen values and writes
back what they return, so every rule is testable (with hypothesis) without a database.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from enum import StrEnum

from backoffice.expenses.errors import (
    ExpenseAlreadyDecided,
    NoApproverForStep,
    NotDesignatedApprover,
    StepAlreadyDecided,
    StepOutOfOrder,
)


class Scope(StrEnum):
    """Where a step looks for its approver."""

    SUBMITTER = "submitter"  # the submitter's team (and company-wide teams)
    COMPANY = "company"  # anyone in the company
    TEAM = "team"  # a named team (and company-wide teams)


class ExpenseStatus(StrEnum):
    """An expense is pending until it is approved or rejected; both are final."""

    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


class StepStatus(StrEnum):
    """A link of the chain: decided by its approver, or closed when the expense is decided."""

    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    CANCELLED = "cancelled"  # the expense was rejected before this step was decided
    SKIPPED = "skipped"  # optional, and the expense was approved without it


class Decision(StrEnum):
    """What an approver decides."""

    APPROVE = "approve"
    REJECT = "reject"


@dataclass(frozen=True, slots=True)
class Member:
    """An employee as the chain sees them: level 1 is the most senior."""

    employee_id: int
    level_number: int
    team_id: int | None
    company_wide: bool = False  # on a team that spans every team of the company
    is_active: bool = True


@dataclass(frozen=True, slots=True)
class StepRule:
    """A policy's step: who must approve, in which order, and whether it blocks completion."""

    step_order: int
    required_level: int
    scope: Scope
    team_id: int | None = None  # the named team when `scope` is TEAM
    is_required: bool = True
    step_id: int | None = None


@dataclass(frozen=True, slots=True)
class ChainLink:
    """A step of one expense's chain with its designated approver."""

    step_number: int
    approver_id: int
    approver_level: int
    is_required: bool
    step_id: int | None = None


def in_scope(member: Member, step: StepRule, submitter: Member) -> bool:
    """Whether `member` may approve `step` for `submitter` as far as teams go."""
    if step.scope is Scope.COMPANY:
        return True
    team = submitter.team_id if step.scope is Scope.SUBMITTER else step.team_id
    return member.company_wide or (team is not None and member.team_id == team)


def pick_approver(step: StepRule, submitter: Member, members: Iterable[Member]) -> Member | None:
    """The active member in scope at or above the required level, closest to it; never the submitter.

    Ties (several people at the closest level) go to the lowest employee id, so the same
    data always gives the same chain.
    """
    eligible = [
        m
        for m in members
        if m.is_active
        and m.employee_id != submitter.employee_id
        and m.level_number <= step.required_level
        and in_scope(m, step, submitter)
    ]
    return max(eligible, key=lambda m: (m.level_number, -m.employee_id), default=None)


def build_chain(
    steps: Sequence[StepRule], submitter: Member, members: Sequence[Member]
) -> list[ChainLink]:
    """The approval chain of an expense, fixed at submission.

    An optional step nobody can approve is left out; a required one refuses the submission.

    Raises:
        NoApproverForStep: a required step has no possible approver (names the step).
    """
    chain: list[ChainLink] = []
    for step in sorted(steps, key=lambda s: s.step_order):
        approver = pick_approver(step, submitter, members)
        if approver is None:
            if step.is_required:
                raise NoApproverForStep.field(
                    "policy_id",
                    f"Step {step.step_order} needs an active approver at level "
                    f"{step.required_level} or above ({step.scope.value} scope) and has none",
                )
            continue
        chain.append(
            ChainLink(
                step_number=step.step_order,
                approver_id=approver.employee_id,
                approver_level=approver.level_number,
                is_required=step.is_required,
                step_id=step.step_id,
            )
        )
    return chain


@dataclass(frozen=True, slots=True)
class StepState:
    """A link of the chain and where it stands."""

    step_number: int
    approver_id: int
    is_required: bool
    status: StepStatus = StepStatus.PENDING


@dataclass(frozen=True, slots=True)
class Outcome:
    """The result of a decision: the decided step, the new states and what changed."""

    step_number: int
    expense_status: ExpenseStatus
    steps: tuple[StepState, ...]
    changed: tuple[tuple[StepState, StepState], ...]  # (before, after) per step that moved

    @property
    def pending_count(self) -> int:
        """Steps still waiting for a decision."""
        return sum(1 for s in self.steps if s.status is StepStatus.PENDING)


def amount_in_range(amount: Decimal, low: Decimal, high: Decimal | None) -> bool:
    """Whether a policy from `low` to `high` (no upper bound when None) takes `amount`.

    Both bounds are included: a policy "from 2000.00" takes 2000.00.
    """
    return low <= amount and (high is None or amount <= high)


def range_text(low: Decimal, high: Decimal | None) -> str:
    """A policy's range in words, as errors and pickers show it: "0.01 to 1999.99"."""
    return f"{low} to {high}" if high is not None else f"{low} or more"


def status_after_submission(chain: Sequence[ChainLink]) -> ExpenseStatus:
    """A chain with no required step is approved at once; otherwise it waits."""
    return (
        ExpenseStatus.PENDING if any(link.is_required for link in chain) else ExpenseStatus.APPROVED
    )


def actionable(steps: Sequence[StepState]) -> set[int]:
    """Step numbers an approver can decide now: pending, no earlier required step pending."""
    ready: set[int] = set()
    for step in sorted(steps, key=lambda s: s.step_number):
        if step.status is not StepStatus.PENDING:
            continue
        ready.add(step.step_number)
        if step.is_required:
            break
    return ready


def _close(steps: Sequence[StepState], to: StepStatus) -> list[StepState]:
    return [replace(s, status=to) if s.status is StepStatus.PENDING else s for s in steps]


def decide(
    status: ExpenseStatus, steps: Sequence[StepState], approver_id: int, decision: Decision
) -> Outcome:
    """Apply one approver's decision to their earliest pending step.

    Steps are decided in order: an earlier *required* step still pending blocks (an
    earlier optional one does not). Approving the last pending required step approves the
    expense and skips the optional steps left; rejecting any step rejects the expense and
    cancels every step left.

    Raises:
        ExpenseAlreadyDecided: the expense is approved or rejected (409).
        StepAlreadyDecided: the approver's steps are all decided already (409).
        NotDesignatedApprover: the approver has no step in this chain (403).
        StepOutOfOrder: an earlier required step is still pending (409).
    """
    if status is not ExpenseStatus.PENDING:
        raise ExpenseAlreadyDecided(f"The expense is already {status.value}")
    ordered = sorted(steps, key=lambda s: s.step_number)
    mine = [s for s in ordered if s.approver_id == approver_id]
    if not mine:
        raise NotDesignatedApprover()
    target = next((s for s in mine if s.status is StepStatus.PENDING), None)
    if target is None:
        raise StepAlreadyDecided()
    blocking = next(
        (
            s
            for s in ordered
            if s.step_number < target.step_number
            and s.is_required
            and s.status is StepStatus.PENDING
        ),
        None,
    )
    if blocking is not None:
        raise StepOutOfOrder(
            f"Step {blocking.step_number} must be decided before step {target.step_number}"
        )
    verdict = StepStatus.APPROVED if decision is Decision.APPROVE else StepStatus.REJECTED
    after = [replace(s, status=verdict) if s is target else s for s in ordered]
    if decision is Decision.REJECT:
        new_status = ExpenseStatus.REJECTED
        after = _close(after, StepStatus.CANCELLED)
    elif any(s.is_required and s.status is StepStatus.PENDING for s in after):
        new_status = ExpenseStatus.PENDING
    else:
        new_status = ExpenseStatus.APPROVED
        after = _close(after, StepStatus.SKIPPED)
    changed = tuple((b, a) for b, a in zip(ordered, after, strict=True) if b.status != a.status)
    return Outcome(target.step_number, new_status, tuple(after), changed)
