"""Money: `Decimal` in Python, `NUMERIC` in PostgreSQL, rounded to cents once, half-up."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Annotated, Any

from annotated_types import GroupedMetadata
from pydantic import BeforeValidator, Field, PlainSerializer, WithJsonSchema

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


def decimal_pattern(
    *, digits: int, places: int, high: Decimal, signed: bool, positive: bool
) -> str:
    """The text of a decimal within range: ASCII digits, an optional point, `places` decimals.

    No sign (but `-` where `signed`), exponent, spaces, leading zeros or other scripts' digits.
    `high` is either all nines (`digits` of them, then `places`) or 10^(digits - 1) (100 for a
    percentage); `positive` leaves out every spelling of zero.
    """
    fraction = f"(\\.[0-9]{{1,{places}}})?"
    nines = Decimal(10) ** digits - Decimal(1).scaleb(-places)
    if high == nines:
        below = f"[1-9][0-9]{{0,{digits - 1}}}{fraction}"
    elif high == Decimal(10) ** (digits - 1):
        below = f"{high}(\\.0{{1,{places}}})?|[1-9][0-9]{{0,{digits - 2}}}{fraction}"
    else:
        raise ValueError(f"no pattern for the bound {high}")
    if positive:
        nonzero = "|".join(
            "0" * zeros
            + "[1-9]"
            + (f"[0-9]{{0,{places - 1 - zeros}}}" if zeros < places - 1 else "")
            for zeros in range(places)
        )
        zero = f"0\\.({nonzero})"
    else:
        zero = f"0{fraction}"
    return f"^{'-?' if signed else ''}({below}|{zero})$"


@dataclass(frozen=True)
class Decimals(GroupedMetadata):
    """A decimal input as strictly as the validator takes it, in the document and in the code.

    A JSON number within [low, high] (above `low` where `exclusive_low`) in steps of the last
    decimal place, or the same written as a string (see `decimal_pattern`). Pydantic alone
    documents a `Decimal` as any number or any string and reads `" 1e2"`, `"1_000"` or Arabic
    digits as numbers.
    """

    digits: int
    places: int
    low: Decimal
    high: Decimal
    exclusive_low: bool = False
    # The text's pattern where `decimal_pattern` has none for the bounds (it says which it has).
    pattern: str | None = None

    def __iter__(self) -> Iterator[Any]:
        pattern = self.pattern or decimal_pattern(
            digits=self.digits,
            places=self.places,
            high=self.high,
            signed=self.low < 0,
            positive=self.exclusive_low,
        )
        compiled = re.compile(pattern)
        low_word = "above" if self.exclusive_low else "from"

        def check(value: Any) -> Any:
            if isinstance(value, str) and not compiled.fullmatch(value):
                raise ValueError(
                    f"must be a number {low_word} {self.low} to {self.high} with at most "
                    f"{self.places} decimals, in ASCII digits (no exponent, spaces or leading zeros)"
                )
            return value

        low = Field(gt=self.low) if self.exclusive_low else Field(ge=self.low)
        yield low
        yield Field(le=self.high, max_digits=self.digits + self.places, decimal_places=self.places)
        yield BeforeValidator(check)
        minimum = "exclusiveMinimum" if self.exclusive_low else "minimum"
        step = float(Decimal(1).scaleb(-self.places))
        number = {
            "type": "number",
            minimum: float(self.low),
            "maximum": float(self.high),
            "multipleOf": step,
        }
        yield WithJsonSchema({"anyOf": [number, {"type": "string", "pattern": pattern}]})


# Input money: positive, at most two decimals, below a trillion.
PositiveMoney = Annotated[
    Decimal, Decimals(digits=12, places=2, low=Decimal(0), high=MAX_MONEY, exclusive_low=True)
]
# Input money that may be zero (a bound, a filter).
Money = Annotated[Decimal, Decimals(digits=12, places=2, low=Decimal(0), high=MAX_MONEY)]

# A percentage rate 0-100 with up to four decimals.
Percent = Annotated[Decimal, Decimals(digits=3, places=4, low=Decimal(0), high=Decimal(100))]
