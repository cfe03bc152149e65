"""The body of every Alembic `env.py`: the main database's and each savings service's."""

from __future__ import annotations

from alembic import context
from sqlalchemy import MetaData, create_engine, pool


def run_env(target_metadata: MetaData) -> None:
    """Run the migrations Alembic asked for (offline SQL, a given connection, or the config's URL).

    Args:
        target_metadata: the models of the history's database (autogenerate compares with it;
            a helper, never the source of truth).
    """
    config = context.config
    if context.is_offline_mode():
        context.configure(
            url=config.get_main_option("sqlalchemy.url"),
            target_metadata=target_metadata,
            literal_binds=True,
            dialect_opts={"paramstyle": "named"},
        )
        with context.begin_transaction():
            context.run_migrations()
        return
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
