"""Expenses: per-approver count of waiting steps, kept by submissions and decisions.

Revision ID: 0007_expense_inbox_counts
Revises: 0006_expense_versions
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_expense_inbox_counts"
down_revision: str | None = "0006_expense_versions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "expense_inbox_counts",
        sa.Column("approver_id", sa.Integer(), nullable=False),
        sa.Column("waiting", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["approver_id"],
            ["employees.id"],
            name="fk_expense_inbox_counts_approver_id_employees",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("approver_id", name="pk_expense_inbox_counts"),
    )
    op.execute(
        "INSERT INTO expense_inbox_counts (approver_id, waiting)"
        " SELECT approver_id, count(*) FROM expense_approvals"
        " WHERE status = 'pending' AND is_actionable GROUP BY approver_id"
    )


def downgrade() -> None:
    op.drop_table("expense_inbox_counts")
