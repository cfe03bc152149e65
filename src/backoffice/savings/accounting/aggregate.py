"""The account aggregate: its events are the source of truth of a customer's two balances.

The aggregate's id is the user's id (one account per user, found without a lookup). A plan
assignment copies the plan's terms into the event, so the plan in force at any moment is in
the account's own history, whatever later happens to the plan.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from backoffice.savings.accounting.rules import PlanKind, PlanTerms, check_balances, split

ZERO = Decimal("0.00")


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

    class Credited(Aggregate.Event):
        """A credit, already split by the plan in force."""

        credit_id: UUID
        amount: Decimal
        main: Decimal
        savings: Decimal
        idempotency_key: str
        request_hash: str

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
    def assign_plan(self, plan_id: int, kind: str, value: Decimal) -> None:
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
        credited = self.pending_events[-1]
        assert isinstance(credited, Account.Credited)
        return credited

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
        self.main += main
        self.savings += savings
