"""SIGKILL `backoffice transactions etl` in the middle of a file, run it again: the database
holds what one uninterrupted run leaves (surrogate ids aside: a sequence never gives back the
values a rolled-back transaction took)."""

from __future__ import annotations

import csv
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg

from backoffice.ingest.pipeline import import_files
from backoffice.transactions.dataset import TRANSACTIONS
from tests.transactions.conftest import reset_etl

FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%m/%d/%Y", "%d-%m-%Y")


def _write(path: Path, first: int, rows: int, rng: random.Random) -> None:
    """Rows `first ..`: every format and `$` amount, and a few blanks, repeats and conflicts."""
    import datetime

    with path.open("w", newline="") as stream:
        out = csv.writer(stream)
        out.writerow(["transaction_id", "user_id", "amount", "transaction_date"])
        for n in range(first, first + rows):
            day = datetime.date(2024, 1, 1) + datetime.timedelta(days=n % 700)
            amount = f"{rng.choice(['', '-', '$', '-$'])}{rng.randint(0, 99999)}.{n % 100:02d}"
            row = [f"T{n:08d}", str(rng.randint(1, 5000)), amount, day.strftime(FORMATS[n % 4])]
            if n % 97 == 0:
                row[2] = ""  # rejected
            elif n % 89 == 0:
                row[0] = f"T{n - 50:08d}"  # a duplicate, most often conflicting
            out.writerow(row)


def _etl(url: str, inbox: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "backoffice", "transactions", "etl"],
        env={**os.environ, "DATABASE_URL": url, "TRANSACTIONS_INBOX": str(inbox)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _succeeded(url: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT count(*) FROM import_runs WHERE status = 'succeeded'")
        return int(row.fetchone()[0])  # type: ignore[index]


def _snapshot(url: str) -> dict[str, list[tuple[object, ...]]]:
    queries = {
        "transactions": "SELECT transaction_id, user_id, amount, transaction_date"
        " FROM transactions ORDER BY 1",
        "summaries": "SELECT * FROM transaction_user_summaries ORDER BY 1",
        "rejects": "SELECT file_name, line_number, raw_line, reason, first_version"
        " FROM import_rejects ORDER BY 1, 2",
        "runs": "SELECT file_name, sha256, rows_read, inserted, duplicates, conflicting, rejected"
        " FROM import_runs WHERE status = 'succeeded' ORDER BY 1",
    }
    with psycopg.connect(url) as conn:
        return {name: conn.execute(sql).fetchall() for name, sql in queries.items()}


def test_a_killed_etl_rerun_ends_identical_to_an_uninterrupted_one(etl_url, tmp_path):
    rng = random.Random(11)
    _write(tmp_path / "2024-01-01.csv", 0, 2_000, rng)
    _write(tmp_path / "2024-01-02.csv", 1_500, 300_000, rng)  # overlaps the first file's ids

    child = _etl(etl_url, tmp_path)
    deadline = time.monotonic() + 60
    while _succeeded(etl_url) < 1:  # the first file is committed ...
        assert child.poll() is None, "the ETL ended before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.01)
    time.sleep(random.uniform(0.05, 0.3))  # ... and the second one is under way
    child.send_signal(signal.SIGKILL)
    child.wait()
    assert _succeeded(etl_url) == 1, "the kill came too late to interrupt the second file"

    assert _etl(etl_url, tmp_path).wait(timeout=300) == 0
    interrupted = _snapshot(etl_url)

    reset_etl(etl_url)
    results = import_files(etl_url, TRANSACTIONS, [tmp_path])
    assert [r.status for r in results] == ["succeeded"] * 2
    assert _snapshot(etl_url) == interrupted
    assert len(interrupted["transactions"]) > 290_000
    assert sum(1 for r in interrupted["rejects"] if r[3] == "conflicting_duplicate") > 1_000
