"""The transactions input rules, one by one and as properties (no database)."""

from __future__ import annotations

import csv
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backoffice.transactions.rules import (
    MAX_USER_ID,
    Reason,
    Rejected,
    Transaction,
    deduplicate,
    parse_amount,
    parse_date,
    parse_transaction_id,
    parse_user_id,
    validate_row,
)

FIXTURE = Path(__file__).parents[1] / "fixtures" / "transactions" / "defects.csv"

FORMATS = {
    "YYYY-MM-DD": "{y:04d}-{m:02d}-{d:02d}",
    "YYYY/MM/DD": "{y:04d}/{m:02d}/{d:02d}",
    "MM/DD/YYYY": "{m:02d}/{d:02d}/{y:04d}",
    "DD-MM-YYYY": "{d:02d}-{m:02d}-{y:04d}",
}

blank = st.text(alphabet=" \t", max_size=3)


# --- dates --------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(st.dates(), st.sampled_from(sorted(FORMATS)), blank, blank)
def test_every_valid_date_in_each_format_round_trips(day, fmt, left, right):
    text = FORMATS[fmt].format(y=day.year, m=day.month, d=day.day)
    assert parse_date(left + text + right) == day


@settings(max_examples=300, deadline=None)
@given(
    st.integers(1, 9999),
    st.integers(0, 99),
    st.integers(0, 99),
    st.sampled_from(sorted(FORMATS)),
)
def test_a_date_in_a_format_exists_or_is_impossible(year, month, day, fmt):
    text = FORMATS[fmt].format(y=year, m=month, d=day)
    try:
        expected: date | Reason = date(year, month, day)
    except ValueError:
        expected = Reason.DATE_IMPOSSIBLE
    assert parse_date(text) == expected


def test_slashes_after_two_digits_are_month_first_and_dashes_day_first():
    assert parse_date("02/03/2024") == date(2024, 2, 3)
    assert parse_date("02-03-2024") == date(2024, 3, 2)
    assert parse_date("12-08-2024") == date(2024, 8, 12)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("", Reason.DATE_MISSING),
        ("   ", Reason.DATE_MISSING),
        ("02/30/2024", Reason.DATE_IMPOSSIBLE),
        ("2023-02-29", Reason.DATE_IMPOSSIBLE),
        ("31-04-2024", Reason.DATE_IMPOSSIBLE),
        ("0000-01-01", Reason.DATE_IMPOSSIBLE),
        ("2024-1-05", Reason.DATE_INVALID),
        ("1/5/2024", Reason.DATE_INVALID),
        ("2024.01.05", Reason.DATE_INVALID),
        ("2024/01-05", Reason.DATE_INVALID),
        ("05/01-2024", Reason.DATE_INVALID),
        ("2024-01-05T00:00:00", Reason.DATE_INVALID),
        ("20240105", Reason.DATE_INVALID),
        ("24-01-05", Reason.DATE_INVALID),
        ("NOT-A-DATE", Reason.DATE_INVALID),
        (
            "\u0662\u0660\u0662\u0664-\u0660\u0661-\u0660\u0665",
            Reason.DATE_INVALID,
        ),  # Arabic-Indic digits are not digits here
    ],
)
def test_other_dates_are_rejected(raw, reason):
    assert parse_date(raw) == reason


# --- amounts ------------------------------------------------------------------------------

units = st.integers(0, 10**12 - 1)
cents_text = st.one_of(
    st.just(""),
    st.integers(0, 9).map(lambda c: f".{c}"),
    st.integers(0, 99).map(lambda c: f".{c:02d}"),
)


@settings(max_examples=500, deadline=None)
@given(st.sampled_from(["", "+", "-"]), st.booleans(), units, cents_text, st.integers(0, 2), blank)
def test_generated_valid_amounts_parse_to_the_exact_decimal(sign, dollar, whole, cents, zeros, pad):
    text = f"{sign}{'$' if dollar else ''}{'0' * zeros}{whole}{cents}"
    expected = Decimal(f"{whole}{cents or '.0'}")
    parsed = parse_amount(pad + text + pad)
    assert isinstance(parsed, Decimal)
    assert parsed == (-expected if sign == "-" else expected)
    assert parsed.as_tuple().exponent == -2  # stored as NUMERIC(14, 2): exactly cents


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("-3437.55", "-3437.55"),
        ("$4990.00", "4990.00"),
        ("-$12.50", "-12.50"),
        ("+7", "7.00"),
        ("0.0", "0.00"),
        (" +$0.5 ", "0.50"),
        ("999999999999.99", "999999999999.99"),
    ],
)
def test_the_issue_examples_parse(raw, expected):
    assert parse_amount(raw) == Decimal(expected)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("", Reason.AMOUNT_MISSING),
        ("  ", Reason.AMOUNT_MISSING),
        ("1,000.00", Reason.AMOUNT_INVALID),
        ("1 000", Reason.AMOUNT_INVALID),
        ("$-5.00", Reason.AMOUNT_INVALID),
        ("$+5", Reason.AMOUNT_INVALID),
        ("12.345", Reason.AMOUNT_INVALID),
        ("12.", Reason.AMOUNT_INVALID),
        (".5", Reason.AMOUNT_INVALID),
        ("--5", Reason.AMOUNT_INVALID),
        ("$$5", Reason.AMOUNT_INVALID),
        ("5$", Reason.AMOUNT_INVALID),
        ("1e5", Reason.AMOUNT_INVALID),
        ("NaN", Reason.AMOUNT_INVALID),
        ("Infinity", Reason.AMOUNT_INVALID),
        ("abc", Reason.AMOUNT_INVALID),
        ("USD 5", Reason.AMOUNT_INVALID),
        ("\u0661\u0662", Reason.AMOUNT_INVALID),  # Arabic-Indic digits
        ("1000000000000", Reason.AMOUNT_OUT_OF_RANGE),
        ("-$1234567890123.00", Reason.AMOUNT_OUT_OF_RANGE),
    ],
)
def test_the_listed_invalid_amounts_are_rejected(raw, reason):
    assert parse_amount(raw) == reason


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="0123456789$+-.,e ", max_size=12))
def test_anything_accepted_has_the_valid_shape(raw):
    parsed = parse_amount(raw)
    if isinstance(parsed, Decimal):
        body = raw.strip().lstrip("+-").removeprefix("$")
        whole, _, cents = body.partition(".")
        assert whole.isdigit() and (cents == "" or (cents.isdigit() and len(cents) <= 2))
        assert "." not in raw.strip() or cents


# --- ids ----------------------------------------------------------------------------------


@given(st.integers(1, MAX_USER_ID), blank)
def test_positive_int4_user_ids_parse(number, pad):
    assert parse_user_id(f"{pad}{number}{pad}") == number


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("", Reason.USER_ID_MISSING),
        ("0", Reason.USER_ID_INVALID),
        ("-5", Reason.USER_ID_INVALID),
        ("+5", Reason.USER_ID_INVALID),
        ("12.5", Reason.USER_ID_INVALID),
        ("1e3", Reason.USER_ID_INVALID),
        ("abc", Reason.USER_ID_INVALID),
        ("2147483648", Reason.USER_ID_OUT_OF_RANGE),
        ("99999999999999999999", Reason.USER_ID_OUT_OF_RANGE),
    ],
)
def test_other_user_ids_are_rejected(raw, reason):
    assert parse_user_id(raw) == reason


def test_transaction_id_is_trimmed_required_and_at_most_50_characters():
    assert parse_transaction_id("  TXN1 ") == "TXN1"
    assert parse_transaction_id("x" * 50) == "x" * 50
    assert parse_transaction_id(" " + "é" * 50 + " ") == "é" * 50  # characters, not bytes
    assert parse_transaction_id("x" * 51) == Reason.TRANSACTION_ID_TOO_LONG
    assert parse_transaction_id("   ") == Reason.TRANSACTION_ID_MISSING


def test_a_row_lists_every_rule_it_breaks_in_column_order():
    assert validate_row("", "x", "1,0", "") == Rejected(
        (
            Reason.TRANSACTION_ID_MISSING,
            Reason.USER_ID_INVALID,
            Reason.AMOUNT_INVALID,
            Reason.DATE_MISSING,
        )
    )


# --- duplicates ---------------------------------------------------------------------------

transactions = st.builds(
    Transaction,
    transaction_id=st.sampled_from(["A", "B", "C", "D", "E"]),
    user_id=st.integers(1, 3),
    amount=st.sampled_from([Decimal("1.00"), Decimal("-2.50"), Decimal("7.00")]),
    transaction_date=st.sampled_from([date(2024, 1, 1), date(2024, 1, 2)]),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(transactions, max_size=30))
def test_first_occurrence_wins_and_every_later_one_is_a_duplicate(rows):
    result = deduplicate(rows)
    firsts: dict[str, Transaction] = {}
    for row in rows:
        firsts.setdefault(row.transaction_id, row)
    assert result.kept == list(firsts.values())  # first occurrences, in input order
    assert len(result.kept) + len(result.duplicates) == len(rows)
    assert [d.position for d in result.duplicates] == sorted(d.position for d in result.duplicates)
    for dup in result.duplicates:
        assert rows[dup.position] is dup.row
        assert dup.first is firsts[dup.row.transaction_id]
        assert dup.conflicting == (dup.row != dup.first)
        assert dup.reason == (Reason.CONFLICTING_DUPLICATE if dup.conflicting else Reason.DUPLICATE)
    # Deduplicating the result again changes nothing: loading it twice adds nothing.
    assert deduplicate(result.kept).kept == result.kept
    assert deduplicate(result.kept, {r.transaction_id: r for r in result.kept}).kept == []


@settings(max_examples=200, deadline=None)
@given(st.lists(transactions, max_size=30), st.integers(0, 30))
def test_a_split_anywhere_into_two_runs_keeps_the_same_rows(rows, cut):
    whole = deduplicate(rows).kept
    first = deduplicate(rows[:cut]).kept
    stored = {r.transaction_id: r for r in first}
    second = deduplicate(rows[cut:], stored)
    assert first + second.kept == whole


def test_a_conflicting_duplicate_reports_both_versions_and_what_differs():
    first = Transaction("T1", 1, Decimal("7.00"), date(2024, 1, 1))
    same = Transaction("T1", 1, Decimal("7"), date(2024, 1, 1))  # `$7` is `7.00`
    other = Transaction("T1", 2, Decimal("8.00"), date(2024, 1, 1))
    result = deduplicate([first, same, other])
    assert result.kept == [first]
    plain, conflict = result.duplicates
    assert not plain.conflicting and plain.reason is Reason.DUPLICATE
    assert conflict.first == first and conflict.row == other
    assert conflict.differences == ("user_id", "amount")
    assert result.conflicting == [conflict]


# --- the fixture file ---------------------------------------------------------------------


def test_the_fixture_file_gives_each_row_its_expected_outcome():
    with FIXTURE.open(newline="") as f:
        rows = list(csv.DictReader(f))
    outcomes: list[str] = []
    valid: list[tuple[int, Transaction]] = []
    for index, row in enumerate(rows):
        result = validate_row(
            row["transaction_id"], row["user_id"], row["amount"], row["transaction_date"]
        )
        if isinstance(result, Rejected):
            outcomes.append(";".join(result.reasons))
        else:
            outcomes.append("ok")
            valid.append((index, result))
    deduped = deduplicate(t for _, t in valid)
    for dup in deduped.duplicates:
        outcomes[valid[dup.position][0]] = dup.reason
    assert outcomes == [row["expected"] for row in rows]
    assert deduped.kept[5] == Transaction("TXN000006", 1006, Decimal("2467.06"), date(2024, 2, 29))
