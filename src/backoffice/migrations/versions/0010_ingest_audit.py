"""Ingest audit for the ETL: conflicting duplicates in the quarantine, and their count per run.

Revision ID: 0010_ingest_audit
Revises: 0005_merchants
Create Date: 2026-12-04

On the merchants' branch, which owns `import_runs` and `import_rejects` (the engine's audit,
shared by every dataset).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_ingest_audit"
down_revision: str | None = "0005_merchants"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "import_runs",
        sa.Column("conflicting", sa.BigInteger(), server_default="0", nullable=False),
    )
    op.add_column("import_rejects", sa.Column("first_version", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("import_rejects", "first_version")
    op.drop_column("import_runs", "conflicting")
