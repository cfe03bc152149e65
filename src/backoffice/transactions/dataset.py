"""The transactions CSV files, described for the ingest engine with the rules of `rules.py`.

The engine applies the rules vectorised (clean-line regex, polars transforms) and column by
column on its slow path; every reason code is a `rules.Reason`, and the property tests in
`tests/transactions/test_dataset.py` hold the engine's outcome to `rules.validate_row` and
`rules.deduplicate`. A value is trimmed first (`Dataset.trim`), so the fast patterns below admit
no whitespace: a line with any goes to the slow path, where it is trimmed and checked.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace

from backoffice.ingest.spec import (
    Column,
    Dataset,
    Transform,
    date_column,
    name_date,
    signed_amount_column,
)
from backoffice.transactions.rules import (
    DATE_SHAPES,
    MAX_INTEGER_DIGITS,
    MAX_TRANSACTION_ID,
    Reason,
    parse_amount,
    parse_user_id,
)

NAME = "transactions"
FILE_NAME = re.compile(r".*_([0-9]{8})\.csv")


def file_date(name: str) -> str | None:
    """The `YYYYMMDD` of an export named `*_YYYYMMDD.csv` (applied in its order), or None."""
    return name_date(FILE_NAME, name)


def _transaction_id_check(value: str, row: Mapping[str, str]) -> str | None:
    return Reason.TRANSACTION_ID_TOO_LONG if len(value) > MAX_TRANSACTION_ID else None


def _user_id_check(value: str, row: Mapping[str, str]) -> str | None:
    parsed = parse_user_id(value)
    return parsed if isinstance(parsed, Reason) else None


def _amount_check(value: str, row: Mapping[str, str]) -> str | None:
    parsed = parse_amount(value)
    return parsed if isinstance(parsed, Reason) else None


def _date_check(value: str, row: Mapping[str, str]) -> str | None:
    """Only the shape: the transform says whether the day exists (`date_impossible`)."""
    return None if any(p.fullmatch(value) for p in DATE_SHAPES) else Reason.DATE_INVALID


def _amount() -> Column:
    base = signed_amount_column("amount", integer_digits=MAX_INTEGER_DIGITS)
    assert base.transform is not None
    return replace(
        base,
        check=_amount_check,
        blank=Reason.AMOUNT_MISSING,
        transform=Transform(base.transform.expr, Reason.AMOUNT_INVALID),
    )


def _date() -> Column:
    base = date_column("transaction_date")
    assert base.transform is not None
    return replace(
        base,
        check=_date_check,
        blank=Reason.DATE_MISSING,
        transform=Transform(base.transform.expr, Reason.DATE_IMPOSSIBLE),
    )


TRANSACTIONS = Dataset(
    name=NAME,
    table="transactions",
    columns=(
        Column(
            "transaction_id",
            # Printable ASCII but space, quote and comma; anything else is checked on the slow
            # path (Python's and Rust's ideas of whitespace differ beyond ASCII).
            rf"[!#-+\--~]{{1,{MAX_TRANSACTION_ID}}}",
            _transaction_id_check,
            blank=Reason.TRANSACTION_ID_MISSING,
        ),
        Column(
            "user_id",
            "[1-9][0-9]{0,8}",  # up to 999,999,999: always an int4; longer ones are checked
            _user_id_check,
            blank=Reason.USER_ID_MISSING,
            normalise=lambda value: str(int(value)),  # `007` is user 7
        ),
        _amount(),
        _date(),
    ),
    key="transaction_id",
    key_type="varchar(50)",
    flags_column=None,
    trim=True,
    conflicts=Reason.CONFLICTING_DUPLICATE,
    file_date=file_date,
    late_files=True,
    file_name_hint="*_YYYYMMDD.csv (or any *.csv, applied as it arrives)",
)
"""Header in any case and order; standard CSV; BOM and CRLF accepted (the engine's reader)."""
