"""Alembic environment of the main database (one history; the savings services have their own)."""

from alembic import context
from sqlalchemy import create_engine, pool

# Every context's models, so that autogenerate (a helper, never the source of truth) sees them.
import backoffice.core.auth.models
import backoffice.expenses.models
import backoffice.merchants.models
import backoffice.org.models
import backoffice.payroll.models
import backoffice.transactions.models  # noqa: F401
from backoffice.core.db import Base

config = context.config
target_metadata = Base.metadata


def run_migrations_offline() -> None:
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connectable = config.attributes.get("connection")
    if connectable is not None:
        context.configure(connection=connectable, target_metadata=target_metadata)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_engine(config.get_main_option("sqlalchemy.url", ""), poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(
            connection=connection, target_metadata=target_metadata, transaction_per_migration=False
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
