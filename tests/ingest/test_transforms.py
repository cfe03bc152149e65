"""Column transforms through the real engine, on a toy `ledger` dataset that is not the merchants'.

The ledger has `$` amounts and dates in two formats, stored converted (NUMERIC, DATE), and one
rollup table of per-day sums, so the parts read the converted values too. Its tables are created
here with plain SQL: migrations exist only for real datasets.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path

import polars as pl
import psycopg
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backoffice.ingest.classify import Classifier
from backoffice.ingest.pipeline import import_files, libpq_url
from backoffice.ingest.reader import Block, Reject
from backoffice.ingest.spec import (
    PARTS,
    Dataset,
    Parts,
    date_column,
    pattern_column,
    signed_amount_column,
    text_column,
)


def _per_day(rows: pl.DataFrame) -> pl.DataFrame:
    return (
        rows.select(
            "booked_on",
            pl.lit(1, pl.Int64).alias("entries"),
            pl.col("amount").str.to_decimal(scale=2).alias("total"),
        )
        .group_by("booked_on")
        .sum()
    )


LEDGER = Dataset(
    name="ledger",
    table="ledger_entries",
    columns=(
        pattern_column("entry_id", "L-[0-9]{4}"),
        signed_amount_column("amount"),
        date_column("booked_on", ("%Y-%m-%d", "%m/%d/%Y")),
        text_column("memo"),
    ),
    key="entry_id",
    rollups=(
        f"""INSERT INTO ledger_daily AS t (booked_on, entries, total)
        SELECT booked_on, entries, total FROM {PARTS}
        ON CONFLICT (booked_on) DO UPDATE
        SET entries = t.entries + excluded.entries, total = t.total + excluded.total""",
    ),
    parts=Parts(
        columns=(("booked_on", "date"), ("entries", "bigint"), ("total", "numeric(14, 2)")),
        keys=("booked_on",),
        count="entries",
        reads=("booked_on", "amount"),
        summarise=_per_day,
    ),
)
HEADER = "entry_id,amount,booked_on,memo"


@pytest.fixture
def ledger_url(database_url: str) -> Iterator[str]:
    """The test database with empty ledger tables (dropped afterwards)."""
    url = libpq_url(database_url)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS ledger_entries, ledger_daily")
        conn.execute(
            "CREATE TABLE ledger_entries (entry_id text PRIMARY KEY, amount numeric(14, 2) NOT NULL,"
            " booked_on date NOT NULL, memo text, quality_flags text[])"
        )
        conn.execute(
            "CREATE TABLE ledger_daily (booked_on date PRIMARY KEY, entries bigint NOT NULL,"
            " total numeric(14, 2) NOT NULL)"
        )
        for table in ("import_runs", "import_rejects"):
            conn.execute(f"DELETE FROM {table} WHERE dataset = 'ledger'")
    yield url
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP TABLE ledger_entries, ledger_daily")
        for table in ("import_runs", "import_rejects"):
            conn.execute(f"DELETE FROM {table} WHERE dataset = 'ledger'")


def _file(tmp_path: Path, name: str, *lines: str) -> Path:
    path = tmp_path / name
    path.write_text("\n".join([HEADER, *lines]) + "\n")
    return path


def _entries(url: str) -> list[tuple[str, Decimal, date, str | None]]:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "SELECT entry_id, amount, booked_on, memo FROM ledger_entries ORDER BY 1"
        ).fetchall()


def _daily(url: str) -> tuple[list[tuple[date, int, Decimal]], list[tuple[date, int, Decimal]]]:
    """(the rollup table, the same figures recomputed from the stored rows)."""
    with psycopg.connect(url) as conn:
        rolled = conn.execute("SELECT * FROM ledger_daily ORDER BY 1").fetchall()
        full = conn.execute(
            "SELECT booked_on, count(*), sum(amount) FROM ledger_entries GROUP BY 1 ORDER BY 1"
        ).fetchall()
    return rolled, full


def test_amounts_and_dates_are_stored_converted_and_rolled_up(ledger_url, tmp_path):
    path = _file(
        tmp_path,
        "ledger-1.csv",
        "L-0001,$4990.00,2024-03-01,rent",
        "L-0002,-$12.50,03/01/2024,refund",
        "L-0003,+7,2024-02-29,",
        "L-0004,$0.5,02/29/2024,tip",
        'L-0005,-3.25,2024-03-02,"quoted, so it takes the slow path"',
    )

    [result] = import_files(ledger_url, LEDGER, [path])

    assert result.status == "succeeded", result.error
    assert (result.counts.inserted, result.counts.rejected) == (5, 0)
    assert _entries(ledger_url) == [
        ("L-0001", Decimal("4990.00"), date(2024, 3, 1), "rent"),
        ("L-0002", Decimal("-12.50"), date(2024, 3, 1), "refund"),
        ("L-0003", Decimal("7.00"), date(2024, 2, 29), None),
        ("L-0004", Decimal("0.50"), date(2024, 2, 29), "tip"),
        ("L-0005", Decimal("-3.25"), date(2024, 3, 2), "quoted, so it takes the slow path"),
    ]
    rolled, full = _daily(ledger_url)
    assert rolled == full
    assert rolled[0] == (date(2024, 2, 29), 2, Decimal("7.50"))


def test_values_a_transform_cannot_convert_are_rejected_with_the_columns_reason(
    ledger_url, tmp_path
):
    path = _file(
        tmp_path,
        "ledger-1.csv",
        "L-0001,$1.00,2024-01-01,kept",
        "L-0002,$12.345,2024-01-01,too many decimals",
        "L-0003,$-5,2024-01-01,sign after the dollar",
        "L-0004,12$,2024-01-01,dollar behind",
        "L-0005,$1.00,2024-02-30,not a day",
        "L-0006,$1.00,13/01/2024,no month 13",
        "L-0007,$1.00,2024/01/02,format not declared",
        "L-0008,$1.00,0000-01-01,year zero",
        "L-0009,,2024-01-01,blank amount",
        "L-0010,abc,,both wrong",
        'L-0011,"$1,000.00",2024-01-01,a thousands separator',
    )

    [result] = import_files(ledger_url, LEDGER, [path])

    assert result.status == "succeeded", result.error
    assert (result.counts.rows_read, result.counts.inserted, result.counts.rejected) == (11, 1, 10)
    assert [e[0] for e in _entries(ledger_url)] == ["L-0001"]
    with psycopg.connect(ledger_url) as conn:
        rejects = conn.execute(
            "SELECT line_number, reason FROM import_rejects WHERE dataset = 'ledger' ORDER BY 1"
        ).fetchall()
    assert rejects == [
        (3, "amount is not an amount"),
        (4, "amount is not an amount"),
        (5, "amount is not an amount"),
        (6, "booked_on is not a date"),
        (7, "booked_on is not a date"),
        (8, "booked_on is not a date"),
        (9, "booked_on is not a date"),
        (10, "amount is missing"),
        (11, "amount is not an amount; booked_on is missing"),
        (12, "amount is not an amount"),
    ]
    rolled, full = _daily(ledger_url)
    assert rolled == full == [(date(2024, 1, 1), 1, Decimal("1.00"))]


def test_duplicates_keep_the_first_occurrence_and_a_reimport_is_skipped(ledger_url, tmp_path):
    day1 = _file(
        tmp_path,
        "ledger-1.csv",
        "L-0001,$10.00,2024-01-01,first",
        "L-0001,$99.00,2024-01-02,same file",
        "L-0002,$20.00,01/02/2024,",
    )
    day2 = _file(
        tmp_path,
        "ledger-2.csv",
        "L-0002,$77.00,2024-01-03,earlier file",
        "L-0003,-$30.00,01/03/2024,new",
    )

    first = import_files(ledger_url, LEDGER, [day1, day2])
    stored = _entries(ledger_url)
    again = import_files(ledger_url, LEDGER, [day1, day2])

    assert [(r.status, r.counts.inserted, r.counts.duplicates) for r in first] == [
        ("succeeded", 2, 1),
        ("succeeded", 1, 1),
    ]
    assert stored == [
        ("L-0001", Decimal("10.00"), date(2024, 1, 1), "first"),
        ("L-0002", Decimal("20.00"), date(2024, 1, 2), None),
        ("L-0003", Decimal("-30.00"), date(2024, 1, 3), "new"),
    ]
    assert [r.status for r in again] == ["skipped", "skipped"]
    assert _entries(ledger_url) == stored
    rolled, full = _daily(ledger_url)
    assert rolled == full


AMOUNTS = ["$4990.00", "-$12.50", "+7", "$0.5", "12", "$12.345", "$-5", "12$", "abc", ""]
DATES = ["2024-03-01", "03/01/2024", "2024-02-29", "02/30/2024", "2024/01/02", "1-2-2024", ""]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(AMOUNTS), st.sampled_from(DATES)), max_size=20))
def test_the_fast_path_stores_what_the_slow_path_stores(values):
    """A line forced onto the slow path (a quoted memo) gets the clean line's row or reject."""
    classifier = Classifier(LEDGER, LEDGER.column_names, with_parts=False)
    clean = [f"L-{i:04},{a},{d},m" for i, (a, d) in enumerate(values)]
    quoted = [f'L-{i:04},{a},{d},"m"' for i, (a, d) in enumerate(values)]

    fast, slow = classifier.classify(Block(1, clean)), classifier.classify(Block(1, quoted))

    assert not slow.fast_data
    assert not fast.slow_rows  # every value a transform converts stays on the fast path
    fast_rows = [line.split(",") for line in fast.fast_data.decode().splitlines()]
    assert sorted([*fast_rows, *(r[:-1] for r in fast.slow_rows)]) == sorted(
        r[:-1] for r in slow.slow_rows
    )
    assert [(r.line, r.reason) for r in fast.rejects] == [(r.line, r.reason) for r in slow.rejects]
    assert all(isinstance(r, Reject) for r in fast.rejects)
