"""Accounting: each account's oldest good token version, beside its profile.

Revision ID: accounting_0003
Revises: accounting_0001
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "accounting_0003"
down_revision: str | None = "accounting_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add `accounts.token_version` (1 for every existing account)."""
    op.add_column(
        "accounts",
        sa.Column("token_version", sa.Integer(), server_default="1", nullable=False),
    )


def downgrade() -> None:
    """Drop `accounts.token_version`."""
    op.drop_column("accounts", "token_version")
