"""The declarative description of a CSV dataset: columns, rules, dedup key, target, rollups.

Each column has a *fast pattern* (a regular expression matching a value that is already clean
and can be handed to `COPY` as it is) and a *check* (what is wrong with a value that is not).
The engine matches whole lines against the concatenated fast patterns, which is one C regex
call per line for the overwhelming majority of rows; only lines that miss it are split and
checked column by column. A value breaking a rule either rejects the row (into the quarantine)
or is replaced by a default and flags the row (`on_invalid`).

A column may also declare a *transform* (`Transform`): a polars expression turning its raw text
into the text stored (a `$` amount into a signed decimal, a date in one of several formats into
ISO), applied to a whole block at once. Clean lines are then COPYed as transformed rows instead
of as they are; a value the transform cannot convert sends its line to the slow path, where it
is rejected (or flagged) with the column's problem code.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:  # polars is imported where rows are summed up, not to describe a dataset
    import polars as pl

OnInvalid = Literal["reject", "flag"]
Row = Sequence[str]  # stored values in the dataset's column order; "" stands for NULL
SEPARATOR = "\x1f"  # joins a list into one text parameter: string_to_array(%s, chr(31))

UUID_PATTERN = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
# A real calendar day (February 29th goes to the slow path, where the calendar decides).
_DAY = (
    r"(?:(?:0[13578]|1[02])-(?:0[1-9]|[12][0-9]|3[01])"
    r"|(?:0[469]|11)-(?:0[1-9]|[12][0-9]|30)|02-(?:0[1-9]|1[0-9]|2[0-8]))"
)
TIMESTAMP_PATTERN = rf"[0-9]{{4}}-{_DAY}T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]"
TIMESTAMP_FULL = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,6})?"
)
FREE_TEXT_PATTERN = r'[^,"\x00\r\n]*'

Check = Callable[[str, Mapping[str, str]], str | None]
"""(value, the row's raw values by column) -> the problem code, or None when valid."""


@dataclass(frozen=True, slots=True)
class Transform:
    """How a column's raw text becomes its stored text, vectorised (polars), block by block.

    Attributes:
        expr: raw values (a String expression) -> stored values (String), null where a value
            cannot be converted. The stored text is COPYed as CSV unquoted, so it must not hold
            a comma, a quote or a line break. Blank values never reach it (they are NULL).
        invalid: problem code of a value `expr` gives null for (rejects or flags the row, as
            the column's `on_invalid` says).
    """

    expr: Callable[[pl.Expr], pl.Expr]
    invalid: str

    def apply(self, values: Sequence[str]) -> list[str | None]:
        """The stored values of `values` (None where it cannot convert one); for the slow path."""
        import polars as pl

        frame = pl.DataFrame({"raw": pl.Series(values, dtype=pl.String)})
        return frame.select(self.expr(pl.col("raw"))).to_series().to_list()


@dataclass(frozen=True, slots=True)
class Column:
    """One CSV column.

    Attributes:
        name: normalised header name, also the target column.
        fast: regex (no capturing groups) of a clean value, copied as it is; it must not match
            a comma or a quote, and only use what Python's `re` and Rust's `regex` (polars)
            read alike: classes, alternations, counts, non-capturing groups.
        check: what is wrong with a non-blank value (None: nothing).
        on_invalid: a problem rejects the row, or flags it and stores `default`.
        blank: problem code of a blank value (None: blank is allowed and stored as NULL).
        default: value stored instead of a flagged one ("" is NULL).
        normalise: turns a valid value into the stored text (e.g. rounding).
        transform: turns a valid value into the stored text, a whole block at once (polars);
            replaces `normalise`, and what it cannot convert is a problem (`Transform.invalid`).
    """

    name: str
    fast: str
    check: Check | None = None
    on_invalid: OnInvalid = "reject"
    blank: str | None = None
    default: str = ""
    normalise: Callable[[str], str] | None = None
    parent: str | None = None
    pairs: frozenset[tuple[str, str]] = frozenset()
    transform: Transform | None = None

    def validate(
        self, value: str, row: Mapping[str, str], converted: str | None = None
    ) -> tuple[str, str | None]:
        """(stored value, problem code or None) for one raw value.

        `converted` is what the column's transform made of `value` (None: it could not).
        """
        if value == "":
            return (self.default, self.blank) if self.blank else ("", None)
        problem = self.check(value, row) if self.check else None
        if problem:
            return self.default, problem
        if self.transform is not None:
            return (
                (self.default, self.transform.invalid) if converted is None else (converted, None)
            )
        return (self.normalise(value) if self.normalise else value), None


def _regex_check(pattern: str, code: str, flags: int = 0) -> Check:
    compiled = re.compile(pattern, flags)

    def check(value: str, row: Mapping[str, str]) -> str | None:
        return None if compiled.fullmatch(value) else code

    return check


def text_column(name: str) -> Column:
    """Free text with no rule; blank is NULL."""
    return Column(name, FREE_TEXT_PATTERN)


def uuid_column(name: str) -> Column:
    """A canonical hyphenated UUID (any case); blank or anything else rejects the row."""
    return Column(
        name,
        UUID_PATTERN,
        _regex_check(UUID_PATTERN, f"{name} is not a UUID"),
        blank=f"{name} is missing",
    )


def pattern_column(name: str, pattern: str) -> Column:
    """Text matching `pattern`; blank or malformed rejects the row."""
    return Column(
        name, pattern, _regex_check(pattern, f"{name} is malformed"), blank=f"{name} is blank"
    )


def choice_column(
    name: str,
    values: Sequence[str],
    *,
    on_invalid: OnInvalid = "reject",
    parent: str | None = None,
    allowed: Mapping[str, Sequence[str]] | None = None,
) -> Column:
    """One of a closed set (case-sensitive), optionally the subset allowed for `parent`'s value.

    Rejecting columns report `<name> is missing` / `<name> is unknown` (`... for its <parent>`);
    flagging ones store NULL and flag `<name>_missing` / `<name>_unknown`.
    """
    known = frozenset(values)
    pairs = frozenset((p, v) for p, vs in (allowed or {}).items() for v in vs)
    reject = on_invalid == "reject"
    missing = f"{name} is missing" if reject else f"{name}_missing"
    unknown = f"{name} is unknown" if reject else f"{name}_unknown"
    foreign = f"{name} is unknown for its {parent}" if reject else unknown

    def check(value: str, row: Mapping[str, str]) -> str | None:
        if value not in known:
            return unknown
        if parent and (row.get(parent, ""), value) not in pairs:
            return foreign
        return None

    fast = "(?:" + "|".join(re.escape(v) for v in sorted(values, key=len, reverse=True)) + ")"
    return Column(name, fast, check, on_invalid, missing, parent=parent, pairs=pairs)


CENT = Decimal("0.01")


def decimal_column(name: str, *, integer_digits: int = 12) -> Column:
    """A non-negative amount, rounded half-up to cents.

    Blank, not a number or negative is stored as 0 and flagged (`<name>_missing`,
    `<name>_not_a_number`, `<name>_negative`).
    """
    number = re.compile(rf"[+-]?(?:[0-9]{{1,{integer_digits}}}(?:\.[0-9]*)?|\.[0-9]+)")

    def check(value: str, row: Mapping[str, str]) -> str | None:
        if not number.fullmatch(value):
            return f"{name}_not_a_number"
        return f"{name}_negative" if Decimal(value) < 0 else None

    def normalise(value: str) -> str:
        return str(Decimal(value).quantize(CENT, ROUND_HALF_UP))

    fast = rf"[0-9]{{1,{integer_digits}}}(?:\.[0-9]{{1,2}})?"
    return Column(name, fast, check, "flag", f"{name}_missing", "0", normalise)


def signed_amount_column(
    name: str, *, integer_digits: int = 12, on_invalid: OnInvalid = "reject"
) -> Column:
    """An amount with an optional sign and `$` in front (`$4990.00`, `-$12.50`, `+7`).

    Stored as a signed decimal (`-12.50`) for a NUMERIC column. Blank or anything else rejects
    the row (`<name> is missing`, `<name> is not an amount`), or with `on_invalid="flag"` is
    stored as NULL and flagged (`<name>_missing`, `<name>_not_an_amount`).
    """
    fast = rf"[+-]?\$?[0-9]{{1,{integer_digits}}}(?:\.[0-9]{{1,2}})?"
    # Leading zeros do not count towards NUMERIC's digits (`000000000000012` is 12).
    convertible = rf"^[+-]?\$?0*[0-9]{{1,{integer_digits}}}(?:\.[0-9]{{1,2}})?$"
    reject = on_invalid == "reject"

    def expr(raw: pl.Expr) -> pl.Expr:
        import polars as pl

        return pl.when(raw.str.contains(convertible)).then(raw.str.replace("$", "", literal=True))

    return Column(
        name,
        fast,
        on_invalid=on_invalid,
        blank=f"{name} is missing" if reject else f"{name}_missing",
        transform=Transform(
            expr, f"{name} is not an amount" if reject else f"{name}_not_an_amount"
        ),
    )


DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%m/%d/%Y", "%d-%m-%Y")
_FORMAT_PATTERNS = {"%Y": "[0-9]{4}", "%m": "[0-9]{2}", "%d": "[0-9]{2}"}


def _format_pattern(date_format: str) -> str:
    """`%d-%m-%Y` -> `[0-9]{2}-[0-9]{2}-[0-9]{4}`."""
    parts = re.split(r"(%[Ymd])", date_format)
    # Separators stay as they are where both regex engines read them alike (`-` and `/`).
    return "".join(
        _FORMAT_PATTERNS.get(p) or "".join(c if c in "-/" else re.escape(c) for c in p)
        for p in parts
    )


def date_column(
    name: str, formats: Sequence[str] = DATE_FORMATS, *, on_invalid: OnInvalid = "reject"
) -> Column:
    """A calendar date in one of `formats` (`%Y`, `%m`, `%d` and separators), stored as ISO.

    The first format whose shape fits a value reads it, so two formats of one shape must not
    be given (`%m/%d/%Y` and `%d/%m/%Y`). Blank or not a real date rejects the row
    (`<name> is missing`, `<name> is not a date`), or with `on_invalid="flag"` is stored as
    NULL and flagged (`<name>_missing`, `<name>_invalid`).
    """
    shapes = [(f, _format_pattern(f)) for f in formats]
    reject = on_invalid == "reject"

    def expr(raw: pl.Expr) -> pl.Expr:
        import polars as pl

        day = pl.coalesce(
            pl.when(raw.str.contains(f"^{shape}$")).then(raw.str.to_date(f, strict=False))
            for f, shape in shapes
        )
        # chrono reads year 0, which PostgreSQL's DATE refuses.
        return pl.when(day.dt.year() > 0).then(day.dt.to_string("%Y-%m-%d"))

    return Column(
        name,
        "(?:" + "|".join(shape for _, shape in shapes) + ")",
        on_invalid=on_invalid,
        blank=f"{name} is missing" if reject else f"{name}_missing",
        transform=Transform(expr, f"{name} is not a date" if reject else f"{name}_invalid"),
    )


def utc_timestamp_column(name: str) -> Column:
    """ISO 8601 without a zone, read as UTC (the import sets the session time zone to UTC).

    Blank or unparseable is NULL and flagged (`<name>_missing`, `<name>_invalid`).
    """

    def check(value: str, row: Mapping[str, str]) -> str | None:
        if not TIMESTAMP_FULL.fullmatch(value):
            return f"{name}_invalid"
        try:
            datetime.fromisoformat(value)
        except ValueError:
            return f"{name}_invalid"
        return None

    return Column(name, TIMESTAMP_PATTERN, check, "flag", f"{name}_missing")


PARTS = "ingest_parts"
"""Temporary table (ON COMMIT DROP) holding the parts of the rows the current group of files
really inserted since the last rollup: one row per distinct `Parts.keys` value, the columns of
`Parts.columns`. Rollup statements read it before the commit."""


@dataclass(frozen=True)
class Parts:
    """How a dataset's inserted rows are summed up before its rollups (vectorised, in Python).

    The reader thread turns each block's kept rows into parts with `summarise`, a polars
    function; the engine adds the parts of a group up (`keys` identify a part, every other
    column is a sum), takes away the parts of the rows the table turned out to hold already
    (duplicates of earlier blocks or files), and COPYs the sums into `PARTS` for the rollups.
    So each sum must be additive (a count, a sum of amounts; no min, max or bit OR), and parts
    whose `count` comes back to zero are dropped.

    Attributes:
        columns: (name, SQL type) of each column of `summarise`'s result, in its order.
        keys: the columns that identify a part.
        count: the column counting the rows of a part.
        reads: the dataset columns `summarise` reads (stored text values, NULL for blank).
        summarise: kept rows -> parts; must give `columns`, sums as signed integers or Decimal.
    """

    columns: tuple[tuple[str, str], ...]
    keys: tuple[str, ...]
    count: str
    reads: tuple[str, ...]
    summarise: Callable[[pl.DataFrame], pl.DataFrame]

    @property
    def sums(self) -> list[str]:
        return [name for name, _ in self.columns if name not in self.keys]


@dataclass(frozen=True)
class Dataset:
    """Everything the engine needs to import one kind of CSV file.

    Attributes:
        name: stable identifier, stored in `import_runs` and `import_rejects`.
        table: target table: one column per CSV column plus `flags_column`.
        columns: the CSV columns in their usual order (a file may order them differently).
        key: the dedup column; the first occurrence wins, later ones count as duplicates.
        key_type: SQL type of the key (used to probe the table for keys already there).
        flags_column: text[] column of a kept row's flags (NULL when clean); None for a table
            without one (its columns must then never flag).
        trim: every value is trimmed (`str.strip()`) before its check, and the trimmed text is
            stored; the fast patterns must then not match leading or trailing whitespace.
        conflicts: reason code under which a *conflicting* duplicate (same key, another stored
            value in some column) is quarantined with both versions; None: duplicates are only
            counted. Values compare as the table's types (`$7` and `7.00` are one amount).
        rollups: SQL statements run before each group's commit, reading the parts of the rows
            its files inserted from the temporary table `PARTS` (set-based: a few statements
            per group, whatever its size; no rollups when empty). A big file runs them once
            per 64 MiB of rows (the table is emptied in between), and the files are grouped in
            varying ways, so they must add up.
        parts: how the rows are summed up into `PARTS` (required with `rollups`).
        file_date: the `YYYYMMDD` a file's name carries, or None; files are applied in the
            order of these dates, and a file without one on the day it arrives.
        dated_names: a name must carry a date (`file_date`), or the file is refused.
        late_files: a file dated before one already loaded is applied as in date order
            (`late.py`); needs the table's `ingest_run` column (and `ingest_line` with
            `conflicts`), and rollups that add up negative parts. Without it such a file is
            refused.
        file_name_hint: the names the dataset expects, for messages (`activities_YYYYMMDD.csv`).
        file_pattern: glob of the dataset's files in a directory.
    """

    name: str
    table: str
    columns: tuple[Column, ...]
    key: str
    key_type: str = "text"
    flags_column: str | None = "quality_flags"
    trim: bool = False
    conflicts: str | None = None
    rollups: tuple[str, ...] = ()
    parts: Parts | None = None
    file_date: Callable[[str], str | None] = field(default=lambda name: None)
    dated_names: bool = False
    late_files: bool = False
    file_name_hint: str = "*.csv"
    file_pattern: str = "*.csv"

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def keeps_lines(self) -> bool:
        """Each kept row stores its line (`ingest_line`): a late file may make it a conflict."""
        return self.late_files and self.conflicts is not None


def name_date(pattern: re.Pattern[str], name: str) -> str | None:
    """The `YYYYMMDD` that `pattern`'s first group finds in `name`, if it is a real day."""
    match = pattern.fullmatch(name)
    if match is None:
        return None
    try:
        datetime.strptime(match.group(1), "%Y%m%d")
    except ValueError:
        return None
    return match.group(1)


def normalise_header(name: str) -> str:
    """`" Event ID "` -> `event_id`: trimmed, lower case, spaces and hyphens to underscores."""
    cleaned = name.replace("\ufeff", "").strip().lower()
    return "_".join(cleaned.replace("-", " ").split())


def fast_line_pattern(columns: Sequence[Column]) -> re.Pattern[str]:
    """One regex for a whole clean line, one capturing group per column (in file order)."""
    return re.compile(",".join(f"({c.fast})" for c in columns))
