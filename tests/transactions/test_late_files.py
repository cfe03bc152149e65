"""Issue 18, loaders: a late export is loaded, and the database is what date order gives."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backoffice.ingest.pipeline import import_files
from backoffice.ingest.results import FileResult
from backoffice.transactions.dataset import TRANSACTIONS
from tests.transactions.conftest import reset_etl
from tests.transactions.test_dataset import (
    AMOUNTS,
    DATES,
    HEADER,
    USERS,
    _assert_summary_is_recomputed,
    _csv_text,
)
from tests.transactions.test_staged import _staged

# Few ids (many duplicates across files, equal and conflicting), mostly valid values.
IDS = st.sampled_from(["T1", "T2", "T3", " T2 ", "T4"])
VALID_USERS = st.sampled_from(["1", "7", "007"])
VALID_AMOUNTS = st.sampled_from(["$7", "7.00", "-12.50", "+5"])
ROW = st.tuples(
    IDS,
    st.one_of(VALID_USERS, VALID_USERS, USERS),
    st.one_of(VALID_AMOUNTS, VALID_AMOUNTS, AMOUNTS),
    st.one_of(st.just("2024-05-24"), DATES),
).map(list)
FILES = st.lists(st.lists(ROW, max_size=6), min_size=2, max_size=4)


def _write(folder: Path, files: list[list[list[str]]]) -> list[Path]:
    """`export_2024010N.csv`, in date order."""
    folder.mkdir(exist_ok=True)
    paths = []
    for day, rows in enumerate(files, start=1):
        path = folder / f"export_202401{day:02d}.csv"
        path.write_text(_csv_text(HEADER, rows))
        paths.append(path)
    return paths


def _database(url: str) -> dict[str, Any]:
    """What a load leaves that does not depend on when it ran (no ids, no run rows)."""
    _assert_summary_is_recomputed(url)
    with psycopg.connect(url) as conn:
        return {
            "kept": conn.execute(
                "SELECT t.transaction_id, t.user_id, t.amount, t.transaction_date, r.file_name,"
                " t.ingest_line FROM transactions t JOIN import_runs r ON r.id = t.ingest_run"
                " ORDER BY 1"
            ).fetchall(),
            "summaries": conn.execute(
                "SELECT * FROM transaction_user_summaries ORDER BY 1"
            ).fetchall(),
            # a displaced version's raw line is its stored values (the file's text is not kept)
            "quarantine": conn.execute(
                "SELECT file_name, line_number, reason, first_version,"
                " CASE WHEN first_version IS NULL THEN raw_line END"
                " FROM import_rejects ORDER BY 1, 2"
            ).fetchall(),
            "duplicates": conn.execute(
                "SELECT file_name, line_number, key, version FROM import_duplicates ORDER BY 1, 2"
            ).fetchall(),
        }


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(files=FILES, arrival=st.randoms(use_true_random=False), together=st.booleans())
def test_files_in_any_order_give_the_database_of_date_order(
    etl_database, tmp_path_factory, files, arrival, together
):
    paths = _write(tmp_path_factory.mktemp("late"), files)
    reset_etl(etl_database)
    results = import_files(etl_database, TRANSACTIONS, paths)  # one run: date order
    assert [r.status for r in results] == ["succeeded"] * len(paths)
    in_date_order = _database(etl_database)

    reset_etl(etl_database)
    shuffled = arrival.sample(paths, len(paths))
    if together:  # two runs: the second's files are late, loaded in one group
        half = len(shuffled) // 2
        runs = [shuffled[:half], shuffled[half:]]
    else:  # a run per file, as a nightly feed with files re-sent later
        runs = [[path] for path in shuffled]
    for run in runs:
        results = import_files(etl_database, TRANSACTIONS, run)
        assert [r.status for r in results] == ["succeeded"] * len(run), results

    assert _database(etl_database) == in_date_order


def test_a_file_re_sent_a_week_later_takes_the_ids_it_had_first(etl_url, tmp_path):
    """The example: day 2 and 3 loaded, day 1 arrives; its versions win, the others conflict."""
    header = ",".join(HEADER)
    day1 = tmp_path / "export_20240101.csv"
    day2 = tmp_path / "export_20240102.csv"
    day3 = tmp_path / "export_20240103.csv"
    day1.write_text(f"{header}\nA,1,$10.00,2024-01-01\nB,2,$5.00,2024-01-01\n")
    day2.write_text(f"{header}\nA,1,$99.00,2024-01-02\nC,3,$1.00,2024-01-02\n")
    day3.write_text(f"{header}\nA,1,$99.00,2024-01-02\nB,2,$5.00,2024-01-01\n")
    for day in (day2, day3):
        import_files(etl_url, TRANSACTIONS, [day])

    (late,) = import_files(etl_url, TRANSACTIONS, [day1])  # before: refused as "older"

    assert late.status == "succeeded", late.error
    with psycopg.connect(etl_url) as conn:
        kept = conn.execute(
            "SELECT transaction_id, user_id, amount::text FROM transactions ORDER BY 1"
        ).fetchall()
        conflicts = conn.execute(
            "SELECT file_name, line_number, raw_line, first_version FROM import_rejects"
            " ORDER BY 1, 2"
        ).fetchall()
    assert kept == [("A", 1, "10.00"), ("B", 2, "5.00"), ("C", 3, "1.00")]
    assert conflicts == [
        ("export_20240102.csv", 2, "A,1,99.00,2024-01-02", "A,1,10.00,2024-01-01"),
        ("export_20240103.csv", 2, "A,1,$99.00,2024-01-02", "A,1,10.00,2024-01-01"),
    ]
    _assert_summary_is_recomputed(etl_url)


def test_the_dag_applies_a_late_file_as_the_command_line_does(etl_url, tmp_path):
    header = ",".join(HEADER)
    days = _write(
        tmp_path / "inbox",
        [
            [["A", "1", "$10.00", "2024-01-01"], ["B", "2", "5", "2024-01-01"]],
            [["A", "1", "$99.00", "2024-01-02"], ["A", "1", "7", "2024-01-02"]],
            [["A", "1", "10", "2024-01-01"], ["B", "3", "5", "2024-01-01"]],
        ],
    )
    assert days[0].read_text().startswith(header)
    import_files(etl_url, TRANSACTIONS, days)
    in_date_order = _database(etl_url)
    reset_etl(etl_url)

    _staged(etl_url, days[1:], tmp_path / "first")
    late = _staged(etl_url, days[:1], tmp_path / "second")  # the DAG's extract, transform, load

    assert [r.status for r in late] == ["succeeded"]
    assert _database(etl_url) == in_date_order


def test_the_dag_refuses_an_empty_file_and_a_fifo_at_once_and_loads_the_rest(etl_url, tmp_path):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "export_20240101.csv").write_bytes(b"")
    os.mkfifo(inbox / "export_20240102.csv")
    (inbox / "export_20240103.csv").write_text(f"{','.join(HEADER)}\nA,1,$10.00,2024-01-01\n")
    results: list[FileResult] = []
    worker = threading.Thread(
        target=lambda: results.extend(_staged(etl_url, [inbox], tmp_path / "run"))
    )
    worker.start()
    worker.join(120)
    if worker.is_alive():  # today: extract opens the FIFO and waits for a writer
        with (inbox / "export_20240102.csv").open("wb"):
            pass
        worker.join(60)
        pytest.fail("extract waited on the FIFO")
    assert [(r.name, r.status) for r in results] == [
        ("export_20240101.csv", "failed"),
        ("export_20240102.csv", "failed"),
        ("export_20240103.csv", "succeeded"),  # before: the run stopped at the first failure
    ]
    assert "empty (0 bytes)" in (results[0].error or "")
    assert "not a regular file" in (results[1].error or "")
