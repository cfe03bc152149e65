"""The movements of money: credits, withdrawals, transfers, reversals and a month's interest.

Each is an event of the account (`aggregate.py`) and an entry of the ledger (`ledger.py`),
written in one save. Every write but interest comes with an idempotency key and a digest of its
request (`request_hash`, made by the gateway with the kind in it): the same key again returns
the first entry, and the same key with another request is a 409. Interest needs none: a month
is posted once per account (`Account.interest_through`, and a unique index on the ledger).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from functools import partial
from typing import Any
from uuid import UUID, uuid4

from eventsourcing.persistence import IntegrityError

from backoffice.core.errors import DomainError, ValidationFailed
from backoffice.savings.accounting import queries
from backoffice.savings.accounting.aggregate import Account, Movement
from backoffice.savings.accounting.errors import (
    AccountNotFound,
    EntryNotFound,
    EntryNotReversible,
    IdempotencyKeyReused,
)
from backoffice.savings.accounting.interest import last_day
from backoffice.savings.accounting.lockin import (
    LockedSum,
    SavedSum,
    free_to_leave,
    still_locked,
    unlocks_at,
)
from backoffice.savings.accounting.plumbing import ServiceBase, StaleRead
from backoffice.savings.accounting.rules import SavingsLocked, validate_amount

SOURCES = ("main", "savings")
# Before an operator's idempotency key: a space, which a customer's key (visible ASCII) never
# holds, so the two never meet in an account's keys.
OPERATOR_KEY = "operator "
REASON_MAX = 500


def _made(movement: Movement, at: datetime | None) -> dict[str, Any]:
    """A new entry's public shape: entry_id, kind, amount, main, savings (the changes), at."""
    shown: dict[str, Any] = {
        "entry_id": movement.entry_id,
        "kind": movement.kind,
        "amount": movement.amount,
        "main": movement.main,
        "savings": movement.savings,
        "at": at,
    }
    if movement.kind == "credit":
        shown["credit_id"] = movement.entry_id
    if movement.kind == "reversal":
        shown["reverses"] = movement.reverses
        shown["reason"] = movement.reason
        shown["by"] = movement.by
    return shown


class Movements(ServiceBase):
    """The service's writes of money (mixed into `service.AccountingService`)."""

    def _first_result(
        self, user_id: UUID, key: str, request_hash: str
    ) -> Callable[[], Awaitable[dict[str, Any] | None]]:
        """The check before a keyed write: the entry this key made, or None."""

        async def first_result() -> dict[str, Any] | None:
            async with self._session() as session:
                found = await queries.find_entry(session, user_id, key)
            if found is None:
                return None
            if found.request_hash != request_hash:
                raise IdempotencyKeyReused()
            movement = Movement(
                found.entry_id,
                found.kind,
                found.amount,
                found.main,
                found.savings,
                reverses=found.reverses,
                reason=found.reason,
                by=found.by,
            )
            return _made(movement, found.at)

        return first_result

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
            The credit: credit_id (its entry_id), kind, amount, main, savings (the split), at.

        Raises:
            ValidationFailed: a bad amount; `CreditTooSmall` for a credit not above a flat
                plan's amount (nothing written).
            IdempotencyKeyReused: the key was used for a different request.
            AccountNotFound: no open account for this user.
            AccountBusy: concurrent writes kept winning (`max_attempts` tries).
            TokenRefused: the customer's token is no longer good.
        """
        amount = validate_amount(amount)

        def credit() -> dict[str, Any]:
            account = self._load_open(user_id, token_version)
            event = account.credit(
                uuid4(), amount, idempotency_key=idempotency_key, request_hash=request_hash
            )
            return _made(event.movement, self.store.save_account(account))  # booked in the commit

        first = self._first_result(user_id, idempotency_key, request_hash)
        # A repeated key is the exception, and fails on its unique key anyway: no check first.
        return await self._write(first, credit, check_first=False)

    async def withdraw(
        self,
        user_id: UUID,
        amount: Decimal,
        *,
        idempotency_key: str,
        request_hash: str,
        token_version: int | None = None,
    ) -> dict[str, Any]:
        """Take money out of the main balance.

        Returns:
            The withdrawal: entry_id, kind, amount, main (its change), savings (0.00), at.

        Raises:
            ValidationFailed: a bad amount; `InsufficientFunds` when main holds less (nothing
                written).
            IdempotencyKeyReused, AccountNotFound, AccountBusy, TokenRefused: as `credit`.
        """
        amount = validate_amount(amount)

        def withdraw() -> dict[str, Any]:
            account = self._load_open(user_id, token_version)
            event = account.withdraw(
                uuid4(), amount, idempotency_key=idempotency_key, request_hash=request_hash
            )
            return _made(event.movement, self.store.save_account(account))

        first = self._first_result(user_id, idempotency_key, request_hash)
        return await self._write(first, withdraw, check_first=False)

    async def transfer(
        self,
        user_id: UUID,
        source: str,
        amount: Decimal,
        *,
        idempotency_key: str,
        request_hash: str,
        token_version: int | None = None,
    ) -> dict[str, Any]:
        """Move money between the two balances; out of savings obeys the plan's lock-in.

        Out of savings, each sum that came in stays locked for the `lock_in_days` of the plan
        in force when it came in (`lockin.py`): the sums and the plan changes are read first,
        with the account's entry count; the write goes only if the account it loads has moved
        no money since (else it reads again).

        Args:
            user_id: the account's user.
            source: "main" or "savings", the balance the money leaves.
            amount: above zero, at most two decimals.
            idempotency_key: the client's key: the same key again returns the first result.
            request_hash: a digest of the request, to tell a retry from a different request.
            token_version: the version of the customer's token (None: a trusted caller).

        Returns:
            The transfer: entry_id, kind, amount, main and savings (the changes), at.

        Raises:
            ValidationFailed: a bad source or amount; `InsufficientFunds` when the source holds
                less; `SavingsLocked` (with the instant it unlocks) when savings are locked in.
            IdempotencyKeyReused, AccountNotFound, AccountBusy, TokenRefused: as `credit`.
        """
        if source not in SOURCES:
            raise ValidationFailed.field("from", "from must be main or savings")
        amount = validate_amount(amount)
        first = self._first_result(user_id, idempotency_key, request_hash)
        seen: list[tuple[int, list[LockedSum]]] = []

        async def precheck() -> dict[str, Any] | None:
            answer = await first()
            if answer is None and source == "savings":
                async with self._session() as session:
                    found = await queries.locked_savings(session, user_id)
                if found is None:
                    raise AccountNotFound()
                entries, came_in, lock_ins, now = found
                sums = [SavedSum(at, value) for at, value in came_in]
                seen[:] = [(entries, still_locked(sums, lock_ins, now))]
            return answer

        def transfer() -> dict[str, Any]:
            account = self._load_open(user_id, token_version)
            if source == "savings":
                entries, locked = seen[0]
                if account.entries != entries:
                    raise StaleRead()  # money moved since the read
                self._check_lock_in(account, locked, amount)
            event = account.transfer(
                uuid4(),
                amount,
                source,
                idempotency_key=idempotency_key,
                request_hash=request_hash,
            )
            return _made(event.movement, self.store.save_account(account))

        return await self._write(precheck, transfer)

    @staticmethod
    def _check_lock_in(account: Account, locked: list[LockedSum], amount: Decimal) -> None:
        if amount > account.savings or amount <= free_to_leave(account.savings, locked):
            return  # free, or more than savings hold: the aggregate says which
        when = unlocks_at(account.savings, locked, amount)
        assert when is not None  # locked and held: some sum unlocks it
        raise SavingsLocked.until(when)

    async def reverse(
        self, entry_id: UUID, reason: str, *, by: str, idempotency_key: str, request_hash: str
    ) -> dict[str, Any]:
        """Compensate an entry with a new one that undoes its changes (an operator's write).

        Nothing is deleted or edited. An entry is reversed once: the same entry again with the
        same key returns the first reversal; with another key it is a 409. The operator's key
        is kept apart from the customer's (`OPERATOR_KEY`): neither can take the other's.

        Args:
            entry_id: the entry to reverse.
            reason: why (1 to `REASON_MAX` characters), kept with the reversal.
            by: the operator's username, kept with the reversal.
            idempotency_key: the operator's key.
            request_hash: a digest of the request.

        Returns:
            The reversal: entry_id, kind, amount, main and savings (the changes), at,
            reverses.

        Raises:
            EntryNotFound: no such entry.
            EntryNotReversible: a reversal, or an entry reversed already.
            ValidationFailed: an empty or overlong reason; `InsufficientFunds` when a balance
                would fall below zero.
            IdempotencyKeyReused, AccountBusy: as `credit`.
        """
        reason = reason.strip()
        if not 0 < len(reason) <= REASON_MAX:
            raise ValidationFailed.field("reason", f"reason must be 1 to {REASON_MAX} characters")
        async with self._session() as session:
            found = await queries.get_entry(session, entry_id)
        if found is None:
            raise EntryNotFound()
        user_id, original = found
        if original.kind == "reversal":
            raise EntryNotReversible("A reversal cannot be reversed: make a new entry instead")
        idempotency_key = OPERATOR_KEY + idempotency_key
        first = self._first_result(user_id, idempotency_key, request_hash)

        async def precheck() -> dict[str, Any] | None:
            answer = await first()
            if answer is not None:
                return answer
            async with self._session() as session:
                reversed_by = await queries.reversal_of(session, entry_id)
            if reversed_by is not None:
                raise EntryNotReversible()
            return None

        def reverse() -> dict[str, Any]:
            account = self._load(user_id)
            if account is None:  # pragma: no cover - an entry's account always exists
                raise AccountNotFound()
            movement = Movement(
                original.entry_id, original.kind, original.amount, original.main, original.savings
            )
            event = account.reverse(
                uuid4(),
                movement,
                reason=reason,
                by=by,
                idempotency_key=idempotency_key,
                request_hash=request_hash,
            )
            return _made(event.movement, self.store.save_account(account))

        return await self._write(precheck, reverse)

    async def post_month(self, user_id: UUID, year: int, month: int, amount: Decimal) -> bool:
        """Settle one month's interest on an open account (an amount of zero settles it too).

        Idempotent: a month the account has settled already changes nothing.

        Returns:
            Whether the month was settled now (not: settled before, or the account closed).

        Raises:
            AccountNotFound: no such account.
            BalanceLimitExceeded: savings would pass `MAX_MONEY`.
        """
        return bool(await self.post_months({user_id: [(year, month, amount)]}, alone=True))

    async def post_months(
        self,
        due: Mapping[UUID, Sequence[tuple[int, int, Decimal]]],
        *,
        alone: bool = False,
        failed: Callable[[UUID, DomainError], None] | None = None,
    ) -> list[tuple[UUID, Decimal]]:
        """Settle months of interest on many accounts: one save for all, or each alone.

        All in one transaction first (a posting run's batch); if that save fails (a customer's
        write to one of them came between, or a balance limit), each account is settled in a
        save of its own, retried as any write is.

        Args:
            due: for each account, its months to settle, oldest first: (year, month, amount).
            alone: each account in a save of its own from the start.
            failed: told of each account that cannot be settled, which is then skipped (None:
                the error is raised).

        Returns:
            The months settled now, as (account, amount), oldest first for each account (those
            settled before, and closed accounts, not).

        Raises:
            AccountNotFound: an account that does not exist.
            BalanceLimitExceeded: savings would pass `MAX_MONEY` (posting `alone`).
        """

        def settle(user_ids: Sequence[UUID]) -> list[tuple[UUID, Decimal]]:
            accounts, settled = [], []
            for user_id in user_ids:
                account = self._load(user_id)
                if account is None:
                    raise AccountNotFound()
                amounts = _settle(account, due[user_id])
                if amounts:
                    accounts.append(account)
                    settled += [(user_id, amount) for amount in amounts]
            if accounts:
                self.store.save_accounts(accounts)
            return settled

        async def never() -> None:
            return None

        if not alone:
            try:
                return await self._in_thread(settle, list(due))
            except (IntegrityError, DomainError):
                pass  # one at a time below: each then fails or retries on its own
        settled: list[tuple[UUID, Decimal]] = []
        for user_id in due:
            try:
                settled += await self._write(never, partial(settle, [user_id]))
            except DomainError as error:
                if failed is None:
                    raise
                failed(user_id, error)
        return settled


def _settle(account: Account, due: Sequence[tuple[int, int, Decimal]]) -> list[Decimal]:
    """Settle an account's months not settled yet (none on a closed account); their amounts."""
    amounts = []
    for year, month, amount in due:
        through = last_day(year, month)
        settled = account.interest_through is not None and account.interest_through >= through
        if not (settled or account.is_closed):
            account.post_interest(uuid4(), amount, f"{year:04d}-{month:02d}", through)
            amounts.append(amount)
    return amounts
