"""Pure rules of the accounting service: plans, splits, what may move, whose token is good.

No I/O here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum

from backoffice.core.errors import ValidationFailed
from backoffice.core.money import CENT, MAX_MONEY, to_cents

HUNDRED = Decimal(100)


class PlanKind(StrEnum):
    """How a plan splits a credit between the main and the savings balance."""

    FLAT_AMOUNT = "flat-amount"  # a fixed amount to savings, the rest to main
    PERCENTAGE = "percentage"  # a share (0-100) to savings, rounded to cents half-up


@dataclass(frozen=True, slots=True)
class PlanTerms:
    """The rule of a plan: its kind and its value (an amount or a percentage)."""

    kind: PlanKind
    value: Decimal


@dataclass(frozen=True, slots=True)
class Split:
    """One credit divided between the two balances (`main + savings` is the credit)."""

    main: Decimal
    savings: Decimal


class CreditTooSmall(ValidationFailed):
    """A credit at or below the flat amount of the plan in force (nothing is written)."""

    code = "credit_not_above_flat_amount"
    default_message = "A credit must be greater than the plan's flat amount"


class BalanceLimitExceeded(ValidationFailed):
    """A movement that would take a balance past `MAX_MONEY` (what NUMERIC(14, 2) can hold)."""

    code = "balance_limit_exceeded"
    default_message = "This would take a balance past the largest amount an account holds"


def _has_cents_at_most(value: Decimal) -> bool:
    return value.is_finite() and value == value.quantize(CENT)


def validate_plan(kind: str, value: Decimal) -> PlanTerms:
    """Check a plan's terms.

    Args:
        kind: `flat-amount` or `percentage`.
        value: the flat amount (above zero, at most `MAX_MONEY`) or the percentage (0 to 100
            inclusive), with at most two decimals either way.

    Returns:
        The terms, with the value at two decimals.

    Raises:
        ValidationFailed: an unknown kind or a value out of range.
    """
    try:
        plan_kind = PlanKind(kind)
    except ValueError:
        raise ValidationFailed.field("kind", "kind must be flat-amount or percentage") from None
    if not _has_cents_at_most(value):
        raise ValidationFailed.field("value", "value must have at most two decimals")
    if plan_kind is PlanKind.FLAT_AMOUNT and not Decimal(0) < value <= MAX_MONEY:
        raise ValidationFailed.field(
            "value", f"a flat amount must be above 0 and at most {MAX_MONEY}"
        )
    if plan_kind is PlanKind.PERCENTAGE and not Decimal(0) <= value <= HUNDRED:
        raise ValidationFailed.field("value", "a percentage must be between 0 and 100")
    return PlanTerms(plan_kind, value.quantize(CENT))


class InsufficientFunds(ValidationFailed):
    """A movement out of a balance that holds less (nothing is written)."""

    code = "insufficient_funds"
    default_message = "The balance holds less than this amount"


class SavingsLocked(ValidationFailed):
    """Savings asked to leave before the plan's lock-in lets them (nothing is written)."""

    code = "savings_locked"
    default_message = "These savings are still locked in by the plan"

    @classmethod
    def until(cls, unlocks_at: datetime) -> SavingsLocked:
        """The refusal, saying when the amount asked for unlocks (on the `amount` field)."""
        when = unlocks_at.astimezone(UTC).isoformat()
        message = f"savings locked in by the plan: this amount unlocks at {when}"
        return cls(
            message,
            errors=[{"field": "amount", "message": message, "code": cls.code, "unlocks_at": when}],
        )


def validate_amount(amount: Decimal) -> Decimal:
    """Check an amount that moves (a credit, a withdrawal, a transfer).

    Above zero, at most `MAX_MONEY`, at most two decimals.

    Returns:
        The amount at two decimals.

    Raises:
        ValidationFailed: on the `amount` field.
    """
    if not _has_cents_at_most(amount):
        raise ValidationFailed.field("amount", "amount must have at most two decimals")
    if not Decimal(0) < amount <= MAX_MONEY:
        raise ValidationFailed.field("amount", f"amount must be above 0 and at most {MAX_MONEY}")
    return amount.quantize(CENT)


def split(amount: Decimal, terms: PlanTerms | None) -> Split:
    """Divide a credit by the plan in force.

    Args:
        amount: a valid credit amount (see `validate_amount`).
        terms: the plan in force, or None (everything goes to main).

    Returns:
        The two parts; they add up to `amount` exactly.

    Raises:
        CreditTooSmall: a flat plan and an amount not greater than its flat amount.
    """
    if terms is None:
        return Split(main=amount, savings=Decimal("0.00"))
    if terms.kind is PlanKind.FLAT_AMOUNT:
        if amount <= terms.value:
            raise CreditTooSmall.field(
                "amount", f"a credit must be greater than the flat amount {terms.value}"
            )
        return Split(main=amount - terms.value, savings=terms.value)
    savings = to_cents(amount * terms.value / HUNDRED)
    return Split(main=amount - savings, savings=savings)


def check_balances(main: Decimal, savings: Decimal) -> None:
    """Check that balances after a credit still fit the projection's NUMERIC(14, 2) columns.

    Raises:
        BalanceLimitExceeded: either balance is above `MAX_MONEY`.
    """
    if main > MAX_MONEY or savings > MAX_MONEY:
        raise BalanceLimitExceeded.field(
            "amount", f"a balance may not exceed {MAX_MONEY}: this would pass it"
        )


def check_funds(held: Decimal, amount: Decimal, balance: str) -> None:
    """Check that `amount` may leave a balance holding `held` (a negative amount comes in).

    Raises:
        InsufficientFunds: on the `amount` field, naming the balance.
    """
    if amount > held:
        raise InsufficientFunds.field("amount", f"{balance} holds {held}, less than {amount}")


def token_is_good(account_version: int, closed: bool, token_version: int) -> bool:
    """Whether a customer's token may act on their account.

    Args:
        account_version: the oldest token version the account accepts (raised by a password
            change; the users service's `updated` event carries it).
        closed: whether the account is closed (the customer was deleted).
        token_version: the token's `ver`. A newer one than the account's is good: the users
            service signed it after a change whose event has not arrived yet.
    """
    return not closed and token_version >= account_version
