"""Org: a trigram index on employees.full_name for the name search (`name`, part of it, any case).

Revision ID: 0015_employee_name_trigram
Revises: 0002_org
Create Date: 2026-12-06

The list's name filter is `full_name ILIKE '%<text>%'` (`core.pagination.contains`): no B-tree
serves a pattern with a leading wildcard, so at 1,000,000 employees each search scanned the
table (about 300 ms, page and count). pg_trgm's GIN operator class answers LIKE and ILIKE on
the bare column, which is the expression the filter uses, so the index needs no change to the
query. pg_trgm is a trusted extension shipped with PostgreSQL (the embedded 18 and Debian's 15):
the database owner may create it. Figures: docs/benchmarks.md, "Console: the payroll pages".
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0015_employee_name_trigram"
down_revision: str | None = "0002_org"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.create_index(
        "ix_employees_full_name_trgm",
        "employees",
        ["full_name"],
        postgresql_using="gin",
        postgresql_ops={"full_name": "gin_trgm_ops"},
    )


def downgrade() -> None:
    op.drop_index("ix_employees_full_name_trgm", table_name="employees")
    # No CASCADE: should anything else have come to use the extension, this fails loudly.
    op.execute("DROP EXTENSION IF EXISTS pg_trgm")
