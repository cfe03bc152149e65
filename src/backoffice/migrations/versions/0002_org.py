"""Org directory (companies, teams, hierarchy levels, employees) and the countries they pay in.

Revision ID: 0002_org
Revises: 0001_core
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_org"
down_revision: str | None = "0001_core"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _timestamps() -> list[sa.Column[object]]:
    return [
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
    ]


def upgrade() -> None:
    op.create_table(
        "countries",
        sa.Column("iso_code", sa.String(2), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        *_timestamps(),
        sa.PrimaryKeyConstraint("iso_code", name="pk_countries"),
        sa.UniqueConstraint("name", name="uq_countries_name"),
    )
    op.create_table(
        "companies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        *_timestamps(),
        sa.PrimaryKeyConstraint("id", name="pk_companies"),
        sa.UniqueConstraint("name", name="uq_companies_name"),
    )
    op.create_table(
        "teams",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("is_company_wide", sa.Boolean(), server_default="false", nullable=False),
        *_timestamps(),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["companies.id"],
            name="fk_teams_company_id_companies",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_teams"),
        sa.UniqueConstraint("company_id", "name", name="uq_teams_company_id_name"),
    )
    op.create_table(
        "hierarchy_levels",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=True),
        sa.Column("level_number", sa.SmallInteger(), nullable=False),
        sa.Column("level_name", sa.String(100), nullable=False),
        *_timestamps(),
        sa.CheckConstraint(
            "level_number BETWEEN 1 AND 10", name="ck_hierarchy_levels_level_number"
        ),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["companies.id"],
            name="fk_hierarchy_levels_company_id_companies",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["team_id"], ["teams.id"], name="fk_hierarchy_levels_team_id_teams", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_hierarchy_levels"),
        sa.UniqueConstraint(
            "company_id",
            "team_id",
            "level_number",
            name="uq_hierarchy_levels_company_id_team_id_level_number",
        ),
    )
    op.create_table(
        "employees",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("full_name", sa.String(200), nullable=False),
        sa.Column("job_title", sa.String(200), nullable=False),
        sa.Column("country_iso", sa.String(2), nullable=False),
        sa.Column("salary", sa.Numeric(14, 2), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=True),
        sa.Column("team_id", sa.Integer(), nullable=True),
        sa.Column("level_id", sa.Integer(), nullable=True),
        sa.Column("email", sa.String(254), nullable=True),
        sa.Column("is_active", sa.Boolean(), server_default="true", nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=True),
        *_timestamps(),
        sa.CheckConstraint("salary > 0", name="ck_employees_salary_positive"),
        sa.ForeignKeyConstraint(
            ["country_iso"],
            ["countries.iso_code"],
            name="fk_employees_country_iso_countries",
            onupdate="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["companies.id"],
            name="fk_employees_company_id_companies",
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["team_id"], ["teams.id"], name="fk_employees_team_id_teams", ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["level_id"],
            ["hierarchy_levels.id"],
            name="fk_employees_level_id_hierarchy_levels",
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name="fk_employees_account_id_accounts",
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_employees"),
        sa.UniqueConstraint("company_id", "email", name="uq_employees_company_id_email"),
        sa.UniqueConstraint("account_id", name="uq_employees_account_id"),
    )
    op.create_index("ix_employees_company_team", "employees", ["company_id", "team_id"])
    op.create_index("ix_employees_country_iso", "employees", ["country_iso"])
    op.create_index("ix_employees_level_id", "employees", ["level_id"])


def downgrade() -> None:
    op.drop_table("employees")
    op.drop_table("hierarchy_levels")
    op.drop_table("teams")
    op.drop_table("companies")
    op.drop_table("countries")
