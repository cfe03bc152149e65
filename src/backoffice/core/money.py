"""Money: `Decimal` in Python, `NUMERIC` in PostgreSQL, rounded to cents once, half-up."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Annotated

from pydantic import Field, PlainSerializer

CENT = Decimal("0.01")


def to_cents(value: Decimal) -> Decimal:
    """Round to cents, half-up (0.005 -> 0.01)."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def _as_json_number(value: Decimal) -> float:
    # A cents value below 2**53 / 100 prints as the same shortest decimal text, so clients
    # reading JSON numbers into decimals get the exact amount back.
    return float(value)


# Output money: a JSON number with at most two decimals.
MoneyOut = Annotated[Decimal, PlainSerializer(_as_json_number, return_type=float, when_used="json")]

# Input money: positive, at most two decimals, below a trillion.
PositiveMoney = Annotated[Decimal, Field(gt=0, max_digits=14, decimal_places=2)]

# A percentage rate 0-100 with up to four decimals.
Percent = Annotated[Decimal, Field(ge=0, le=100, max_digits=7, decimal_places=4)]
