"""The accounting service: accounts from the users' events, plans, credits, balances.

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
from decimal import Decimal
from functools import partial
from typing import Any, ParamSpec, TypeVar
from uuid import UUID, uuid4

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from backoffice.core.db import Database
from backoffice.core.errors import DomainError, ValidationFailed
from backoffice.savings.accounting import queries
from backoffice.savings.accounting.aggregate import Account
from backoffice.savings.accounting.errors import (
    AccountBusy,
    AccountClosed,
    AccountNotFound,
    IdempotencyKeyReused,
    PlanNameTaken,
    PlanNotFound,
    TokenRefused,
)
from backoffice.savings.accounting.rules import (
    token_is_good,
    validate_credit_amount,
    validate_plan,
)
from backoffice.savings.accounting.store import (
    AccountingStore,
    ProcessedMessage,
    eventsourcing_env,
)

P = ParamSpec("P")
T = TypeVar("T")

# The durable consumer of the users service's events (the owner of its processed message ids).
USERS_EVENTS_CONSUMER = "accounting-users-events"
# Attempts of one write against concurrent writes to the same account.
MAX_ATTEMPTS = 50
PLAN_NAME_MAX = 100


def _aware(moment: datetime) -> datetime:
    """`moment`, read as UTC when it carries no offset."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


class AccountingService:
    """The accounting service's operations (what its NATS handlers call).

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
    ) -> AccountingService:
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

    # --- accounts, from the users service's events ----------------------------------------

    async def open_account(
        self, user_id: UUID, email: str, full_name: str, *, msg_id: str | None = None
    ) -> bool:
        """Open the user's account (a user was created).

        Idempotent: an existing account, or a message id already handled, changes nothing.

        Returns:
            Whether an account was opened.
        """
        processed = self._processed(msg_id)
        return await self._write(
            self._already_processed(processed),
            partial(self._open, user_id, email, full_name, processed),
        )

    def _open(
        self, user_id: UUID, email: str, full_name: str, processed: ProcessedMessage | None
    ) -> bool:
        if self._load(user_id) is not None:
            return self._no_change(processed)
        account = Account(user_id=user_id, email=email, full_name=full_name)
        self.store.save_account(account, processed=processed)
        return True

    async def update_profile(
        self,
        user_id: UUID,
        email: str,
        full_name: str,
        *,
        token_version: int = 1,
        msg_id: str | None = None,
    ) -> bool:
        """Record the user's new email, name and token version (a user was updated).

        An unknown user's account is opened with them: a redelivery can bring `updated`
        before `created`, which then finds the account and changes nothing. A closed account
        is left as it is. The token version only rises (events may arrive out of order).

        Returns:
            Whether anything changed.
        """
        processed = self._processed(msg_id)
        return await self._write(
            self._already_processed(processed),
            partial(self._update, user_id, email, full_name, token_version, processed),
        )

    def _update(
        self,
        user_id: UUID,
        email: str,
        full_name: str,
        token_version: int,
        processed: ProcessedMessage | None,
    ) -> bool:
        account = self._load(user_id)
        if account is None:
            account = Account(user_id=user_id, email=email, full_name=full_name)
        elif account.is_closed:
            return self._no_change(processed)
        elif (account.email, account.full_name) != (email, full_name):
            account.update_profile(email=email, full_name=full_name)
        if token_version > account.token_version:
            account.revoke_tokens(token_version=token_version)
        if not account.pending_events:
            return self._no_change(processed)
        self.store.save_account(account, processed=processed)
        return True

    async def close_account(self, user_id: UUID, *, msg_id: str | None = None) -> bool:
        """Close the user's account (a user was deleted); unknown or closed: no change.

        Returns:
            Whether an account was closed.
        """
        processed = self._processed(msg_id)
        return await self._write(
            self._already_processed(processed), partial(self._close, user_id, processed)
        )

    def _close(self, user_id: UUID, processed: ProcessedMessage | None) -> bool:
        account = self._load(user_id)
        if account is None or account.is_closed:
            return self._no_change(processed)
        account.close()
        self.store.save_account(account, processed=processed)
        return True

    @staticmethod
    def _processed(msg_id: str | None) -> ProcessedMessage | None:
        return None if msg_id is None else ProcessedMessage(USERS_EVENTS_CONSUMER, msg_id)

    # --- plans ----------------------------------------------------------------------------

    async def create_plan(self, name: str, kind: str, value: Decimal) -> dict[str, Any]:
        """Create a billing plan.

        Returns:
            The plan: id, name, kind, value.

        Raises:
            ValidationFailed: an empty or overlong name, an unknown kind, a value out of range.
            PlanNameTaken: another plan has this name.
        """
        name = name.strip()
        if not 0 < len(name) <= PLAN_NAME_MAX:
            raise ValidationFailed.field("name", f"name must be 1 to {PLAN_NAME_MAX} characters")
        terms = validate_plan(kind, value)
        async with self._session() as session:
            plan = await queries.insert_plan(session, name, terms)
        if plan is None:
            raise PlanNameTaken()
        return plan.as_dict()

    async def list_plans(
        self, user_id: UUID | None = None, *, token_version: int | None = None
    ) -> list[dict[str, Any]]:
        """Every plan (id, name, kind, value), oldest first.

        Args:
            user_id: the customer asking, if a customer asks (an account not opened yet is
                no refusal: plans are nobody's data).
            token_version: their token's version.

        Raises:
            TokenRefused: the customer's token is no longer good.
        """
        async with self._session() as session:
            if user_id is not None and token_version is not None:
                await self._check_token(session, user_id, token_version, missing_ok=True)
            return [plan.as_dict() for plan in await queries.list_plans(session)]

    async def current_plan(self, user_id: UUID) -> int | None:
        """The id of the plan in force on the user's account (None: none chosen, or no account)."""
        async with self._session() as session:
            return await queries.plan_of(session, user_id)

    async def plan_customers(self, plan_id: int, *, limit: int, offset: int) -> dict[str, Any]:
        """A page of the customers whose open account is on a plan, by email.

        Returns:
            plan (id, name, kind, value), items (user_id, email, full_name) and total.

        Raises:
            PlanNotFound: no such plan.
        """
        async with self._session() as session:
            plan = await queries.get_plan(session, plan_id)
            if plan is None:
                raise PlanNotFound()
            items, total = await queries.customers_on_plan(
                session, plan_id, limit=limit, offset=offset
            )
        return {"plan": plan.as_dict(), "items": items, "total": total}

    async def assign_plan(
        self, user_id: UUID, plan_id: int, *, token_version: int | None = None
    ) -> dict[str, Any]:
        """Put a plan in force for the user's future credits.

        Args:
            user_id: the account's user.
            plan_id: the plan.
            token_version: the version of the customer's token (None: a trusted caller).

        Returns:
            The plan: id, name, kind, value.

        Raises:
            PlanNotFound: no such plan.
            AccountNotFound: no open account for this user.
            TokenRefused: the customer's token is no longer good.
        """
        async with self._session() as session:
            plan = await queries.get_plan(session, plan_id)
        if plan is None:
            raise PlanNotFound()

        async def never() -> None:
            return None

        def assign() -> None:
            account = self._load_open(user_id, token_version)
            account.assign_plan(plan_id=plan.id, kind=plan.kind, value=plan.value)
            self.store.save_account(account)

        await self._write(never, assign)
        return plan.as_dict()

    # --- credits and balances -------------------------------------------------------------

    async def credit(
        self,
        user_id: UUID,
        amount: Decimal,
        *,
        idempotency_key: str,
        request_hash: str,
        token_version: int | None = None,
    ) -> dict[str, Any]:
        """Credit the user's account, split by the plan in force.

        Args:
            user_id: the account's user.
            amount: above zero, at most two decimals.
            idempotency_key: the client's key: the same key again returns the first result.
            request_hash: a digest of the request, to tell a retry from a different request.
            token_version: the version of the customer's token (None: a trusted caller),
                compared with the account it loads anyway: no extra query.

        Returns:
            The credit: credit_id, amount, main, savings (the split) and at.

        Raises:
            ValidationFailed: a bad amount; `CreditTooSmall` for a credit not above a flat
                plan's amount (nothing written).
            IdempotencyKeyReused: the key was used for a different request.
            AccountNotFound: no open account for this user.
            AccountBusy: concurrent credits kept winning (`max_attempts` tries).
            TokenRefused: the customer's token is no longer good.
        """
        amount = validate_credit_amount(amount)

        async def first_result() -> dict[str, Any] | None:
            async with self._session() as session:
                found = await queries.find_credit(session, user_id, idempotency_key)
            if found is None:
                return None
            if found.request_hash != request_hash:
                raise IdempotencyKeyReused()
            return found.as_dict()

        def credit() -> dict[str, Any]:
            account = self._load_open(user_id, token_version)
            event = account.credit(
                uuid4(), amount, idempotency_key=idempotency_key, request_hash=request_hash
            )
            return {
                "credit_id": event.credit_id,
                "amount": event.amount,
                "main": event.main,
                "savings": event.savings,
                "at": self.store.save_account(account),  # booked in the commit
            }

        return await self._write(first_result, credit, check_first=False)

    async def balance(
        self, user_id: UUID, at: datetime | None = None, *, token_version: int | None = None
    ) -> dict[str, Any]:
        """The balances right after the last credit at or before `at` (zeros if none).

        Once `at` has passed (by the database's clock) the answer never changes: this read
        waits for the credits still committing that could be booked at or before it
        (`queries.settle`). An instant still to come gets the credits booked so far.

        Args:
            user_id: the account's user.
            at: the instant, to the microsecond, included; None: now (the database's clock,
                returned as `at`: asked again with it, the answer is the same).
            token_version: the version of the customer's token (None: not checked).

        Returns:
            at, main, savings and total (main + savings).

        Raises:
            AccountNotFound: the account was never opened.
            TokenRefused: the customer's token (its version given) is no longer good.
        """
        async with self._session() as session:
            if token_version is not None:
                await self._check_token(session, user_id, token_version, missing_ok=False)
            now = await queries.settle(session, user_id)
            at = now if at is None else _aware(at)
            found = await queries.balance_at(session, user_id, at)
        if found is None:
            raise AccountNotFound()
        main, savings = found
        return {"at": at, "main": main, "savings": savings, "total": main + savings}

    async def transactions(
        self,
        user_id: UUID,
        from_: datetime,
        to: datetime | None = None,
        *,
        limit: int,
        offset: int,
        token_version: int | None = None,
    ) -> tuple[list[dict[str, Any]], int]:
        """A page of the user's credits in [from_, to), oldest first.

        Once `to` has passed, the credits before it never change (as for `balance`).

        Args:
            user_id: the account's user.
            from_: the first instant, included.
            to: the end, excluded; None: now (the database's clock).
            limit: the page's size.
            offset: credits to skip.
            token_version: the version of the customer's token (None: not checked).

        Returns:
            The page's credits (credit_id, amount, main, savings, at) and the range's total.

        Raises:
            AccountNotFound: the account was never opened.
            TokenRefused: the customer's token (its version given) is no longer good.
        """
        async with self._session() as session:
            if token_version is not None:
                await self._check_token(session, user_id, token_version, missing_ok=False)
            now = await queries.settle(session, user_id)
            end = now if to is None else _aware(to)
            items, total = await queries.credits_between(
                session, user_id, _aware(from_), end, limit=limit, offset=offset
            )
            missing = total == 0 and not await queries.account_exists(session, user_id)
        if missing:
            raise AccountNotFound()
        return [item.as_dict() for item in items], total
