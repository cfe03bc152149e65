"""Database engine, sessions and the one-transaction-per-request rule."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Annotated

import asyncpg  # type: ignore[import-untyped]
from fastapi import Depends, Request
from sqlalchemy import DateTime, MetaData, func
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from backoffice.core.config import Settings
from backoffice.core.embedded import driver_url, ensure_database, start_postgres, with_database

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base of the main database (every context but the savings services)."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class TimestampMixin:
    """`created_at` / `updated_at` kept by the database, in UTC."""

    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now(), nullable=False
    )


MAIN_DATABASE = "backoffice"


def resolve_database_url(settings: Settings, database: str = MAIN_DATABASE) -> str:
    """The main database URL: `DATABASE_URL`, or an embedded server's database `database`.

    With no `DATABASE_URL`, this starts (or reuses) the embedded PostgreSQL under
    `BACKOFFICE_HOME` and creates `database` in it.
    """
    if settings.database_url:
        return settings.database_url
    admin = start_postgres(settings.home)
    ensure_database(admin, database)
    return with_database(admin, database)


class Database:
    """An async engine and its session factory, one per process and database."""

    def __init__(self, url: str, *, pool_size: int = 10, max_overflow: int = 10) -> None:
        self.url = url
        self.engine: AsyncEngine = create_async_engine(
            driver_url(url, "asyncpg"),
            pool_size=pool_size,
            max_overflow=max_overflow,
            pool_pre_ping=False,
        )
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False)
        self._read_pool_size = max(2, pool_size // 2)
        self._read_pool: asyncpg.Pool | None = None
        self._read_pool_lock = asyncio.Lock()
        # Same pool; its statements run in autocommit: no BEGIN and COMMIT round trips.
        self.autocommit_sessionmaker = async_sessionmaker(
            self.engine.execution_options(isolation_level="AUTOCOMMIT"), expire_on_commit=False
        )

    @asynccontextmanager
    async def unit_of_work(self) -> AsyncIterator[AsyncSession]:
        """One transaction for a CLI command, a job or a consumer: commit on success."""
        async with self.sessionmaker() as session, session.begin():
            yield session

    async def read_pool(self) -> asyncpg.Pool:
        """Plain asyncpg connections for one-statement reads outside any transaction.

        For the hottest read paths, where the ORM session's Python cost dominates. Created on
        first use (the app may be served without lifespan events), beside the ORM pool and
        half its size, so the sum stays within the server's connection limit.
        """
        if self._read_pool is None:
            async with self._read_pool_lock:
                if self._read_pool is None:
                    self._read_pool = await asyncpg.create_pool(
                        driver_url(self.url, None),
                        min_size=1,
                        max_size=self._read_pool_size,
                        reset=_no_reset,
                    )
        return self._read_pool

    async def dispose(self) -> None:
        """Close every pooled connection."""
        if self._read_pool is not None:
            await self._read_pool.close()
            self._read_pool = None
        await self.engine.dispose()


async def _no_reset(_: object) -> None:
    """Release read-pool connections without the reset query: they only ever run SELECTs."""


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """The request's session; its transaction commits after the endpoint returns."""
    database: Database = request.app.state.db
    async with database.sessionmaker() as session, session.begin():
        yield session


# scope="function": commit before the response is sent, so a failed commit is an error response.
DbSession = Annotated[AsyncSession, Depends(get_session, scope="function")]


async def get_autocommit_session(request: Request) -> AsyncIterator[AsyncSession]:
    """A session whose statements each commit on their own (no BEGIN / COMMIT round trips).

    For endpoints that only read, or whose one write is a single statement after their
    reads. Under READ COMMITTED every statement of a transaction takes its own snapshot
    anyway, so such an endpoint sees and writes exactly what it would in one transaction;
    only the two round trips (and their share of the server's CPU) go. Anything that needs
    a lock held until a later statement, or several writes together, uses `DbSession`.
    """
    database: Database = request.app.state.db
    async with database.autocommit_sessionmaker() as session:
        yield session


AutocommitSession = Annotated[AsyncSession, Depends(get_autocommit_session, scope="function")]
