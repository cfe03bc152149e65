"""Request and response shapes of expense approvals.

The three seed endpoints (`POST /api/expenses`, `POST /api/expenses/approve`,
`GET /api/expenses/{id}/status`) keep the JSON shapes existing clients use, unwrapped.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from backoffice.core.envelope import PageInfo
from backoffice.core.money import Money, MoneyOut, PositiveMoney
from backoffice.core.types import Flag, Id, Whole, omissible
from backoffice.core.types import Text as Text_
from backoffice.expenses.rules import ExpenseStatus, Scope, StepStatus

Text = Annotated[str, Text_(max_length=2000, required=False, lines=True)]
RequiredText = Annotated[str, Text_(max_length=2000, lines=True)]
Name = Annotated[str, Text_(max_length=200)]
Category = Annotated[str, Text_(max_length=50)]
Level = Annotated[int, Whole(ge=1, le=10), Field(description="1 is the most senior level")]
StepOrder = Annotated[int, Whole(ge=1, le=1000)]

# --- the seed contract -----------------------------------------------------------------------


class ExpenseCreate(BaseModel):
    """A claim, submitted by the employee `user_id` (the caller, or anyone for an admin)."""

    user_id: Id
    policy_id: Id
    amount: PositiveMoney = Field(description="> 0, at most 2 decimals, within the policy's range")
    description: RequiredText


class RequiredApproval(BaseModel):
    """A step of the chain fixed at submission."""

    step: int
    approver: str = Field(description="The designated approver's full name")
    level: str = Field(description="The name of the approver's level, e.g. 'Manager'")
    level_number: int = Field(description="That level's number (1 is the most senior)")


class ExpenseCreated(BaseModel):
    """`POST /api/expenses` answer."""

    message: str = "Expense created successfully"
    expense_id: int
    status: ExpenseStatus
    amount: MoneyOut
    approvals_required: list[RequiredApproval]


class DecisionCreate(BaseModel):
    """An approver's decision on their pending step of an expense."""

    expense_id: Id
    approver_id: Id
    comments: Text | None = None


class RejectionCreate(DecisionCreate):
    """A rejection: the comment saying why is required."""

    comments: RequiredText


class ApprovalSubmitted(BaseModel):
    """`POST /api/expenses/approve` answer."""

    message: str = "Approval submitted successfully"
    expense_id: int
    step_approved: int
    expense_status: ExpenseStatus
    pending_approvals: int = Field(description="Steps of the chain still waiting for a decision")


class RejectionSubmitted(BaseModel):
    """`POST /api/expenses/reject` answer."""

    message: str = "Expense rejected"
    expense_id: int
    step_rejected: int
    expense_status: ExpenseStatus
    cancelled_approvals: int = Field(description="Steps cancelled because of the rejection")


class ApprovalStatusRead(BaseModel):
    """One step of an expense's chain as `GET /api/expenses/{id}/status` shows it."""

    step_number: int
    approver_name: str
    approver_level: str = Field(description="The name of the level the step was fixed at")
    approver_level_number: int = Field(description="That level's number (1 is the most senior)")
    status: StepStatus
    approved_at: datetime | None = Field(description="When the step was decided")
    comments: str | None
    required: bool


class ExpenseStatusRead(BaseModel):
    """`GET /api/expenses/{id}/status` answer."""

    id: int
    amount: MoneyOut
    description: str
    status: ExpenseStatus
    submitted_at: datetime
    completed_at: datetime | None
    user_name: str
    policy_name: str
    approvals: list[ApprovalStatusRead]


# --- beside the seed: lists, inbox, audit ----------------------------------------------------


class ExpenseRead(BaseModel):
    """An expense in a list."""

    id: int
    user_id: int
    policy_id: int
    policy_name: str
    amount: MoneyOut
    description: str
    status: ExpenseStatus
    submitted_at: datetime
    completed_at: datetime | None


class ExpensePage(BaseModel):
    """A page of expenses."""

    items: list[ExpenseRead]
    pagination: PageInfo


class InboxItemRead(BaseModel):
    """A step waiting for the caller's decision now (no earlier required step is pending)."""

    expense_id: int
    step_number: int
    required: bool
    user_id: int
    user_name: str
    policy_id: int
    policy_name: str
    amount: MoneyOut
    description: str
    submitted_at: datetime


class InboxPage(BaseModel):
    """A page of the approver's inbox, oldest first."""

    approver_id: int
    items: list[InboxItemRead]
    pagination: PageInfo


class AuditEventRead(BaseModel):
    """One state change: who, as whom, what, from which status to which, when and why."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    step_number: int | None
    action: str
    from_status: str | None
    to_status: str
    actor_username: str
    actor_employee_id: int | None
    on_behalf_of_id: int | None = Field(description="The employee an admin acted as, if any")
    comment: str | None
    created_at: datetime


class AuditTrailRead(BaseModel):
    """Every state change of an expense, oldest first."""

    expense_id: int
    events: list[AuditEventRead]


# --- admin: policies and approval steps (the /api/v1 envelope) -------------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _check_scope(scope: Scope | None, team_id: int | None) -> None:
    if scope is Scope.TEAM and team_id is None:
        raise ValueError("team_scope 'team' needs scope_team_id")
    if scope is not None and scope is not Scope.TEAM and team_id is not None:
        raise ValueError("scope_team_id is only for team_scope 'team'")


class StepCreate(_Strict):
    """A step of a policy's chain."""

    step_order: StepOrder
    required_level: Level
    team_scope: Scope = Scope.SUBMITTER
    scope_team_id: Id | None = Field(None, description="The named team when team_scope is 'team'")
    is_required: Flag = True
    description: Text | None = None

    @model_validator(mode="after")
    def _scope_and_team(self) -> Self:
        _check_scope(self.team_scope, self.scope_team_id)
        return self


class StepUpdate(_Strict):
    """Fields of a step to change (chains of expenses already submitted never change)."""

    step_order: StepOrder = omissible()
    required_level: Level = omissible()
    team_scope: Scope = omissible()
    scope_team_id: Id | None = None
    is_required: Flag = omissible()
    description: Text | None = None


class StepRead(BaseModel):
    """A step of a policy's chain."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    policy_id: int
    step_order: int
    required_level: int
    team_scope: Scope
    scope_team_id: int | None
    is_required: bool
    description: str | None
    created_at: datetime
    updated_at: datetime


class PolicyCreate(_Strict):
    """A policy of a company, optionally with its steps."""

    company_id: Id
    category: Category
    name: Name
    description: Text | None = None
    min_amount: Money = Decimal("0.01")
    max_amount: Money | None = Field(None, description="None: no upper bound")
    is_active: Flag = True
    steps: list[StepCreate] = Field(default_factory=list)

    @model_validator(mode="after")
    def _range_and_orders(self) -> Self:
        if self.max_amount is not None and self.min_amount > self.max_amount:
            raise ValueError("min_amount must not exceed max_amount")
        orders = [s.step_order for s in self.steps]
        if len(orders) != len(set(orders)):
            raise ValueError("step_order values must be unique")
        return self


class PolicyUpdate(_Strict):
    """Fields of a policy to change."""

    category: Category = omissible()
    name: Name = omissible()
    description: Text | None = None
    min_amount: Money = omissible()
    max_amount: Money | None = None
    is_active: Flag = omissible()


class PolicyRead(BaseModel):
    """A policy and its steps in order."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    company_id: int
    category: str
    name: str
    description: str | None
    min_amount: MoneyOut
    max_amount: MoneyOut | None
    is_active: bool
    created_at: datetime
    updated_at: datetime
    steps: list[StepRead] = Field(default_factory=list)
