"""Input rules of the transactions ETL: pure functions, no I/O.

A raw row (four text values, as read from a CSV line) becomes a `Transaction` or a list of
reason codes; among valid rows in load order the first occurrence of a `transaction_id` wins
and every later one is a duplicate. The loader (later, on the shared ingest engine) applies
the same rules vectorised; the property tests hold both to these functions.

The rules, exactly (the README's "Transactions" section says the same):

- Every value is trimmed first (`str.strip()`: leading and trailing whitespace).
- `transaction_id`: required, at most 50 characters.
- `user_id`: ASCII digits only, 1 .. 2,147,483,647 (PostgreSQL `integer`); no sign.
- `amount`: an optional `+` or `-`, then an optional `$`, then ASCII digits, then optionally
  a point and one or two digits; at most twelve digits before the point (`NUMERIC(14, 2)`).
- `transaction_date`: `YYYY-MM-DD`, `YYYY/MM/DD`, `MM/DD/YYYY` or `DD-MM-YYYY`, day and month
  always two digits, year four; the date must exist (`02/30/2024` does not).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from enum import StrEnum

MAX_TRANSACTION_ID = 50
MAX_USER_ID = 2**31 - 1
MAX_INTEGER_DIGITS = 12  # NUMERIC(14, 2)


class Reason(StrEnum):
    """Why a row is not loaded: stable codes an operator reads in the quarantine."""

    TRANSACTION_ID_MISSING = "transaction_id_missing"
    TRANSACTION_ID_TOO_LONG = "transaction_id_too_long"
    USER_ID_MISSING = "user_id_missing"
    USER_ID_INVALID = "user_id_invalid"  # not digits, or zero
    USER_ID_OUT_OF_RANGE = "user_id_out_of_range"  # above 2,147,483,647
    AMOUNT_MISSING = "amount_missing"
    AMOUNT_INVALID = "amount_invalid"  # any other shape: `1,000`, `$-5`, `1.234`, `abc`
    AMOUNT_OUT_OF_RANGE = "amount_out_of_range"  # more than twelve digits before the point
    DATE_MISSING = "date_missing"
    DATE_INVALID = "date_invalid"  # none of the four formats
    DATE_IMPOSSIBLE = "date_impossible"  # one of the formats, but no such day (`02/30/2024`)
    DUPLICATE = "duplicate"  # same id as an earlier row, same values
    CONFLICTING_DUPLICATE = "conflicting_duplicate"  # same id, another user, amount or date


@dataclass(frozen=True, slots=True)
class Transaction:
    """A valid row, as stored."""

    transaction_id: str
    user_id: int
    amount: Decimal
    transaction_date: date


@dataclass(frozen=True, slots=True)
class Rejected:
    """An invalid row: every rule it breaks, in column order."""

    reasons: tuple[Reason, ...]


# ASCII only: `\d` would also take Arabic-Indic and other Unicode digits.
_USER_ID = re.compile(r"[0-9]+")
_AMOUNT = re.compile(r"(?P<sign>[+-])?\$?(?P<units>[0-9]+)(?:\.(?P<cents>[0-9]{1,2}))?")
# (pattern, group order as year, month, day)
_DATES: tuple[tuple[re.Pattern[str], tuple[int, int, int]], ...] = (
    (re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})"), (1, 2, 3)),  # YYYY-MM-DD
    (re.compile(r"([0-9]{4})/([0-9]{2})/([0-9]{2})"), (1, 2, 3)),  # YYYY/MM/DD
    (re.compile(r"([0-9]{2})/([0-9]{2})/([0-9]{4})"), (3, 1, 2)),  # MM/DD/YYYY
    (re.compile(r"([0-9]{2})-([0-9]{2})-([0-9]{4})"), (3, 2, 1)),  # DD-MM-YYYY
)
DATE_SHAPES = tuple(pattern for pattern, _ in _DATES)  # the four formats, day or no day


def parse_transaction_id(raw: str) -> str | Reason:
    """The trimmed id, or why it is refused."""
    value = raw.strip()
    if not value:
        return Reason.TRANSACTION_ID_MISSING
    if len(value) > MAX_TRANSACTION_ID:
        return Reason.TRANSACTION_ID_TOO_LONG
    return value


def parse_user_id(raw: str) -> int | Reason:
    """A positive PostgreSQL integer, or why it is refused."""
    value = raw.strip()
    if not value:
        return Reason.USER_ID_MISSING
    if not _USER_ID.fullmatch(value):
        return Reason.USER_ID_INVALID
    number = int(value)
    if number == 0:
        return Reason.USER_ID_INVALID
    if number > MAX_USER_ID:
        return Reason.USER_ID_OUT_OF_RANGE
    return number


def parse_amount(raw: str) -> Decimal | Reason:
    """The exact amount (negative allowed), or why it is refused."""
    value = raw.strip()
    if not value:
        return Reason.AMOUNT_MISSING
    match = _AMOUNT.fullmatch(value)
    if match is None:
        return Reason.AMOUNT_INVALID
    units = match["units"].lstrip("0") or "0"
    if len(units) > MAX_INTEGER_DIGITS:
        return Reason.AMOUNT_OUT_OF_RANGE
    text = f"{match['sign'] or ''}{units}.{(match['cents'] or '').ljust(2, '0')}"
    return Decimal(text)


def parse_date(raw: str) -> date | Reason:
    """The date in one of the four formats, or why it is refused."""
    value = raw.strip()
    if not value:
        return Reason.DATE_MISSING
    for pattern, (year, month, day) in _DATES:
        match = pattern.fullmatch(value)
        if match is not None:
            try:
                return date(int(match[year]), int(match[month]), int(match[day]))
            except ValueError:
                return Reason.DATE_IMPOSSIBLE
    return Reason.DATE_INVALID


def validate_row(
    transaction_id: str, user_id: str, amount: str, transaction_date: str
) -> Transaction | Rejected:
    """Apply every column's rule to one raw row."""
    tid = parse_transaction_id(transaction_id)
    uid = parse_user_id(user_id)
    money = parse_amount(amount)
    day = parse_date(transaction_date)
    reasons = tuple(v for v in (tid, uid, money, day) if isinstance(v, Reason))
    if reasons:
        return Rejected(reasons)
    assert isinstance(tid, str) and isinstance(uid, int)
    assert isinstance(money, Decimal) and isinstance(day, date)
    return Transaction(tid, uid, money, day)


@dataclass(frozen=True, slots=True)
class Duplicate:
    """A later row whose id an earlier row (or an earlier run) already holds."""

    position: int  # index of the later row in the input
    row: Transaction  # the later version, not loaded
    first: Transaction  # the version that won

    @property
    def differences(self) -> tuple[str, ...]:
        """The columns in which the two versions differ (none for a plain duplicate)."""
        return tuple(
            name
            for name in ("user_id", "amount", "transaction_date")
            if getattr(self.row, name) != getattr(self.first, name)
        )

    @property
    def conflicting(self) -> bool:
        """Same id, another user, amount or date: someone must look at it."""
        return bool(self.differences)

    @property
    def reason(self) -> Reason:
        """`conflicting_duplicate` or `duplicate`."""
        return Reason.CONFLICTING_DUPLICATE if self.conflicting else Reason.DUPLICATE


@dataclass(frozen=True, slots=True)
class Deduplicated:
    """The rows to load (first occurrences, in input order) and the duplicates."""

    kept: list[Transaction] = field(default_factory=list)
    duplicates: list[Duplicate] = field(default_factory=list)

    @property
    def conflicting(self) -> list[Duplicate]:
        """The duplicates that differ from the version that won."""
        return [d for d in self.duplicates if d.conflicting]


def deduplicate(
    rows: Iterable[Transaction], stored: Mapping[str, Transaction] | None = None
) -> Deduplicated:
    """First occurrence of a `transaction_id` wins; every later one is a duplicate.

    `rows` are valid rows in load order (earliest file, then earliest line); `stored` holds
    the rows an earlier run already loaded with ids that occur in `rows`, which always win.
    Amounts compare as numbers (`$7` and `7.00` are the same amount).
    """
    winners: dict[str, Transaction] = dict(stored or {})
    out = Deduplicated()
    for position, row in enumerate(rows):
        first = winners.get(row.transaction_id)
        if first is None:
            winners[row.transaction_id] = row
            out.kept.append(row)
        else:
            out.duplicates.append(Duplicate(position, row, first))
    return out
