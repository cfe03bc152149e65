"""Alembic, driven from code: the only way a schema comes to exist."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from backoffice.core.embedded import driver_url

MAIN_SCRIPTS = "backoffice:migrations"


def alembic_config(url: str, scripts: str = MAIN_SCRIPTS) -> Config:
    """An Alembic config for the database at `url` (no alembic.ini needed)."""
    config = Config()
    config.set_main_option("script_location", scripts)
    config.set_main_option("sqlalchemy.url", driver_url(url, "psycopg").replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "heads", scripts: str = MAIN_SCRIPTS) -> None:
    """Apply migrations up to `revision`."""
    command.upgrade(alembic_config(url, scripts), revision)


def downgrade(url: str, revision: str, scripts: str = MAIN_SCRIPTS) -> None:
    """Revert migrations down to `revision` (`base` for an empty database)."""
    command.downgrade(alembic_config(url, scripts), revision)


def head_revisions(scripts: str = MAIN_SCRIPTS) -> set[str]:
    """The head revision(s) this code expects."""
    config = Config()
    config.set_main_option("script_location", scripts)
    return set(ScriptDirectory.from_config(config).get_heads())


async def applied_revisions(engine: AsyncEngine) -> set[str]:
    """The revisions recorded in the database (empty if it was never migrated)."""
    async with engine.connect() as conn:
        exists = await conn.scalar(text("SELECT to_regclass('alembic_version') IS NOT NULL"))
        if not exists:
            return set()
        rows = await conn.execute(text("SELECT version_num FROM alembic_version"))
        return {row[0] for row in rows}
