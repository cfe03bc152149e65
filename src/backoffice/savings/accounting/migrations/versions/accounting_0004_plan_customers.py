"""Accounting: the open accounts on each plan, by email (an operator's list of a plan's customers).

Revision ID: accounting_0004
Revises: accounting_0003
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "accounting_0004"
down_revision: str | None = "accounting_0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Index the open accounts by plan and email."""
    op.create_index(
        "ix_accounts_plan_id_email",
        "accounts",
        ["plan_id", "email"],
        postgresql_where=sa.text("closed_at IS NULL"),
    )


def downgrade() -> None:
    """Drop the index."""
    op.drop_index("ix_accounts_plan_id_email", table_name="accounts")
