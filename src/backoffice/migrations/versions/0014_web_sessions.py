"""Core: the web console's sign-in sessions, kept on the server.

A browser holds a random token in a cookie; the table holds its SHA-256 only, so a copy of the
table signs nobody in. A staff session names its account and the account's `auth_version` at
sign-in (a password or role change, a disabled or deleted account ends it); a customer session
holds the savings customer's token, which the savings services check on every call.

Revision ID: 0014_web_sessions
Revises: 0013_accounts_audit
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014_web_sessions"
down_revision: str | None = "0013_accounts_audit"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "web_sessions",
        sa.Column("token_hash", sa.LargeBinary(), nullable=False),
        sa.Column(
            "account_id",
            sa.Integer(),
            sa.ForeignKey(
                "accounts.id", ondelete="CASCADE", name="fk_web_sessions_account_id_accounts"
            ),
            nullable=True,
        ),
        sa.Column("auth_version", sa.Integer(), nullable=True),
        sa.Column("customer_id", sa.String(64), nullable=True),
        sa.Column("customer_email", sa.String(320), nullable=True),
        sa.Column("customer_token", sa.Text(), nullable=True),
        sa.Column("csrf_token", sa.String(64), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("token_hash", name="pk_web_sessions"),
        sa.CheckConstraint(
            "(account_id IS NOT NULL AND auth_version IS NOT NULL AND customer_id IS NULL)"
            " OR (account_id IS NULL AND customer_id IS NOT NULL AND customer_token IS NOT NULL)",
            name="ck_web_sessions_one_kind",
        ),
    )
    op.create_index("ix_web_sessions_account_id", "web_sessions", ["account_id"])
    op.create_index("ix_web_sessions_expires_at", "web_sessions", ["expires_at"])


def downgrade() -> None:
    op.drop_table("web_sessions")
