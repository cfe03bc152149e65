"""The TRANSACTIONS dataset through the real engine, held to `transactions.rules`."""

from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backoffice.ingest.pipeline import import_files
from backoffice.transactions import rules
from backoffice.transactions.dataset import TRANSACTIONS
from tests.transactions.conftest import reset_etl

FIXTURE = Path(__file__).parents[1] / "fixtures" / "transactions" / "defects.csv"
HEADER = ["transaction_id", "user_id", "amount", "transaction_date"]

Stored = tuple[str, int, Decimal, date]


def _stored(url: str) -> list[Stored]:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "SELECT transaction_id, user_id, amount, transaction_date FROM transactions ORDER BY 1"
        ).fetchall()


def _rejects(url: str) -> dict[tuple[str, int], tuple[str, str | None]]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT file_name, line_number, reason, first_version FROM import_rejects"
            " WHERE dataset = 'transactions'"
        ).fetchall()
    return {(f, n): (r, v) for f, n, r, v in rows}


def _assert_summary_is_recomputed(url: str) -> None:
    with psycopg.connect(url) as conn:
        kept = conn.execute(
            "SELECT user_id, transaction_count, amount_total FROM transaction_user_summaries"
            " ORDER BY 1"
        ).fetchall()
        full = conn.execute(
            "SELECT user_id, count(*), sum(amount) FROM transactions GROUP BY 1 ORDER BY 1"
        ).fetchall()
    assert kept == full


def _csv_text(header: list[str], rows: list[list[str]], *, crlf: bool = False) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n" if crlf else "\n").writerows([header, *rows])
    return buffer.getvalue()


def _expected(files: list[list[list[str]]]) -> tuple[dict[str, Stored], dict[Any, str]]:
    """What the rules make of `files` (rows in canonical column order): (kept, reasons)."""
    valid: list[rules.Transaction] = []
    where: list[tuple[str, int]] = []
    reasons: dict[tuple[str, int], str] = {}
    for index, rows in enumerate(files):
        for line, row in enumerate(rows, start=2):
            outcome = rules.validate_row(*row)
            if isinstance(outcome, rules.Rejected):
                reasons[(f"tx-{index}.csv", line)] = "; ".join(outcome.reasons)
            else:
                valid.append(outcome)
                where.append((f"tx-{index}.csv", line))
    deduplicated = rules.deduplicate(valid)
    for duplicate in deduplicated.conflicting:
        reasons[where[duplicate.position]] = rules.Reason.CONFLICTING_DUPLICATE
    kept = {
        t.transaction_id: (t.transaction_id, t.user_id, t.amount, t.transaction_date)
        for t in deduplicated.kept
    }
    return kept, reasons


def _write(tmp: Path, files: list[list[list[str]]], order: list[int], **options: Any) -> list[Path]:
    """Each file with its columns in `order` (the header in mixed case), as CSV."""
    header = [HEADER[i].upper() if i % 2 else HEADER[i] for i in order]
    paths = []
    for index, rows in enumerate(files):
        path = tmp / f"tx-{index}.csv"
        text = _csv_text(header, [[r[i] for i in order] for r in rows], **options)
        path.write_bytes(("\ufeff" + text).encode())
        paths.append(path)
    return paths


# Values near the rules' edges, valid and not, with whitespace around some.
IDS = st.sampled_from(
    ["T1", "T2", "T3", "t1", "T 4", "", "  T2 ", "x" * 50, "y" * 51, 'q"t', "a,b"]
)
USERS = st.sampled_from(
    ["1", "7", "007", "2147483647", "2147483648", "0", "-5", "1.5", "", " 42 ", "١٢"]
)
AMOUNTS = st.sampled_from(
    [
        "-3437.55", "$4990.00", "-$12.50", "+7", "0.0", "7.00", "$7", " 12.5 ", "", "1,000.00",
        "$-5", "12.345", "12.", ".5", "1e5", "abc", "999999999999.99", "1234567890123",
        "0000000000000001.10", "+$0",
    ]
)  # fmt: skip
DATES = st.sampled_from(
    [
        "2024-05-24", "2024/05/24", "05/24/2024", "24-05-2024", "2024-02-29", "2023-02-29",
        "02/30/2024", "13/13/2024", "0000-01-01", "2024.01.05", "1/5/2024", "", " 2024-01-02 ",
        "02/03/2024", "02-03-2024",
    ]
)  # fmt: skip
ROWS = st.lists(
    st.lists(st.tuples(IDS, USERS, AMOUNTS, DATES).map(list), max_size=12), min_size=1, max_size=3
)
ORDERS = st.permutations(range(4))
EXAMPLES = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@EXAMPLES
@given(files=ROWS, order=ORDERS, crlf=st.booleans())
def test_the_engine_loads_what_the_rules_keep_and_rejects_with_their_reasons(
    etl_database, tmp_path_factory, files, order, crlf
):
    reset_etl(etl_database)
    paths = _write(tmp_path_factory.mktemp("tx"), files, order, crlf=crlf)

    results = import_files(etl_database, TRANSACTIONS, paths)

    kept, reasons = _expected(files)
    assert [r.status for r in results] == ["succeeded"] * len(files), results
    assert _stored(etl_database) == sorted(kept.values())
    assert {k: r for k, (r, _) in _rejects(etl_database).items()} == reasons
    assert sum(r.counts.inserted for r in results) == len(kept)
    # No rejected row is ever loaded: an id of a rejected line is stored only from a valid one.
    valid_ids = {
        row[0].strip()
        for f in files
        for row in f
        if isinstance(rules.validate_row(*row), rules.Transaction)
    }
    assert {s[0] for s in _stored(etl_database)} <= valid_ids
    assert sum(r.counts.conflicting for r in results) == sum(
        r == rules.Reason.CONFLICTING_DUPLICATE for r in reasons.values()
    )
    _assert_summary_is_recomputed(etl_database)


@EXAMPLES
@given(rows=ROWS.map(lambda files: [r for f in files for r in f]), cut=st.integers(0, 40))
def test_a_file_split_in_two_loads_the_same_rows_and_loading_twice_changes_nothing(
    etl_database, tmp_path_factory, rows, cut
):
    reset_etl(etl_database)
    whole = _write(tmp_path_factory.mktemp("whole"), [rows], [0, 1, 2, 3])
    import_files(etl_database, TRANSACTIONS, whole)
    once = _stored(etl_database)
    again = import_files(etl_database, TRANSACTIONS, whole)
    assert [r.status for r in again] == ["skipped"]
    assert _stored(etl_database) == once

    reset_etl(etl_database)
    cut = min(cut, len(rows))
    halves = _write(tmp_path_factory.mktemp("halves"), [rows[:cut], rows[cut:]], [2, 0, 3, 1])
    import_files(etl_database, TRANSACTIONS, halves)

    assert _stored(etl_database) == once
    _assert_summary_is_recomputed(etl_database)


def test_the_fixture_loads_its_ok_rows_and_quarantines_the_rest_with_their_codes(etl_url, tmp_path):
    """`defects.csv` says what each line should become (its `expected` column, dropped here)."""
    with FIXTURE.open(newline="") as stream:
        lines = list(csv.reader(stream))
    path = tmp_path / "defects.csv"
    path.write_text(_csv_text(lines[0][:4], [line[:4] for line in lines[1:]], crlf=True))

    [result] = import_files(etl_url, TRANSACTIONS, [path])

    expected = {n: line[4] for n, line in enumerate(lines[1:], start=2)}
    assert result.status == "succeeded", result.error
    ok = sorted(lines[n - 1][0].strip() for n, e in expected.items() if e == "ok")
    assert [s[0] for s in _stored(etl_url)] == ok
    found = {line: reason for (_, line), (reason, _) in _rejects(etl_url).items()}
    assert found == {
        n: e.replace(";", "; ") for n, e in expected.items() if e not in ("ok", "duplicate")
    }
    assert (result.counts.duplicates, result.counts.conflicting) == (4, 2)
    versions = {line: v for (_, line), (_, v) in _rejects(etl_url).items() if v}
    assert versions == {
        29: "TXN000003,1003,-12.50,2024-06-18",
        30: "TXN000004,1004,7.00,2024-01-27",
    }
    assert ("TXN000006", 1006, Decimal("2467.06"), date(2024, 2, 29)) in _stored(etl_url)
    _assert_summary_is_recomputed(etl_url)
