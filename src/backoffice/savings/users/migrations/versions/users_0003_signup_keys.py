"""Users service: the Idempotency-Key each signup was made with.

Revision ID: users_0003
Revises: users_0002
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "users_0003"
down_revision: str | None = "users_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create `signup_keys`, each row going with its customer."""
    op.create_table(
        "signup_keys",
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name="fk_signup_keys_customer_id_customers",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("key", name="pk_signup_keys"),
    )
    op.create_index("ix_signup_keys_customer_id", "signup_keys", ["customer_id"])


def downgrade() -> None:
    """Drop `signup_keys`."""
    op.drop_index("ix_signup_keys_customer_id", table_name="signup_keys")
    op.drop_table("signup_keys")
