"""Expense policies, approval steps, expenses, approvals, inbox counts and the audit trail."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from backoffice.core.db import Base, TimestampMixin


class ExpensePolicy(TimestampMixin, Base):
    """What a company reimburses in a category, for amounts in [min_amount, max_amount]."""

    __mapper_args__ = {"eager_defaults": True}  # timestamps come back with RETURNING
    __tablename__ = "expense_policies"
    __table_args__ = (
        UniqueConstraint("company_id", "category", "min_amount"),
        CheckConstraint("min_amount >= 0", name="min_amount"),
        CheckConstraint("max_amount IS NULL OR min_amount <= max_amount", name="amount_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"))
    category: Mapped[str] = mapped_column(String(50))
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    min_amount: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    # None: no upper bound ("2000 and over").
    max_amount: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True, server_default="true")


class ApprovalStep(TimestampMixin, Base):
    """One step of a policy's chain: who (level, scope) must approve, and whether it blocks."""

    __mapper_args__ = {"eager_defaults": True}  # timestamps come back with RETURNING
    __tablename__ = "approval_steps"
    __table_args__ = (
        UniqueConstraint("policy_id", "step_order"),
        CheckConstraint("step_order > 0", name="step_order"),
        CheckConstraint("required_level BETWEEN 1 AND 10", name="required_level"),
        CheckConstraint("team_scope IN ('submitter', 'company', 'team')", name="team_scope"),
        CheckConstraint("(team_scope = 'team') = (scope_team_id IS NOT NULL)", name="named_team"),
        Index("ix_approval_steps_scope_team_id", "scope_team_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    policy_id: Mapped[int] = mapped_column(ForeignKey("expense_policies.id", ondelete="CASCADE"))
    step_order: Mapped[int] = mapped_column(SmallInteger)
    required_level: Mapped[int] = mapped_column(SmallInteger)
    team_scope: Mapped[str] = mapped_column(String(16))
    scope_team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="RESTRICT"))
    is_required: Mapped[bool] = mapped_column(Boolean, default=True, server_default="true")
    description: Mapped[str | None] = mapped_column(Text)


class Expense(Base):
    """A claim; its approval chain is fixed in `expense_approvals` when it is submitted."""

    __mapper_args__ = {"eager_defaults": True}  # timestamps come back with RETURNING
    __tablename__ = "expenses"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("status IN ('pending', 'approved', 'rejected')", name="status"),
        CheckConstraint("(status = 'pending') = (completed_at IS NULL)", name="completed_at"),
        Index("ix_expenses_submitter_id_id", "submitter_id", "id"),
        Index("ix_expenses_company_id_status", "company_id", "status"),
        Index("ix_expenses_policy_id", "policy_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="RESTRICT"))
    submitter_id: Mapped[int] = mapped_column(ForeignKey("employees.id", ondelete="RESTRICT"))
    policy_id: Mapped[int] = mapped_column(ForeignKey("expense_policies.id", ondelete="RESTRICT"))
    amount: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    description: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), server_default="pending")
    submitted_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Bumped by every decision, which applies only if the expense is still at the version it
    # was decided on (optimistic concurrency: no lock held across round trips).
    version: Mapped[int] = mapped_column(Integer, server_default="0")


class ExpenseApproval(Base):
    """One link of an expense's chain: the designated approver of a step and their decision.

    `step_number`, `approver_level` and `is_required` are copied from the policy at submission,
    so editing or deleting a step later never changes a chain already under way.
    """

    __mapper_args__ = {"eager_defaults": True}  # timestamps come back with RETURNING
    __tablename__ = "expense_approvals"
    __table_args__ = (
        UniqueConstraint("expense_id", "step_number"),
        CheckConstraint(
            "status IN ('pending', 'approved', 'rejected', 'cancelled', 'skipped')",
            name="status",
        ),
        CheckConstraint("(status = 'pending') = (decided_at IS NULL)", name="decided_at"),
        Index("ix_expense_approvals_approver_id_status", "approver_id", "status"),
        # The inbox: the steps an approver can decide now, in the inbox's order, so a page is
        # the first rows of one index range (no sort; the planner never prefers walking every
        # chain in id order and filtering, which it did once the statistics saw a big inbox).
        Index(
            "ix_expense_approvals_inbox",
            "approver_id",
            "expense_id",
            "step_number",
            postgresql_where=text("status = 'pending' AND is_actionable"),
        ),
        Index("ix_expense_approvals_step_id", "step_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    expense_id: Mapped[int] = mapped_column(ForeignKey("expenses.id", ondelete="CASCADE"))
    step_id: Mapped[int | None] = mapped_column(
        ForeignKey("approval_steps.id", ondelete="SET NULL")
    )
    step_number: Mapped[int] = mapped_column(SmallInteger)
    approver_id: Mapped[int] = mapped_column(ForeignKey("employees.id", ondelete="RESTRICT"))
    approver_level: Mapped[int] = mapped_column(SmallInteger)
    is_required: Mapped[bool] = mapped_column(Boolean)
    # Pending with no earlier required step pending: it waits in its approver's inbox now.
    # Kept by the same statement that records each decision (rules.actionable).
    is_actionable: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    status: Mapped[str] = mapped_column(String(16), server_default="pending")
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    comments: Mapped[str | None] = mapped_column(Text)


class InboxCount(Base):
    """How many steps wait in an approver's inbox now (pending and actionable).

    Kept by the statements that submit and decide, in the same statement as the steps they
    change, so the inbox total costs one row read whatever the inbox's size (counting the
    steps grew with it: ~2 ms for 3,000 waiting steps). A test proves it equals a count.
    No CHECK (waiting >= 0): PostgreSQL checks the row an upsert proposes (the delta, often
    negative) before it finds the conflict.
    """

    __tablename__ = "expense_inbox_counts"

    approver_id: Mapped[int] = mapped_column(
        ForeignKey("employees.id", ondelete="CASCADE"), primary_key=True
    )
    waiting: Mapped[int] = mapped_column(Integer)


class ExpenseAuditEvent(Base):
    """One state change of an expense or of one of its steps, written in the same transaction.

    `actor_*` is who did it (the login, and the employee it is linked to, if any);
    `on_behalf_of_id` is set when an admin acted as another employee.
    """

    __mapper_args__ = {"eager_defaults": True}  # timestamps come back with RETURNING
    __tablename__ = "expense_audit_events"
    __table_args__ = (
        Index("ix_expense_audit_events_expense_id_id", "expense_id", "id"),
        Index("ix_expense_audit_events_actor_account_id", "actor_account_id"),
        Index("ix_expense_audit_events_actor_employee_id", "actor_employee_id"),
        Index("ix_expense_audit_events_on_behalf_of_id", "on_behalf_of_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    expense_id: Mapped[int] = mapped_column(ForeignKey("expenses.id", ondelete="CASCADE"))
    step_number: Mapped[int | None] = mapped_column(SmallInteger)
    action: Mapped[str] = mapped_column(String(32))
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    actor_account_id: Mapped[int | None] = mapped_column(
        ForeignKey("accounts.id", ondelete="SET NULL")
    )
    actor_username: Mapped[str] = mapped_column(String(150))
    actor_employee_id: Mapped[int | None] = mapped_column(
        ForeignKey("employees.id", ondelete="SET NULL")
    )
    on_behalf_of_id: Mapped[int | None] = mapped_column(
        ForeignKey("employees.id", ondelete="SET NULL")
    )
    comment: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
