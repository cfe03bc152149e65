"""The accounting service: accounts from the users' events, plans, and its parts.

`AccountingService` is what the NATS handlers call: the base (`plumbing.py`: the store, the
reads' engine, the writes' loop), the movements of money (`movements.py`), the reads
(`reads.py`), and here the accounts the users service's events open, update and close, and the
plans.
"""

from __future__ import annotations

from decimal import Decimal
from functools import partial
from typing import Any
from uuid import UUID

from backoffice.core.errors import ValidationFailed
from backoffice.savings.accounting import queries
from backoffice.savings.accounting.aggregate import Account
from backoffice.savings.accounting.errors import PlanNameTaken, PlanNotFound
from backoffice.savings.accounting.interest import validate_rate
from backoffice.savings.accounting.ledger import ProcessedMessage
from backoffice.savings.accounting.models import MAX_LOCK_IN_DAYS
from backoffice.savings.accounting.movements import Movements
from backoffice.savings.accounting.reads import Reads
from backoffice.savings.accounting.rules import validate_plan

# The durable consumer of the users service's events (the owner of its processed message ids).
USERS_EVENTS_CONSUMER = "accounting-users-events"
PLAN_NAME_MAX = 100


class AccountingService(Movements, Reads):
    """The accounting service's operations (what its NATS handlers call).

    Args:
        store: the event store (built with `eventsourcing_env(url, pool_size=threads)`).
        database: the async engine for the reads and the plans.
        threads: calls into the store at once; at most the store's pool size.
        max_attempts: tries of a write that keeps losing to concurrent writes.
    """

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

    async def create_plan(
        self,
        name: str,
        kind: str,
        value: Decimal,
        *,
        lock_in_days: int = 0,
        interest_rate: Decimal = Decimal(0),
    ) -> dict[str, Any]:
        """Create a billing plan.

        Args:
            name: unique, 1 to `PLAN_NAME_MAX` characters.
            kind: `flat-amount` or `percentage`.
            value: the flat amount or the percentage.
            lock_in_days: how long savings stay in before they may leave (0 to
                `MAX_LOCK_IN_DAYS`).
            interest_rate: the annual rate paid on savings, a fraction (0 to 0.25, six decimals).

        Returns:
            The plan: id, name, kind, value, lock_in_days, interest_rate.

        Raises:
            ValidationFailed: an empty or overlong name, an unknown kind, a value, a lock-in or
                a rate out of range.
            PlanNameTaken: another plan has this name.
        """
        name = name.strip()
        if not 0 < len(name) <= PLAN_NAME_MAX:
            raise ValidationFailed.field("name", f"name must be 1 to {PLAN_NAME_MAX} characters")
        terms = validate_plan(kind, value)
        if not 0 <= lock_in_days <= MAX_LOCK_IN_DAYS:
            raise ValidationFailed.field(
                "lock_in_days", f"lock_in_days must be from 0 to {MAX_LOCK_IN_DAYS}"
            )
        try:
            rate = validate_rate(interest_rate)
        except ValueError as error:
            raise ValidationFailed.field("interest_rate", str(error)) from None
        async with self._session() as session:
            plan = await queries.insert_plan(
                session, name, terms, lock_in_days=lock_in_days, interest_rate=rate
            )
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
            The plan: id, name, kind, value, lock_in_days, interest_rate.

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
            account.assign_plan(
                plan_id=plan.id,
                kind=plan.kind,
                value=plan.value,
                interest_rate=plan.interest_rate,
                lock_in_days=plan.lock_in_days,
            )
            self.store.save_account(account)

        await self._write(never, assign)
        return plan.as_dict()
