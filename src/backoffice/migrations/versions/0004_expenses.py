"""Expense approvals: policies, approval steps, expenses, approvals and their audit trail.

Revision ID: 0004_expenses
Revises: 0002_org
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_expenses"
down_revision: str | None = "0002_org"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _timestamps() -> list[sa.Column[object]]:
    return [
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
    ]


def upgrade() -> None:
    op.create_table(
        "expense_policies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("category", sa.String(50), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("min_amount", sa.Numeric(14, 2), nullable=False),
        sa.Column("max_amount", sa.Numeric(14, 2), nullable=True),
        sa.Column("is_active", sa.Boolean(), server_default="true", nullable=False),
        *_timestamps(),
        sa.CheckConstraint("min_amount >= 0", name="ck_expense_policies_min_amount"),
        sa.CheckConstraint(
            "max_amount IS NULL OR min_amount <= max_amount",
            name="ck_expense_policies_amount_range",
        ),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["companies.id"],
            name="fk_expense_policies_company_id_companies",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_expense_policies"),
        sa.UniqueConstraint(
            "company_id",
            "category",
            "min_amount",
            name="uq_expense_policies_company_id_category_min_amount",
        ),
    )
    op.create_table(
        "approval_steps",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("policy_id", sa.Integer(), nullable=False),
        sa.Column("step_order", sa.SmallInteger(), nullable=False),
        sa.Column("required_level", sa.SmallInteger(), nullable=False),
        sa.Column("team_scope", sa.String(16), nullable=False),
        sa.Column("scope_team_id", sa.Integer(), nullable=True),
        sa.Column("is_required", sa.Boolean(), server_default="true", nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        *_timestamps(),
        sa.CheckConstraint("step_order > 0", name="ck_approval_steps_step_order"),
        sa.CheckConstraint(
            "required_level BETWEEN 1 AND 10", name="ck_approval_steps_required_level"
        ),
        sa.CheckConstraint(
            "team_scope IN ('submitter', 'company', 'team')", name="ck_approval_steps_team_scope"
        ),
        sa.CheckConstraint(
            "(team_scope = 'team') = (scope_team_id IS NOT NULL)",
            name="ck_approval_steps_named_team",
        ),
        sa.ForeignKeyConstraint(
            ["policy_id"],
            ["expense_policies.id"],
            name="fk_approval_steps_policy_id_expense_policies",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["scope_team_id"],
            ["teams.id"],
            name="fk_approval_steps_scope_team_id_teams",
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_approval_steps"),
        sa.UniqueConstraint(
            "policy_id", "step_order", name="uq_approval_steps_policy_id_step_order"
        ),
    )
    op.create_index("ix_approval_steps_scope_team_id", "approval_steps", ["scope_team_id"])
    op.create_table(
        "expenses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("submitter_id", sa.Integer(), nullable=False),
        sa.Column("policy_id", sa.Integer(), nullable=False),
        sa.Column("amount", sa.Numeric(14, 2), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), server_default="pending", nullable=False),
        sa.Column(
            "submitted_at",
            sa.DateTime(timezone=True),
            server_default=sa.func.now(),
            nullable=False,
        ),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("amount > 0", name="ck_expenses_amount_positive"),
        sa.CheckConstraint(
            "status IN ('pending', 'approved', 'rejected')", name="ck_expenses_status"
        ),
        sa.CheckConstraint(
            "(status = 'pending') = (completed_at IS NULL)", name="ck_expenses_completed_at"
        ),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["companies.id"],
            name="fk_expenses_company_id_companies",
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["submitter_id"],
            ["employees.id"],
            name="fk_expenses_submitter_id_employees",
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["policy_id"],
            ["expense_policies.id"],
            name="fk_expenses_policy_id_expense_policies",
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_expenses"),
    )
    op.create_index("ix_expenses_submitter_id_id", "expenses", ["submitter_id", "id"])
    op.create_index("ix_expenses_company_id_status", "expenses", ["company_id", "status"])
    op.create_index("ix_expenses_policy_id", "expenses", ["policy_id"])
    op.create_table(
        "expense_approvals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("expense_id", sa.Integer(), nullable=False),
        sa.Column("step_id", sa.Integer(), nullable=True),
        sa.Column("step_number", sa.SmallInteger(), nullable=False),
        sa.Column("approver_id", sa.Integer(), nullable=False),
        sa.Column("approver_level", sa.SmallInteger(), nullable=False),
        sa.Column("is_required", sa.Boolean(), nullable=False),
        sa.Column("is_actionable", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("status", sa.String(16), server_default="pending", nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("comments", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'approved', 'rejected', 'cancelled', 'skipped')",
            name="ck_expense_approvals_status",
        ),
        sa.CheckConstraint(
            "(status = 'pending') = (decided_at IS NULL)", name="ck_expense_approvals_decided_at"
        ),
        sa.ForeignKeyConstraint(
            ["expense_id"],
            ["expenses.id"],
            name="fk_expense_approvals_expense_id_expenses",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["step_id"],
            ["approval_steps.id"],
            name="fk_expense_approvals_step_id_approval_steps",
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["approver_id"],
            ["employees.id"],
            name="fk_expense_approvals_approver_id_employees",
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_expense_approvals"),
        sa.UniqueConstraint(
            "expense_id", "step_number", name="uq_expense_approvals_expense_id_step_number"
        ),
    )
    op.create_index(
        "ix_expense_approvals_approver_id_status",
        "expense_approvals",
        ["approver_id", "status"],
    )
    op.create_index(
        "ix_expense_approvals_inbox",
        "expense_approvals",
        ["approver_id", "expense_id"],
        postgresql_where=sa.text("status = 'pending' AND is_actionable"),
    )
    op.create_index("ix_expense_approvals_step_id", "expense_approvals", ["step_id"])
    op.create_table(
        "expense_audit_events",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("expense_id", sa.Integer(), nullable=False),
        sa.Column("step_number", sa.SmallInteger(), nullable=True),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("from_status", sa.String(16), nullable=True),
        sa.Column("to_status", sa.String(16), nullable=False),
        sa.Column("actor_account_id", sa.Integer(), nullable=True),
        sa.Column("actor_username", sa.String(150), nullable=False),
        sa.Column("actor_employee_id", sa.Integer(), nullable=True),
        sa.Column("on_behalf_of_id", sa.Integer(), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["expense_id"],
            ["expenses.id"],
            name="fk_expense_audit_events_expense_id_expenses",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["actor_account_id"],
            ["accounts.id"],
            name="fk_expense_audit_events_actor_account_id_accounts",
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["actor_employee_id"],
            ["employees.id"],
            name="fk_expense_audit_events_actor_employee_id_employees",
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["on_behalf_of_id"],
            ["employees.id"],
            name="fk_expense_audit_events_on_behalf_of_id_employees",
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_expense_audit_events"),
    )
    op.create_index(
        "ix_expense_audit_events_expense_id_id", "expense_audit_events", ["expense_id", "id"]
    )
    op.create_index(
        "ix_expense_audit_events_actor_account_id", "expense_audit_events", ["actor_account_id"]
    )
    op.create_index(
        "ix_expense_audit_events_actor_employee_id", "expense_audit_events", ["actor_employee_id"]
    )
    op.create_index(
        "ix_expense_audit_events_on_behalf_of_id", "expense_audit_events", ["on_behalf_of_id"]
    )


def downgrade() -> None:
    op.drop_table("expense_audit_events")
    op.drop_table("expense_approvals")
    op.drop_table("expenses")
    op.drop_table("approval_steps")
    op.drop_table("expense_policies")
