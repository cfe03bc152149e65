"""Expenses: a version that every decision bumps (optimistic concurrency for decisions).

Revision ID: 0006_expense_versions
Revises: 0004_expenses
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_expense_versions"
down_revision: str | None = "0004_expenses"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "expenses", sa.Column("version", sa.Integer(), server_default="0", nullable=False)
    )


def downgrade() -> None:
    op.drop_column("expenses", "version")
