"""Payroll: versioned tax policies, salary aggregates kept by triggers, salary indexes.

Revision ID: 0003_payroll
Revises: 0002_org
Create Date: 2026-11-22

The salary aggregates (count and sum per country, per job title and per both) are kept by
statement-level triggers with transition tables, so a COPY of a million rows updates them
once per statement rather than once per row, in the same transaction as the rows. Min and
max come from the (group, salary) indexes created here.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_payroll"
down_revision: str | None = "0002_org"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STATS_TABLES = {
    "salary_stats_by_country": ["country_iso"],
    "salary_stats_by_job_title": ["job_title"],
    "salary_stats_by_country_job_title": ["country_iso", "job_title"],
}

# Applies a delta (per country and job title: +/- head count, +/- salary sum) to the three
# aggregate tables. Upserts go in key order so concurrent writers lock rows in one order.
APPLY_DELTA = """
CREATE FUNCTION payroll_apply_salary_delta(
    p_country text[], p_title text[], p_count bigint[], p_total numeric[]
) RETURNS void LANGUAGE sql VOLATILE AS $$
    INSERT INTO salary_stats_by_country AS s (country_iso, employee_count, salary_total)
    SELECT c, sum(n), sum(t) FROM unnest(p_country, p_title, p_count, p_total) AS d(c, j, n, t)
    GROUP BY c ORDER BY c
    ON CONFLICT (country_iso) DO UPDATE
    SET employee_count = s.employee_count + excluded.employee_count,
        salary_total = s.salary_total + excluded.salary_total;

    INSERT INTO salary_stats_by_job_title AS s (job_title, employee_count, salary_total)
    SELECT j, sum(n), sum(t) FROM unnest(p_country, p_title, p_count, p_total) AS d(c, j, n, t)
    GROUP BY j ORDER BY j
    ON CONFLICT (job_title) DO UPDATE
    SET employee_count = s.employee_count + excluded.employee_count,
        salary_total = s.salary_total + excluded.salary_total;

    INSERT INTO salary_stats_by_country_job_title AS s
        (country_iso, job_title, employee_count, salary_total)
    SELECT c, j, sum(n), sum(t) FROM unnest(p_country, p_title, p_count, p_total) AS d(c, j, n, t)
    GROUP BY c, j ORDER BY c, j
    ON CONFLICT (country_iso, job_title) DO UPDATE
    SET employee_count = s.employee_count + excluded.employee_count,
        salary_total = s.salary_total + excluded.salary_total;

    DELETE FROM salary_stats_by_country
    WHERE employee_count = 0 AND country_iso = ANY(p_country);
    DELETE FROM salary_stats_by_job_title
    WHERE employee_count = 0 AND job_title = ANY(p_title);
    DELETE FROM salary_stats_by_country_job_title
    WHERE employee_count = 0 AND country_iso = ANY(p_country) AND job_title = ANY(p_title);
$$;
"""

# `rows` is the SQL of (country_iso, job_title, n, total) rows the statement changed.
TRIGGER_FUNCTION = """
CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM payroll_apply_salary_delta(
        array_agg(country_iso), array_agg(job_title), array_agg(n), array_agg(total)
    )
    FROM (
        SELECT country_iso, job_title, sum(n)::bigint AS n, sum(total) AS total
        FROM ({rows}) AS changed
        GROUP BY country_iso, job_title
        HAVING sum(n) <> 0 OR sum(total) <> 0
    ) AS delta
    HAVING count(*) > 0;
    RETURN NULL;
END $$;
"""

ADDED = "SELECT country_iso, job_title, 1 AS n, salary AS total FROM new_rows"
REMOVED = "SELECT country_iso, job_title, -1 AS n, -salary AS total FROM old_rows"

TRIGGERS = {
    "payroll_salary_stats_insert": ("INSERT", "NEW TABLE AS new_rows", ADDED),
    "payroll_salary_stats_update": (
        "UPDATE",
        "OLD TABLE AS old_rows NEW TABLE AS new_rows",
        f"{ADDED} UNION ALL {REMOVED}",
    ),
    "payroll_salary_stats_delete": ("DELETE", "OLD TABLE AS old_rows", REMOVED),
}

TRUNCATE_FUNCTION = """
CREATE FUNCTION payroll_salary_stats_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM salary_stats_by_country;
    DELETE FROM salary_stats_by_job_title;
    DELETE FROM salary_stats_by_country_job_title;
    RETURN NULL;
END $$;
"""

BACKFILL = """
SELECT payroll_apply_salary_delta(
    array_agg(country_iso), array_agg(job_title), array_agg(n), array_agg(total)
)
FROM (
    SELECT country_iso, job_title, count(*) AS n, sum(salary) AS total
    FROM employees GROUP BY country_iso, job_title
) AS existing
HAVING count(*) > 0
"""


def _stats_table(name: str, keys: list[str]) -> None:
    key_columns = {"country_iso": sa.String(2), "job_title": sa.String(200)}
    op.create_table(
        name,
        *(sa.Column(key, key_columns[key], nullable=False) for key in keys),
        sa.Column("employee_count", sa.BigInteger(), nullable=False),
        sa.Column("salary_total", sa.Numeric(20, 2), nullable=False),
        sa.PrimaryKeyConstraint(*keys, name=f"pk_{name}"),
    )


def upgrade() -> None:
    op.create_check_constraint("ck_countries_iso_code", "countries", "iso_code ~ '^[A-Z]{2}$'")
    op.create_check_constraint("ck_countries_currency", "countries", "currency ~ '^[A-Z]{3}$'")

    op.create_table(
        "tax_policy_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("country_iso", sa.String(2), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("effective_from", sa.Date(), nullable=False),
        sa.Column("flat_rate", sa.Numeric(7, 4), nullable=True),
        sa.Column("standard_deduction", sa.Numeric(14, 2), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.CheckConstraint(
            "flat_rate IS NULL OR flat_rate BETWEEN 0 AND 100",
            name="ck_tax_policy_versions_flat_rate",
        ),
        sa.CheckConstraint(
            "standard_deduction IS NULL OR standard_deduction >= 0",
            name="ck_tax_policy_versions_standard_deduction",
        ),
        sa.ForeignKeyConstraint(
            ["country_iso"],
            ["countries.iso_code"],
            name="fk_tax_policy_versions_country_iso_countries",
            onupdate="CASCADE",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_tax_policy_versions"),
        sa.UniqueConstraint(
            "country_iso", "version", name="uq_tax_policy_versions_country_iso_version"
        ),
    )
    op.create_index(
        "ix_tax_policy_versions_in_force",
        "tax_policy_versions",
        ["country_iso", "effective_from", "version"],
    )
    op.create_table(
        "tax_slabs",
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.SmallInteger(), nullable=False),
        sa.Column("lower_bound", sa.Numeric(14, 2), nullable=False),
        sa.Column("upper_bound", sa.Numeric(14, 2), nullable=True),
        sa.Column("rate", sa.Numeric(7, 4), nullable=False),
        sa.CheckConstraint("rate BETWEEN 0 AND 100", name="ck_tax_slabs_rate"),
        sa.CheckConstraint("lower_bound >= 0", name="ck_tax_slabs_lower_bound"),
        sa.CheckConstraint(
            "upper_bound IS NULL OR upper_bound > lower_bound", name="ck_tax_slabs_upper_bound"
        ),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["tax_policy_versions.id"],
            name="fk_tax_slabs_version_id_tax_policy_versions",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("version_id", "position", name="pk_tax_slabs"),
    )
    # History is append-only: the database refuses to rewrite a published version.
    op.execute(
        """
        CREATE FUNCTION payroll_policy_history_is_append_only() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            -- a country's code may still change (the foreign keys cascade it)
            IF TG_TABLE_NAME = 'tax_policy_versions'
               AND to_jsonb(NEW) - 'country_iso' = to_jsonb(OLD) - 'country_iso' THEN
                RETURN NEW;
            END IF;
            RAISE EXCEPTION 'tax policy versions are append-only' USING ERRCODE = 'P0001';
        END $$;
        """
    )
    for table in ("tax_policy_versions", "tax_slabs"):
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION payroll_policy_history_is_append_only()"
        )

    for name, keys in STATS_TABLES.items():
        _stats_table(name, keys)

    # Min and max per group come from these; the first also serves the country foreign key.
    op.drop_index("ix_employees_country_iso", table_name="employees")
    op.create_index("ix_employees_country_salary", "employees", ["country_iso", "salary"])
    op.create_index("ix_employees_job_title_salary", "employees", ["job_title", "salary"])
    op.create_index(
        "ix_employees_country_job_title_salary", "employees", ["country_iso", "job_title", "salary"]
    )

    op.execute(APPLY_DELTA)
    for name, (event, referencing, rows) in TRIGGERS.items():
        op.execute(TRIGGER_FUNCTION.format(name=name, rows=rows))
        op.execute(
            f"CREATE TRIGGER {name} AFTER {event} ON employees REFERENCING {referencing} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {name}()"
        )
    op.execute(TRUNCATE_FUNCTION)
    op.execute(
        "CREATE TRIGGER payroll_salary_stats_truncate AFTER TRUNCATE ON employees "
        "FOR EACH STATEMENT EXECUTE FUNCTION payroll_salary_stats_truncate()"
    )
    op.execute(BACKFILL)


def downgrade() -> None:
    op.execute("DROP TRIGGER payroll_salary_stats_truncate ON employees")
    op.execute("DROP FUNCTION payroll_salary_stats_truncate()")
    for name in TRIGGERS:
        op.execute(f"DROP TRIGGER {name} ON employees")
        op.execute(f"DROP FUNCTION {name}()")
    op.execute("DROP FUNCTION payroll_apply_salary_delta(text[], text[], bigint[], numeric[])")

    op.drop_index("ix_employees_country_job_title_salary", table_name="employees")
    op.drop_index("ix_employees_job_title_salary", table_name="employees")
    op.drop_index("ix_employees_country_salary", table_name="employees")
    op.create_index("ix_employees_country_iso", "employees", ["country_iso"])

    for name in reversed(list(STATS_TABLES)):
        op.drop_table(name)
    op.drop_table("tax_slabs")
    op.drop_table("tax_policy_versions")
    op.execute("DROP FUNCTION payroll_policy_history_is_append_only()")
    op.drop_constraint("ck_countries_currency", "countries", type_="check")
    op.drop_constraint("ck_countries_iso_code", "countries", type_="check")
