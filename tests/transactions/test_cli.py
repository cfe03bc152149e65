"""`backoffice transactions etl`, as an operator (or cron) runs it, in a subprocess."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import psycopg

from tests.transactions.test_dataset import FIXTURE

PLAIN = "defects.csv: succeeded, read 30, loaded 7, duplicates 4, conflicting 2, rejected 19"


def _run(url: str, *args: str, inbox: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": url, "COLUMNS": "200"}
    if inbox is not None:
        env["TRANSACTIONS_INBOX"] = str(inbox)
    return subprocess.run(
        [sys.executable, "-m", "backoffice", "transactions", "etl", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _four_columns(folder: Path) -> Path:
    """The fixture without its `expected` column (a header the ETL would refuse)."""
    folder.mkdir(exist_ok=True)
    with FIXTURE.open(newline="") as stream:
        lines = [line[:4] for line in csv.reader(stream)]
    path = folder / FIXTURE.name
    with path.open("w", newline="") as stream:
        csv.writer(stream).writerows(lines)
    return path


def test_etl_loads_the_inbox_prints_a_summary_and_skips_it_the_second_time(etl_url, tmp_path):
    _four_columns(tmp_path / "inbox")

    first = _run(etl_url, inbox=tmp_path / "inbox")
    again = _run(etl_url, inbox=tmp_path / "inbox")

    assert first.returncode == 0, first.stderr
    assert PLAIN in first.stdout.splitlines()
    total = next(line for line in first.stdout.splitlines() if line.startswith("│ total"))
    assert [int(n) for n in total.replace("│", " ").split()[1:6]] == [30, 7, 4, 2, 19]
    assert again.returncode == 0, again.stderr
    assert "defects.csv: skipped" in again.stdout
    with psycopg.connect(etl_url) as conn:
        assert conn.execute("SELECT count(*) FROM transactions").fetchone() == (7,)
        runs = conn.execute("SELECT status, started_by FROM import_runs ORDER BY id").fetchall()
        events = conn.execute("SELECT task, level FROM import_task_events").fetchall()
    assert runs == [("succeeded", "cli"), ("skipped", "cli")]
    assert events == [("etl", "info"), ("etl", "info")]


def test_a_file_with_another_header_is_refused_and_exits_1(etl_url):
    result = _run(etl_url, str(FIXTURE))
    assert result.returncode == 1
    # the error on stderr (before: on stdout), the summary on stdout
    assert "the header does not match: missing [], unknown ['expected']" in result.stderr
    assert "unknown ['expected']" not in result.stdout


def test_a_database_that_cannot_take_it_is_one_line_and_exit_1(tmp_path):
    _four_columns(tmp_path)
    result = _run("postgresql://nobody@127.0.0.1:1/none", str(tmp_path / FIXTURE.name))
    assert result.returncode == 1
    assert result.stderr.startswith("error: transactions ETL stopped: cannot connect")
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_missing_inbox_is_a_clear_error(etl_url, tmp_path):
    result = _run(etl_url, inbox=tmp_path / "nope")
    assert result.returncode == 2
    assert "no such file or directory (TRANSACTIONS_INBOX)" in result.stderr


SAMPLE = Path(__file__).parents[2] / "samples" / "transactions" / "transactions_20240618.csv"


def test_the_readme_sample_loads_as_the_readme_says(etl_url):
    result = _run(etl_url, str(SAMPLE))

    assert result.returncode == 0, result.stderr
    line = (
        "transactions_20240618.csv: succeeded, read 23, loaded 12, duplicates 2, conflicting 1,"
        " rejected 9"
    )
    assert line in result.stdout.splitlines()
    assert line in (Path(__file__).parents[2] / "README.md").read_text()
    with psycopg.connect(etl_url) as conn:
        summaries = conn.execute(
            "SELECT user_id, transaction_count, amount_total::text"
            " FROM transaction_user_summaries ORDER BY user_id"
        ).fetchall()
    assert summaries == [
        (1001, 4, "2574.06"),
        (1002, 2, "3242.07"),
        (1003, 3, "353.50"),
        (1004, 2, "1500.00"),
        (1005, 1, "42.10"),
    ]


def test_an_undated_name_blocks_no_dated_file_and_errors_go_to_stderr(etl_url, tmp_path):
    path = _four_columns(tmp_path)
    last = path.rename(tmp_path / "zz.csv")  # applied as it arrives: today
    assert _run(etl_url, str(last)).returncode == 0
    dated = tmp_path / "export_20240102.csv"
    dated.write_text("transaction_id,user_id,amount,transaction_date\nZ1,1,$5.00,2024-01-02\n")
    loaded = _run(etl_url, str(dated))  # before: refused as older than zz.csv
    assert loaded.returncode == 0, loaded.stderr
    empty = tmp_path / "export_20240103.csv"
    empty.write_bytes(b"")
    refused = _run(etl_url, str(empty))
    assert refused.returncode == 1
    assert "export_20240103.csv: FileFormatError: the file is empty (0 bytes)" in refused.stderr
    with psycopg.connect(etl_url) as conn:
        runs = conn.execute("SELECT file_name, status FROM import_runs ORDER BY id").fetchall()
    assert runs == [
        ("zz.csv", "succeeded"),
        ("export_20240102.csv", "succeeded"),
        ("export_20240103.csv", "failed"),
    ]
