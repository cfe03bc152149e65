"""The account aggregate: its events are the source of truth of a customer's two balances.

The aggregate's id is the user's id (one account per user, found without a lookup). A plan
assignment copies the plan's terms into the event, so the plan in force at any moment is in
the account's own history, whatever later happens to the plan.

Every movement of money is an event that says what it does to the two balances (`Movement`):
the ledger projection (`ledger.py`) is written from these and nothing else. The aggregate counts
its movements (`entries`, the ledger's `seq`) and refuses any that would leave a balance below
zero or above `MAX_MONEY`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, ClassVar, TypeVar
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from backoffice.savings.accounting.rules import (
    PlanKind,
    PlanTerms,
    check_balances,
    check_funds,
    split,
)

ZERO = Decimal("0.00")
E = TypeVar("E")


@dataclass(frozen=True, slots=True)
class Movement:
    """What a movement event does: its ledger entry, less what only the database knows.

    `main` and `savings` are the signed changes; `amount` what moved (above zero).
    """

    entry_id: UUID
    kind: str
    amount: Decimal
    main: Decimal
    savings: Decimal
    idempotency_key: str | None = None
    request_hash: str | None = None
    reverses: UUID | None = None
    reason: str | None = None
    period: str | None = None
    by: str | None = None  # who reversed (an operator's username)


class Account(Aggregate):
    """A customer's account: main and savings balances, and the plan in force.

    Attributes:
        email: the customer's email (from the users service's events).
        full_name: the customer's name.
        main: the main balance.
        savings: the savings balance.
        plan_id: the plan in force, or None.
        plan_kind: its kind (a `PlanKind` value), or None.
        plan_value: its value, or None.
        closed_on: when the account was closed, or None.
        token_version: the oldest version of the customer's tokens still good (a password
            change raises it in the users service, whose `updated` event carries it here).
    """

    # A class default: accounts whose events and snapshots predate the attribute read 1.
    token_version = 1
    # Movements so far (the ledger's last `seq`) and the last day of the last month whose
    # interest was posted: defaults for accounts whose events predate them (their snapshots were
    # dropped by accounting_0005, so the count is replayed). A plan's rate and lock-in stay in
    # its `PlanAssigned` event: interest and the lock-in read them from the projection
    # (`plan_changes`), never from the aggregate.
    entries = 0
    interest_through: date | None = None

    class Opened(Aggregate.Created):
        """The account was opened for a new user."""

        user_id: UUID
        email: str
        full_name: str

    class ProfileUpdated(Aggregate.Event):
        """The user's email or name changed."""

        email: str
        full_name: str

    class TokensRevoked(Aggregate.Event):
        """The customer's password changed: tokens of an older version are no longer good."""

        token_version: int

    class Closed(Aggregate.Event):
        """The user was deleted: the account takes no more credits or plans."""

        def apply(self, aggregate: Any) -> None:
            """Mark the account closed at this event's time."""
            # Not an @event method body: those run before `modified_on` takes the event's
            # timestamp, so the close time would be the previous event's.
            aggregate.closed_on = self.timestamp

    class PlanAssigned(Aggregate.Event):
        """A plan was put in force; its terms are copied here."""

        plan_id: int
        kind: str
        value: Decimal
        interest_rate: Decimal
        lock_in_days: int

        # Version 1 had no interest or lock-in: those plans paid none and locked nothing.
        class_version: ClassVar[int] = 2

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            """The terms a plan assigned before interest and lock-in had."""
            state["interest_rate"] = ZERO
            state["lock_in_days"] = 0

    class Credited(Aggregate.Event):
        """A credit, already split by the plan in force."""

        credit_id: UUID
        amount: Decimal
        main: Decimal
        savings: Decimal
        idempotency_key: str
        request_hash: str

        @property
        def movement(self) -> Movement:
            """A credit's entry (its id is the credit's)."""
            return Movement(
                self.credit_id,
                "credit",
                self.amount,
                self.main,
                self.savings,
                self.idempotency_key,
                self.request_hash,
            )

    class Withdrawn(Aggregate.Event):
        """Money taken out of main."""

        entry_id: UUID
        amount: Decimal
        idempotency_key: str
        request_hash: str

        @property
        def movement(self) -> Movement:
            """A withdrawal's entry."""
            return Movement(
                self.entry_id,
                "withdrawal",
                self.amount,
                -self.amount,
                ZERO,
                self.idempotency_key,
                self.request_hash,
            )

    class Transferred(Aggregate.Event):
        """Money moved from one balance to the other (`source`: "main" or "savings")."""

        entry_id: UUID
        amount: Decimal
        source: str
        idempotency_key: str
        request_hash: str

        @property
        def movement(self) -> Movement:
            """A transfer's entry: one balance down by the amount, the other up."""
            out = -self.amount if self.source == "main" else self.amount
            return Movement(
                self.entry_id,
                "transfer",
                self.amount,
                out,
                -out,
                self.idempotency_key,
                self.request_hash,
            )

    class InterestPosted(Aggregate.Event):
        """A month's interest settled: paid into savings (or nothing, when it earned nothing)."""

        entry_id: UUID
        amount: Decimal
        period: str
        through: date

        @property
        def movement(self) -> Movement | None:
            """The interest entry; None for a month that earned nothing (no entry)."""
            if not self.amount:
                return None
            return Movement(
                self.entry_id, "interest", self.amount, ZERO, self.amount, period=self.period
            )

    class Reversed(Aggregate.Event):
        """An entry compensated: its changes undone by a new entry (the old one stays)."""

        entry_id: UUID
        reverses: UUID
        amount: Decimal
        main: Decimal
        savings: Decimal
        reason: str
        by: str
        idempotency_key: str
        request_hash: str

        @property
        def movement(self) -> Movement:
            """A reversal's entry: the reversed entry's changes, negated."""
            return Movement(
                self.entry_id,
                "reversal",
                self.amount,
                self.main,
                self.savings,
                self.idempotency_key,
                self.request_hash,
                reverses=self.reverses,
                reason=self.reason,
                by=self.by,
            )

    @staticmethod
    def create_id(user_id: UUID, **_: Any) -> UUID:
        """The account's id is its user's id."""
        return user_id

    @event(Opened)
    def __init__(self, user_id: UUID, email: str, full_name: str) -> None:
        # Plain values only: a snapshot stores this object's attributes as JSON.
        self.email = email
        self.full_name = full_name
        self.main = ZERO
        self.savings = ZERO
        self.plan_id: int | None = None
        self.plan_kind: str | None = None
        self.plan_value: Decimal | None = None
        self.closed_on: datetime | None = None

    @property
    def is_closed(self) -> bool:
        """Whether the account was closed."""
        return self.closed_on is not None

    @property
    def terms(self) -> PlanTerms | None:
        """The terms of the plan in force, or None."""
        if self.plan_kind is None or self.plan_value is None:
            return None
        return PlanTerms(PlanKind(self.plan_kind), self.plan_value)

    @event(ProfileUpdated)
    def update_profile(self, email: str, full_name: str) -> None:
        """Record the user's new email and name."""
        self.email = email
        self.full_name = full_name

    @event(TokensRevoked)
    def revoke_tokens(self, token_version: int) -> None:
        """Refuse the customer's tokens older than `token_version` from now on."""
        self.token_version = token_version

    def close(self) -> None:
        """Close the account (the service closes only an open one)."""
        self.trigger_event(self.Closed)

    @event(PlanAssigned)
    def assign_plan(
        self,
        plan_id: int,
        kind: str,
        value: Decimal,
        interest_rate: Decimal = ZERO,
        lock_in_days: int = 0,
    ) -> None:
        """Put a plan in force from now on."""
        self.plan_id = plan_id
        self.plan_kind = kind
        self.plan_value = value

    def credit(
        self, credit_id: UUID, amount: Decimal, *, idempotency_key: str, request_hash: str
    ) -> Credited:
        """Credit `amount`, split by the plan in force.

        Raises:
            CreditTooSmall: a flat plan and an amount not above its flat amount.
            BalanceLimitExceeded: a balance would pass `MAX_MONEY`.

        Returns:
            The new event (not yet saved).
        """
        parts = split(amount, self.terms)
        check_balances(self.main + parts.main, self.savings + parts.savings)
        self._credit(
            credit_id=credit_id,
            amount=amount,
            main=parts.main,
            savings=parts.savings,
            idempotency_key=idempotency_key,
            request_hash=request_hash,
        )
        return self._last(Account.Credited)

    @event(Credited)
    def _credit(
        self,
        credit_id: UUID,
        amount: Decimal,
        main: Decimal,
        savings: Decimal,
        idempotency_key: str,
        request_hash: str,
    ) -> None:
        self._move(main, savings)

    def withdraw(
        self, entry_id: UUID, amount: Decimal, *, idempotency_key: str, request_hash: str
    ) -> Withdrawn:
        """Take `amount` out of main.

        Raises:
            InsufficientFunds: main holds less.
        """
        check_funds(self.main, amount, "main")
        self._withdraw(
            entry_id=entry_id,
            amount=amount,
            idempotency_key=idempotency_key,
            request_hash=request_hash,
        )
        return self._last(Account.Withdrawn)

    @event(Withdrawn)
    def _withdraw(
        self, entry_id: UUID, amount: Decimal, idempotency_key: str, request_hash: str
    ) -> None:
        self._move(-amount, ZERO)

    def transfer(
        self,
        entry_id: UUID,
        amount: Decimal,
        source: str,
        *,
        idempotency_key: str,
        request_hash: str,
    ) -> Transferred:
        """Move `amount` from `source` ("main" or "savings") to the other balance.

        The lock-in of savings is the service's to check (it reads when the savings came in).

        Raises:
            InsufficientFunds: the source holds less.
            BalanceLimitExceeded: the other balance would pass `MAX_MONEY`.
        """
        held = self.main if source == "main" else self.savings
        check_funds(held, amount, source)
        into = amount if source == "savings" else -amount
        check_balances(self.main + into, self.savings - into)
        self._transfer(
            entry_id=entry_id,
            amount=amount,
            source=source,
            idempotency_key=idempotency_key,
            request_hash=request_hash,
        )
        return self._last(Account.Transferred)

    @event(Transferred)
    def _transfer(
        self, entry_id: UUID, amount: Decimal, source: str, idempotency_key: str, request_hash: str
    ) -> None:
        into_main = amount if source == "savings" else -amount
        self._move(into_main, -into_main)

    def post_interest(self, entry_id: UUID, amount: Decimal, period: str, through: date) -> None:
        """Settle a month's interest (`amount` may be zero: the month is settled all the same).

        Raises:
            BalanceLimitExceeded: savings would pass `MAX_MONEY`.
        """
        check_balances(self.main, self.savings + amount)
        self._post_interest(entry_id=entry_id, amount=amount, period=period, through=through)

    @event(InterestPosted)
    def _post_interest(self, entry_id: UUID, amount: Decimal, period: str, through: date) -> None:
        if amount:
            self._move(ZERO, amount)
        self.interest_through = through

    def reverse(
        self,
        entry_id: UUID,
        original: Movement,
        *,
        reason: str,
        by: str,
        idempotency_key: str,
        request_hash: str,
    ) -> Reversed:
        """Undo `original`'s changes with a new entry.

        Raises:
            InsufficientFunds: a balance would fall below zero.
            BalanceLimitExceeded: a balance would pass `MAX_MONEY`.
        """
        main, savings = -original.main, -original.savings
        check_funds(self.main, -main, "main")
        check_funds(self.savings, -savings, "savings")
        check_balances(self.main + main, self.savings + savings)
        self._reverse(
            entry_id=entry_id,
            reverses=original.entry_id,
            amount=original.amount,
            main=main,
            savings=savings,
            reason=reason,
            by=by,
            idempotency_key=idempotency_key,
            request_hash=request_hash,
        )
        return self._last(Account.Reversed)

    @event(Reversed)
    def _reverse(
        self,
        entry_id: UUID,
        reverses: UUID,
        amount: Decimal,
        main: Decimal,
        savings: Decimal,
        reason: str,
        by: str,
        idempotency_key: str,
        request_hash: str,
    ) -> None:
        self._move(main, savings)

    def _move(self, main: Decimal, savings: Decimal) -> None:
        self.main += main
        self.savings += savings
        self.entries += 1

    def _last(self, kind: type[E]) -> E:
        made = self.pending_events[-1]
        assert isinstance(made, kind)
        return made
