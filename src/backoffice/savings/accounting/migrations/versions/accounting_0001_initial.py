"""Accounting: plans, the event store's tables and the projections.

The `eventsourcing` library's tables, composite type and function are created with its own
DDL, copied verbatim from eventsourcing 9.5.6 (`PostgresApplicationRecorder` and
`PostgresAggregateRecorder` for an application named "Accounting", schema public): the library
runs with CREATE_TABLE off and must find exactly what it would have made
(tests/savings/accounting/test_schema.py compares the two).

Revision ID: accounting_0001
Revises:
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "accounting_0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_AUTOVACUUM = (
    " WITH (    autovacuum_enabled = true,    autovacuum_vacuum_threshold = 100000000,"
    "    autovacuum_vacuum_scale_factor = 0.5,    autovacuum_analyze_threshold = 1000,"
    "    autovacuum_analyze_scale_factor = 0.01)"
)
LIBRARY_DDL = (
    'CREATE TABLE IF NOT EXISTS "public"."accounting_events" (originator_id "uuid" NOT NULL,'
    " originator_version bigint NOT NULL, topic text, state bytea, notification_id bigserial,"
    " PRIMARY KEY (originator_id, originator_version))" + _AUTOVACUUM,
    'CREATE TYPE "public"."stored_event_uuid" AS (originator_id "uuid",'
    " originator_version bigint, topic text, state bytea)",
    'CREATE UNIQUE INDEX IF NOT EXISTS "accounting_events_notification_id_idx"'
    ' ON "public"."accounting_events" (notification_id ASC);',
    'CREATE OR REPLACE FUNCTION "public"."es_insert_events_uuid"(events'
    ' "public"."stored_event_uuid"[]) RETURNS SETOF bigint LANGUAGE plpgsql AS'
    " $BODY$BEGIN    SET LOCAL lock_timeout = '0s';    NOTIFY \"accounting_events\";"
    '    RETURN QUERY    INSERT INTO "public"."accounting_events" AS t ('
    "    originator_id, originator_version, topic, state)    SELECT originator_id,"
    " originator_version, topic, state    FROM unnest(events)"
    "    RETURNING notification_id;END;$BODY$",
    'CREATE TABLE IF NOT EXISTS "public"."accounting_snapshots" (originator_id "uuid" NOT NULL,'
    " originator_version bigint NOT NULL, topic text, state bytea,"
    " PRIMARY KEY (originator_id, originator_version))" + _AUTOVACUUM,
)

MONEY = sa.Numeric(14, 2)


def upgrade() -> None:
    """Create every table of the accounting database."""
    for statement in LIBRARY_DDL:
        op.execute(statement)
    op.create_table(
        "plans",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("value", MONEY, nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.CheckConstraint("kind IN ('flat-amount', 'percentage')", name="ck_plans_kind"),
        sa.CheckConstraint(
            "(kind = 'flat-amount' AND value > 0)"
            " OR (kind = 'percentage' AND value BETWEEN 0 AND 100)",
            name="ck_plans_value",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_plans"),
        sa.UniqueConstraint("name", name="uq_plans_name"),
    )
    op.create_table(
        "accounts",
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("email", sa.Text(), nullable=False),
        sa.Column("full_name", sa.Text(), nullable=False),
        sa.Column("plan_id", sa.BigInteger(), nullable=True),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["plan_id"], ["plans.id"], name="fk_accounts_plan_id_plans"),
        sa.PrimaryKeyConstraint("account_id", name="pk_accounts"),
    )
    op.create_table(
        "credits",
        sa.Column("credit_id", sa.Uuid(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("amount", MONEY, nullable=False),
        sa.Column("main", MONEY, nullable=False),
        sa.Column("savings", MONEY, nullable=False),
        sa.Column("main_balance", MONEY, nullable=False),
        sa.Column("savings_balance", MONEY, nullable=False),
        sa.Column("originator_version", sa.BigInteger(), nullable=False),
        sa.Column("idempotency_key", sa.Text(), nullable=False),
        sa.Column("request_hash", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("credit_id", name="pk_credits"),
        sa.UniqueConstraint(
            "account_id", "idempotency_key", name="uq_credits_account_id_idempotency_key"
        ),
    )
    # Balance at an instant and a date range: one descent by (account, time, version).
    op.create_index("ix_credits_account_id", "credits", ["account_id", "at", "originator_version"])
    op.create_table(
        "processed_messages",
        sa.Column("consumer", sa.Text(), nullable=False),
        sa.Column("msg_id", sa.Text(), nullable=False),
        sa.Column(
            "processed_at",
            sa.DateTime(timezone=True),
            server_default=sa.func.now(),
            nullable=True,
        ),
        sa.PrimaryKeyConstraint("consumer", "msg_id", name="pk_processed_messages"),
    )


def downgrade() -> None:
    """Drop every table of the accounting database (and the library's type and function)."""
    op.drop_table("processed_messages")
    op.drop_index("ix_credits_account_id", table_name="credits")
    op.drop_table("credits")
    op.drop_table("accounts")
    op.drop_table("plans")
    op.execute('DROP FUNCTION IF EXISTS "public"."es_insert_events_uuid"')
    op.execute('DROP TABLE IF EXISTS "public"."accounting_snapshots"')
    op.execute('DROP TABLE IF EXISTS "public"."accounting_events"')
    op.execute('DROP TYPE IF EXISTS "public"."stored_event_uuid"')
