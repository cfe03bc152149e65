"""Expenses: the inbox index in the inbox's full order (approver, expense, step).

Revision ID: 0008_expense_inbox_order
Revises: 0007_expense_inbox_counts
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_expense_inbox_order"
down_revision: str | None = "0007_expense_inbox_counts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WAITING = sa.text("status = 'pending' AND is_actionable")


def _inbox_index(columns: list[str]) -> None:
    op.drop_index("ix_expense_approvals_inbox", table_name="expense_approvals")
    op.create_index(
        "ix_expense_approvals_inbox", "expense_approvals", columns, postgresql_where=WAITING
    )


def upgrade() -> None:
    _inbox_index(["approver_id", "expense_id", "step_number"])


def downgrade() -> None:
    _inbox_index(["approver_id", "expense_id"])
