"""The accounting service's plumbing: its store and engine, threads into the store, the writes' loop.

The service is `service.AccountingService`, made of this base and its parts (`movements.py`,
`reads.py`).

Writes go through the event store (`store.py`), which is synchronous (the library has no
async API): each call runs in a thread (~0.1 ms a hop, measured), never more at once than the
store's pool has connections, so no thread sits inside the library waiting for one. Reads of
the projections and the plans go through `queries.py` on an async engine.

A customer's command comes with the version of the customer's token (the handlers verify the
token): it is refused (`TokenRefused`) when the account holds a newer one (the password
changed) or is closed (the customer was deleted). Credits and plan changes compare it with the
account they load anyway; reads look the account's row up in the same session.

Writes are optimistic: load the account, append events, save. A concurrent save of the same
account makes the library raise `IntegrityError` (the version is taken), as does a unique key
committed first (an idempotency key, a processed message). Then the write's precondition is
checked again (the key still unused, the message still unprocessed) and the write retried on
a freshly loaded account, up to `max_attempts` times.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import ParamSpec, Self, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from backoffice.core.db import Database
from backoffice.core.errors import DomainError
from backoffice.savings.accounting import queries
from backoffice.savings.accounting.aggregate import Account
from backoffice.savings.accounting.errors import (
    AccountBusy,
    AccountClosed,
    AccountNotFound,
    TokenRefused,
)
from backoffice.savings.accounting.ledger import ProcessedMessage
from backoffice.savings.accounting.rules import token_is_good
from backoffice.savings.accounting.store import AccountingStore, eventsourcing_env

P = ParamSpec("P")
T = TypeVar("T")

# Attempts of one write against concurrent writes to the same account.
MAX_ATTEMPTS = 50


class StaleRead(IntegrityError):
    """What a write read before it has moved on (another save came between): read again.

    An `IntegrityError`, as a save that lost to another one is: the writes' loop retries it.
    """


def aware(moment: datetime) -> datetime:
    """`moment`, read as UTC when it carries no offset."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


class ServiceBase:
    """What every part of the accounting service shares: the store, the reads' engine, the writes' loop.

    Args:
        store: the event store (built with `eventsourcing_env(url, pool_size=threads)`).
        database: the async engine for the reads and the plans.
        threads: calls into the store at once; at most the store's pool size.
        max_attempts: tries of a write that keeps losing to concurrent writes.
    """

    def __init__(
        self,
        store: AccountingStore,
        database: Database,
        *,
        threads: int,
        max_attempts: int = MAX_ATTEMPTS,
    ) -> None:
        self.store = store
        self.database = database
        self.max_attempts = max_attempts
        self._env: dict[str, str] = {}  # the store's settings, once opened by `open`
        self._threads = asyncio.Semaphore(threads)

    @classmethod
    async def open(
        cls, url: str, *, store_pool_size: int = 4, db_pool_size: int = 4, db_max_overflow: int = 0
    ) -> Self:
        """Connect to the accounting database (migrated to head beforehand).

        Args:
            url: the database's URL (any form libpq takes, the embedded server's included).
            store_pool_size: the event store's connections (and threads into it).
            db_pool_size: the async engine's connections, for the reads.
            db_max_overflow: the async engine's extra connections under load.
        """
        env = eventsourcing_env(url, pool_size=store_pool_size)
        store = await asyncio.to_thread(AccountingStore, env=env)
        database = Database(url, pool_size=db_pool_size, max_overflow=db_max_overflow)
        service = cls(store, database, threads=store_pool_size)
        service._env = env
        return service

    async def reopen_store(self) -> None:
        """Open the event store again, on a database migrated since it was first opened.

        The library looks the schema's types up once, when it connects.
        """
        stale, self.store = self.store, await asyncio.to_thread(AccountingStore, env=self._env)
        await asyncio.to_thread(stale.close)

    async def close(self) -> None:
        """Close the store's pool and the engine."""
        await asyncio.to_thread(self.store.close)
        await self.database.dispose()

    # --- plumbing -------------------------------------------------------------------------

    def _session(self) -> AsyncSession:
        return self.database.autocommit_sessionmaker()

    async def _in_thread(self, func: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        async with self._threads:
            return await asyncio.to_thread(func, *args, **kwargs)

    async def _write(
        self,
        precheck: Callable[[], Awaitable[T | None]],
        write: Callable[[], T],
        *,
        check_first: bool = True,
    ) -> T:
        """Run `write` in a thread until it saves; before each try, `precheck` may answer.

        With `check_first=False` the first try goes without the check: for credits, where a
        repeated key is the exception and would fail on its unique key anyway, the check before
        every credit cost a query each (bench/savings_credits.py: the accounting service's CPU
        per credit fell from 2.5 to 1.8 ms without it). A first try refused by a rule (a replay
        after the plan changed, or the account closed) asks the check before the error stands.
        """
        for attempt in range(self.max_attempts):
            checked = check_first or attempt > 0
            if checked:
                answer = await precheck()
                if answer is not None:
                    return answer
            try:
                return await self._in_thread(write)
            except IntegrityError:
                continue  # another save won, or the key is taken: check again, reload, retry
            except TokenRefused:
                raise  # never answered with an earlier result: the token is no longer good
            except DomainError:
                answer = None if checked else await precheck()
                if answer is None:
                    raise
                return answer
        raise AccountBusy()

    def _already_processed(
        self, processed: ProcessedMessage | None
    ) -> Callable[[], Awaitable[bool | None]]:
        async def precheck() -> bool | None:
            if processed is None:
                return None
            async with self._session() as session:
                done = await queries.is_processed(session, processed.consumer, processed.msg_id)
            return False if done else None

        return precheck

    def _load(self, user_id: UUID) -> Account | None:
        try:
            return self.store.get_account(user_id)
        except AggregateNotFoundError:
            return None

    def _load_open(self, user_id: UUID, token_version: int | None = None) -> Account:
        account = self._load(user_id)
        if account is None:
            raise AccountNotFound()
        if token_version is not None and not token_is_good(
            account.token_version, account.is_closed, token_version
        ):
            raise TokenRefused()
        if account.is_closed:
            raise AccountClosed()
        return account

    async def _check_token(
        self, session: AsyncSession, user_id: UUID, token_version: int, *, missing_ok: bool
    ) -> None:
        standing = await queries.account_standing(session, user_id)
        if standing is None:
            if missing_ok:
                return
            raise AccountNotFound()
        if not token_is_good(*standing, token_version):
            raise TokenRefused()

    def _no_change(self, processed: ProcessedMessage | None) -> bool:
        if processed is not None:
            self.store.record_processed(processed)
        return False
