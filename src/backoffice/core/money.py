"""Money: `Decimal` in Python, `NUMERIC` in PostgreSQL, rounded to cents once, half-up."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Annotated

from pydantic import Field, PlainSerializer, WithJsonSchema

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

# NUMERIC(14, 2): up to twelve digits before the point and two after.
MAX_MONEY = Decimal("999999999999.99")


def decimal_schema(
    *, digits: int, places: int, low: Decimal, high: Decimal, exclusive_low: bool = False
) -> WithJsonSchema:
    """A decimal in the OpenAPI document as strictly as the validator takes it.

    Pydantic documents a `Decimal` as any number or any string; this says what is accepted:
    a JSON number within [low, high] in steps of the last decimal place, or the same written
    as a string of at most `digits` integer digits and `places` decimals.
    """
    bound = "exclusiveMinimum" if exclusive_low else "minimum"
    step = float(Decimal(1).scaleb(-places))
    sign = "-?" if low < 0 else ""
    number = {"type": "number", bound: float(low), "maximum": float(high), "multipleOf": step}
    text = {"type": "string", "pattern": f"^{sign}[0-9]{{1,{digits}}}(\\.[0-9]{{1,{places}}})?$"}
    return WithJsonSchema({"anyOf": [number, text]})


# Input money: positive, at most two decimals, below a trillion.
PositiveMoney = Annotated[
    Decimal,
    Field(gt=0, max_digits=14, decimal_places=2),
    decimal_schema(digits=12, places=2, low=Decimal(0), high=MAX_MONEY, exclusive_low=True),
]
# Input money that may be zero (a bound, a filter).
Money = Annotated[
    Decimal,
    Field(ge=0, max_digits=14, decimal_places=2),
    decimal_schema(digits=12, places=2, low=Decimal(0), high=MAX_MONEY),
]

# A percentage rate 0-100 with up to four decimals.
Percent = Annotated[
    Decimal,
    Field(ge=0, le=100, max_digits=7, decimal_places=4),
    decimal_schema(digits=3, places=4, low=Decimal(0), high=Decimal(100)),
]
