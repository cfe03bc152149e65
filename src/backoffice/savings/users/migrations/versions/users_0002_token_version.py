"""Users service: a token version per customer, raised when the password changes.

Revision ID: users_0002
Revises: users_0001
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "users_0002"
down_revision: str | None = "users_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add `customers.token_version` (1 for every existing customer)."""
    op.add_column(
        "customers",
        sa.Column("token_version", sa.Integer(), server_default="1", nullable=False),
    )


def downgrade() -> None:
    """Drop `customers.token_version`."""
    op.drop_column("customers", "token_version")
