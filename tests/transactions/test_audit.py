"""The engine's run audit as the ETL uses it: origin, skips, refusals, task events."""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg
import pytest

from backoffice.ingest.audit import CLI, RunOrigin, record_task_event
from backoffice.ingest.pipeline import import_files
from backoffice.transactions.dataset import TRANSACTIONS

HEADER = "transaction_id,user_id,amount,transaction_date\n"


def _runs(url: str) -> list[tuple[object, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "SELECT file_name, status, started_by, dag_run_id, logical_date, rows_read, inserted,"
            " duplicates, conflicting, rejected, error IS NOT NULL, finished_at >= started_at"
            " FROM import_runs ORDER BY id"
        ).fetchall()


def test_runs_record_their_origin_counts_skips_and_refusals(etl_url, tmp_path):
    day = datetime(2026, 12, 4, tzinfo=UTC)
    airflow = RunOrigin("airflow", "scheduled__2026-12-04T00:00:00+00:00", day)
    path = tmp_path / "tx-1.csv"
    path.write_text(HEADER + "T1,1,$5,2024-01-01\nT1,2,$5,2024-01-01\nT2,x,1,2024-01-01\n")

    import_files(etl_url, TRANSACTIONS, [path], origin=airflow)
    import_files(etl_url, TRANSACTIONS, [path], origin=CLI)  # same name and content: skipped
    path.write_text(HEADER + "T9,1,$5,2024-01-01\n")
    [refused] = import_files(etl_url, TRANSACTIONS, [path], origin=CLI)  # other content

    assert refused.status == "failed" and "already imported with sha256" in (refused.error or "")
    assert _runs(etl_url) == [
        ("tx-1.csv", "succeeded", "airflow", airflow.dag_run_id, day, 3, 1, 1, 1, 1, False, True),
        ("tx-1.csv", "skipped", "cli", None, None, 0, 0, 0, 0, 0, False, True),
        ("tx-1.csv", "failed", "cli", None, None, 0, 0, 0, 0, 0, True, True),
    ]


def test_a_task_event_is_recorded_with_its_run(etl_url):
    with psycopg.connect(etl_url, autocommit=True) as conn:
        event = record_task_event(
            conn, TRANSACTIONS, "load", "loaded 3 files", dag_run_id="manual__1"
        )
        row = conn.execute(
            "SELECT dataset, dag_run_id, task, level, message, created_at IS NOT NULL"
            " FROM import_task_events WHERE id = %s",
            (event,),
        ).fetchone()
        assert row == ("transactions", "manual__1", "load", "info", "loaded 3 files", True)
        with pytest.raises(psycopg.errors.CheckViolation):
            record_task_event(conn, TRANSACTIONS, "load", "?", level="loud")  # type: ignore[arg-type]
