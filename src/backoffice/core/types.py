"""Bounded input types: what PostgreSQL can store, declared where the value enters.

Bounds stated here reach the OpenAPI document too, so a client (or a fuzzer) reads the same
limits the validators apply, and an out-of-range value is a 422 instead of a database error.
Each type's document says exactly what its validator accepts (`schemathesis --checks all`
holds every operation to it):

- body integers are JSON integers; `7.0` is the integer 7 (JSON Schema's `integer` admits it),
  `"7"` and `true` are refused;
- integers in a path or a query are canonical decimals (`7`, not `007`, `+7` or ` 7`; `7.0`
  is 7 there too);
- dates are `YYYY-MM-DD` and instants RFC 3339 text, never a bare number read as Unix time;
- names are one line of text: no control character, not blank, at most `max_length` characters
  as sent (surrounding spaces are then dropped); prose may hold line breaks and tabs.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any

from annotated_types import GroupedMetadata, Interval
from pydantic import AfterValidator, BeforeValidator, Field, Strict, WithJsonSchema

# PostgreSQL `integer` (serial keys and the foreign keys to them) and `bigint` (OFFSET).
MAX_INT = 2**31 - 1
MAX_BIGINT = 2**63 - 1

# Control characters (Unicode's Cc: C0, DEL, C1) and the other characters `str.strip()` drops,
# as regular-expression class bodies that Python, ECMA-262 and Rust read alike.
CONTROL = r"\x00-\x1f\x7f-\x9f"
LINE_BREAKS = "\t\n\r"
SPACES = (
    " \u00a0\u1680" + "".join(map(chr, range(0x2000, 0x200B))) + "\u2028\u2029\u202f\u205f\u3000"
)
_SPACE_CLASS = r"\u0020\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"


def canonical(minimum: int) -> Any:
    """A validator of an integer parameter's text: ASCII digits, no sign or leading zero."""
    digits = re.compile(
        r"(0|[1-9][0-9]{0,18})(\.0)?" if minimum <= 0 else r"[1-9][0-9]{0,18}(\.0)?"
    )

    def check(value: Any) -> Any:
        if isinstance(value, str):
            if not digits.fullmatch(value):
                raise ValueError(
                    "must be a whole number in ASCII digits, without sign, leading zeros or spaces"
                )
            # `7.0` (an integral float as Python and JavaScript print it) is 7, as JSON Schema's
            # `integer` has it; `7.00` is not the text of a number a client holds.
            return value.partition(".")[0]
        return value

    return BeforeValidator(check)


def _whole(value: Any) -> Any:
    """JSON Schema's `integer` is any number without a fraction: `7.0` is 7."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


# The text of a positive integer parameter, as documented (the validator above enforces it).
CANONICAL_POSITIVE = "^[1-9][0-9]*(\\.0)?$"
CANONICAL_NATURAL = "^(0|[1-9][0-9]*)(\\.0)?$"

# A row id in a path or query parameter: 1 .. 2^31-1, written canonically.
IdParam = Annotated[
    int,
    Interval(ge=1, le=MAX_INT),
    Field(json_schema_extra={"pattern": CANONICAL_POSITIVE}),
    canonical(1),
]
# A count in a query parameter (`offset`): 0 .. 2^63-1, written canonically.
CountParam = Annotated[
    int,
    Interval(ge=0, le=MAX_BIGINT),
    Field(json_schema_extra={"pattern": CANONICAL_NATURAL}),
    canonical(0),
]


@dataclass(frozen=True)
class Whole(GroupedMetadata):
    """A JSON integer in a body, within [ge, le]: not a string or a boolean; `7.0` is 7."""

    ge: int
    le: int

    def __iter__(self) -> Iterator[Any]:
        yield Strict()
        yield Interval(ge=self.ge, le=self.le)
        yield BeforeValidator(_whole)


# A row id in a JSON body: a JSON integer 1 .. 2^31-1.
Id = Annotated[int, Whole(ge=1, le=MAX_INT)]
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

_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_INSTANT = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?"
    r"([Zz]|[+-][0-9]{2}:[0-9]{2})?"
)


def _text_as(pattern: re.Pattern[str], shape: str) -> Any:
    def check(value: Any) -> Any:
        if not isinstance(value, date) and not (
            isinstance(value, str) and pattern.fullmatch(value)
        ):
            raise ValueError(f"must be written {shape}")
        return value

    return BeforeValidator(check)


# A calendar date as `YYYY-MM-DD` text (a number is not a date).
Day = Annotated[date, _text_as(_DAY, "YYYY-MM-DD")]
# An instant as RFC 3339 text; without an offset it is UTC. A number is not an instant.
Instant = Annotated[
    datetime,
    _text_as(_INSTANT, "as RFC 3339, e.g. 2026-01-31T12:00:00Z (no offset: UTC)"),
    Field(description="RFC 3339 (`2026-01-31T12:00:00Z`); without an offset, UTC"),
]


@dataclass(frozen=True)
class Text(GroupedMetadata):
    """A string field: no control character (line breaks and tabs too where `lines`).

    `max_length` bounds the text as sent; the validator then drops surrounding whitespace, and a
    `required` text must keep at least one character. The document's pattern says both rules.
    """

    max_length: int
    required: bool = True
    lines: bool = False

    def __iter__(self) -> Iterator[Any]:
        controls = CONTROL if not self.lines else r"\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f"
        blank = _SPACE_CLASS + (r"\t\n\r" if self.lines else "")
        if self.required:
            pattern = f"^[^{controls}]*[^{controls}{blank}][^{controls}]*$"
        else:
            pattern = f"^[^{controls}]*$"
        compiled = re.compile(pattern)
        strip = SPACES + (LINE_BREAKS if self.lines else "")
        what = "text" if self.lines else "a single line"

        def check(value: str) -> str:
            if not compiled.fullmatch(value):
                if self.required and not value.strip(strip):
                    raise ValueError("must not be blank")
                raise ValueError(f"must be {what} without control characters")
            return value.strip(strip)

        yield Field(min_length=1 if self.required else 0, max_length=self.max_length)
        yield AfterValidator(check)
        yield WithJsonSchema(
            {
                "type": "string",
                "minLength": 1 if self.required else 0,
                "maxLength": self.max_length,
                "pattern": pattern,
            }
        )


# Characters whose NFKC form holds a space, a control character or an `@` (U+00B4 is a space
# and an accent, U+FF20 is `@`): the savings users service compares emails after NFKC, so the shape
# below stays true after it. `tests/core/test_types.py` recomputes this list from `unicodedata`.
NFKC_UNSAFE = (
    r"\u00a0\u00a8\u00af\u00b4\u00b8\u02d8-\u02dd\u037a\u0384\u0385\u1fbd\u1fbf-\u1fc1"
    r"\u1fcd-\u1fcf\u1fdd-\u1fdf\u1fed\u1fee\u1ffd\u1ffe\u2000-\u200a\u2017\u202f\u203e\u205f"
    r"\u3000\u309b\u309c\ufc5e-\ufc63\ufdfa\ufdfb\ufe49-\ufe4c\ufe6b\ufe70\ufe72\ufe74"
    r"\ufe76\ufe78\ufe7a\ufe7c\ufe7e\uff20\uffe3"
)
# An email address's shape: one @, a dotted domain, no space or control character. Whether
# the mailbox exists is not a rule.
_EMAIL_CHAR = f"[^@{CONTROL}{_SPACE_CLASS}{NFKC_UNSAFE}]"
EMAIL_PATTERN = f"^{_EMAIL_CHAR}+@{_EMAIL_CHAR}+\\.{_EMAIL_CHAR}+$"
_EMAIL = re.compile(EMAIL_PATTERN)


def _email(value: str) -> str:
    if not _EMAIL.fullmatch(value):
        raise ValueError("must be an email address like name@example.com")
    return value.lower()


# An email address, compared in lower case.
Email = Annotated[
    str,
    Field(max_length=254),
    AfterValidator(_email),
    WithJsonSchema(
        {
            "type": "string",
            "maxLength": 254,
            "pattern": EMAIL_PATTERN,
            "description": "name@example.com; any case, kept in lower case",
        }
    ),
]


def omissible() -> Any:
    """The default of an update field that may be left out but not set to null.

    The field's type stays non-nullable, so the OpenAPI document and the validator both refuse
    null; an update applies `model_dump(exclude_unset=True)`, which leaves this default out.
    """
    return Field(default=None, validate_default=False)
