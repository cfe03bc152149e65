"""Bounded input types: what PostgreSQL can store, declared where the value enters.

Bounds stated here reach the OpenAPI document too, so a client (or a fuzzer) reads the same
limits the validators apply, and an out-of-range value is a 422 instead of a database error.
Body fields are strict (a JSON `"3"` is not an integer, `1` is not `true`); path and query
values arrive as text and are parsed.
"""

from __future__ import annotations

from typing import Annotated, Any

from annotated_types import Interval
from pydantic import BeforeValidator, Field, Strict

# PostgreSQL `integer` (serial keys and the foreign keys to them) and `bigint` (OFFSET).
MAX_INT = 2**31 - 1
MAX_BIGINT = 2**63 - 1

# A row id in a path or query parameter: 1 .. 2^31-1.
IdParam = Annotated[int, Interval(ge=1, le=MAX_INT)]
# A row id in a JSON body: an integer (not a string or a float), 1 .. 2^31-1.
Id = Annotated[int, Strict(), Interval(ge=1, le=MAX_INT)]
# A JSON boolean: `true` or `false`, not `0`, `1` or `"yes"`.
Flag = Annotated[bool, Strict()]


def _true_or_false(value: Any) -> Any:
    if isinstance(value, str):
        lowered = value.lower()
        if lowered not in ("true", "false"):
            raise ValueError("must be true or false")
        return lowered == "true"
    return value


# A boolean query parameter: `true` or `false` (any case), not `1`, `0`, `yes` or `on`.
FlagParam = Annotated[bool, BeforeValidator(_true_or_false)]


def omissible() -> Any:
    """The default of an update field that may be left out but not set to null.

    The field's type stays non-nullable, so the OpenAPI document and the validator both refuse
    null; an update applies `model_dump(exclude_unset=True)`, which leaves this default out.
    """
    return Field(default=None, validate_default=False)
