"""Database engine, sessions and the one-transaction-per-request rule."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Annotated, Any, Protocol, cast

import asyncpg  # type: ignore[import-untyped]
from fastapi import Depends, Request
from sqlalchemy import DateTime, MetaData, func
from sqlalchemy.dialects.postgresql.asyncpg import PGDialect_asyncpg
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import ClauseElement

from backoffice.core.embedded import driver_url
from backoffice.core.errors import DomainError

FOREIGN_KEY_VIOLATION = "23503"

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
        self._statement_pool_size = max(2, pool_size // 2)
        self._statement_pool: asyncpg.Pool | None = None
        self._statement_pool_lock = asyncio.Lock()
        # Same pool; its statements run in autocommit: no BEGIN and COMMIT round trips.
        self.autocommit_sessionmaker = async_sessionmaker(
            self.engine.execution_options(isolation_level="AUTOCOMMIT"), expire_on_commit=False
        )

    @asynccontextmanager
    async def unit_of_work(self) -> AsyncIterator[AsyncSession]:
        """One transaction for a CLI command, a job or a consumer: commit on success."""
        async with self.sessionmaker() as session, session.begin():
            yield session

    async def statement_pool(self) -> asyncpg.Pool:
        """The statement pool: every statement borrows a connection and commits on its own.

        A plain asyncpg pool for the hottest paths, where the ORM's Python cost dominates. It
        runs `Sql` statements (see below) in autocommit, one connection per statement: two
        statements are two transactions, possibly on two connections, so nothing is atomic
        across them and no lock outlives its statement (docs/decisions.md says what may run
        here). Created on first use (the app may be served without lifespan events), beside
        the ORM pool and half its size, so the sum stays within the server's connection limit.

        Each connection plans a statement once and reuses that generic plan. PostgreSQL's own
        choice re-plans, on every execution, any statement whose generic estimate looks worse
        than a plan for the actual values (a LIMIT or an array parameter is enough): 0.3 to
        0.8 ms of server CPU each time on the expense load test. `Sql` statements are key
        lookups whose plans do not depend on the values (the inbox is written so that even
        its generic plan reads by index); tests/core/test_generic_plans.py checks them.
        """
        if self._statement_pool is None:
            async with self._statement_pool_lock:
                if self._statement_pool is None:
                    self._statement_pool = await asyncpg.create_pool(
                        driver_url(self.url, None),
                        min_size=1,
                        max_size=self._statement_pool_size,
                        reset=_rollback_if_needed,
                        init=_decode_json,
                        server_settings={"plan_cache_mode": "force_generic_plan"},
                    )
        return self._statement_pool

    async def dispose(self) -> None:
        """Close every pooled connection."""
        if self._statement_pool is not None:
            await self._statement_pool.close()
            self._statement_pool = None
        await self.engine.dispose()


async def _decode_json(conn: Any) -> None:
    """JSON columns come back as Python values, as on SQLAlchemy's asyncpg connections."""
    for name in ("json", "jsonb"):
        await conn.set_type_codec(name, schema="pg_catalog", encoder=json.dumps, decoder=json.loads)


async def _rollback_if_needed(conn: Any) -> None:
    """On release: end a transaction a cancelled request left open; otherwise no round trip.

    (asyncpg's default reset sends a query on every release; these connections never change
    session state, so only an open transaction needs undoing.)
    """
    if conn.is_in_transaction():
        await conn.execute("ROLLBACK")


async def flush_or(
    session: AsyncSession, error: DomainError, *, gone: DomainError | None = None
) -> None:
    """Flush inside a savepoint: a violated constraint raises `error`, and the session lives on.

    A unique key or a referenced row that a concurrent request took or deleted between a
    service's checks and its write is then a clean domain error (409), not a 500 and a dead
    transaction. `gone`, if given, is raised instead for a foreign key whose row is gone.
    """
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError as exc:
        foreign_key = getattr(exc.orig, "sqlstate", None) == FOREIGN_KEY_VIOLATION
        raise (gone if gone is not None and foreign_key else error) from exc


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


# --- the statement pool: statements compiled once, each run on its own (autocommit) ----------

_ASYNCPG = PGDialect_asyncpg()  # type: ignore[no-untyped-call]


class Driver(Protocol):
    """What `Sql` runs on: an asyncpg connection or pool (asyncpg ships no type hints)."""

    async def fetch(self, query: str, *args: Any) -> list[Any]:
        """Every row."""

    async def fetchrow(self, query: str, *args: Any) -> Any:
        """The first row, or None."""

    async def fetchval(self, query: str, *args: Any) -> Any:
        """The first column of the first row, or None."""


class Sql:
    """A SQLAlchemy statement compiled once to asyncpg's SQL, run with parameters by name.

    For the hot paths: executing it skips the ORM session and SQLAlchemy's per-execution work
    (cache lookup, parameter and result processing), which the expense load test measured at
    about a third of a request's CPU. Rows are asyncpg records (`row["column"]`); parameters
    go to the driver unprocessed, so pass plain values (no enums or JSON types to adapt).
    """

    __slots__ = ("_fixed", "_names", "text")

    def __init__(self, statement: ClauseElement) -> None:
        compiled = cast(SQLCompiler, statement.compile(dialect=_ASYNCPG))
        self.text = str(compiled)
        if "POSTCOMPILE" in self.text:
            raise ValueError("an expanding IN cannot be compiled once: use = ANY(array)")
        self._names = tuple(compiled.positiontup or ())
        self._fixed = {k: v for k, v in compiled.params.items() if v is not None}

    def args(self, params: Mapping[str, Any]) -> list[Any]:
        """The positional arguments for `params` (missing ones: the statement's own values)."""
        values = self._fixed | dict(params)
        return [values[name] for name in self._names]

    async def fetch(self, conn: Driver, **params: Any) -> list[Any]:
        """Every row."""
        return await conn.fetch(self.text, *self.args(params))

    async def fetchrow(self, conn: Driver, **params: Any) -> Any:
        """The first row, or None."""
        return await conn.fetchrow(self.text, *self.args(params))

    async def fetchval(self, conn: Driver, **params: Any) -> Any:
        """The first column of the first row, or None."""
        return await conn.fetchval(self.text, *self.args(params))


async def driver_of(session: AsyncSession) -> Driver:
    """The asyncpg connection under `session`: `Sql` statements run in the session's transaction."""
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    return cast(Driver, raw.driver_connection)


async def get_statement_pool(request: Request) -> Driver:
    """The statement pool: each statement borrows a connection and commits on its own."""
    database: Database = request.app.state.db
    pool: Driver = await database.statement_pool()
    return pool


# For endpoints whose statements each stand alone: reads, and a write that is one statement
# after them (see `get_autocommit_session` for why that is safe). Never several writes that must
# be atomic together, never a lock held from one statement to the next (docs/decisions.md).
StatementPool = Annotated[Driver, Depends(get_statement_pool)]
