"""Airflow 3 DAG `transactions_etl`: the transactions ETL, daily at midnight.

extract -> transform -> load -> audit, each a plain function of `backoffice.transactions.tasks`
run in the project's virtualenv (`@task.external_python`): Airflow pins FastAPI below the API's
version and takes over logging when imported, so it lives in a virtualenv of its own
(`make airflow`) and this file imports only airflow and the standard library. The tasks pass
data through files under `TRANSACTIONS_STAGING` and the audit in PostgreSQL, never through XCom.

Environment (written by `make airflow` into `.airflow/env`):
    BACKOFFICE_PYTHON          the project's Python [default: ../.venv/bin/python from here]
    TRANSACTIONS_ETL_TIMEZONE  the zone midnight is read in [default: UTC]
    TRANSACTIONS_ETL_RETRIES   retries of a failed task, with exponential backoff [default: 2]
"""

from __future__ import annotations

import os
import subprocess
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from airflow.sdk import dag, task

PROJECT_PYTHON = os.environ.get("BACKOFFICE_PYTHON") or str(
    Path(__file__).resolve().parents[1] / ".venv" / "bin" / "python"
)
TIMEZONE = ZoneInfo(os.environ.get("TRANSACTIONS_ETL_TIMEZONE", "UTC"))
RETRIES = int(os.environ.get("TRANSACTIONS_ETL_RETRIES", "2"))


def _record(context: dict[str, Any], level: str, what: str) -> None:
    """Write a task event to the ETL's audit through the project's command line."""
    ti = context["ti"]
    message = f"{ti.task_id} {what} (try {ti.try_number}): {context.get('exception')}"
    command = ["-m", "backoffice", "transactions", "task-event", ti.task_id, message]
    subprocess.run(  # noqa: S603 - our own interpreter and arguments, no shell
        [PROJECT_PYTHON, *command, "--level", level, "--dag-run-id", context["run_id"]],
        check=False,
        timeout=120,
    )


def record_failure(context: dict[str, Any]) -> None:
    """`on_failure_callback`: the task failed for good."""
    _record(context, "error", "failed")


def record_retry(context: dict[str, Any]) -> None:
    """`on_retry_callback`: the task failed and will run again."""
    _record(context, "warning", "failed, will retry")


RUN = {"dag_run_id": "{{ run_id }}"}
LOGICAL_DATE = "{{ logical_date.isoformat() if logical_date else '' }}"
IN_PROJECT = {"python": PROJECT_PYTHON, "expect_airflow": False, "do_xcom_push": False}


@dag(
    dag_id="transactions_etl",
    description="Load the new transaction exports of TRANSACTIONS_INBOX, audited in PostgreSQL",
    schedule="0 0 * * *",
    start_date=datetime(2024, 1, 1, tzinfo=TIMEZONE),
    catchup=False,
    max_active_runs=1,  # runs share the inbox: one at a time
    dagrun_timeout=timedelta(hours=6),
    default_args={
        "retries": RETRIES,
        "retry_delay": timedelta(minutes=2),
        "retry_exponential_backoff": True,
        "max_retry_delay": timedelta(minutes=30),
        "on_failure_callback": record_failure,
        "on_retry_callback": record_retry,
    },
    tags=["backoffice", "transactions"],
)
def transactions_etl() -> None:
    """Extract the new files, transform them, load them, audit the run."""

    @task.external_python(**IN_PROJECT)
    def extract(dag_run_id: str, logical_date: str) -> None:
        from backoffice.transactions import tasks

        tasks.extract(dag_run_id, logical_date)

    @task.external_python(**IN_PROJECT)
    def transform(dag_run_id: str) -> None:
        from backoffice.transactions import tasks

        tasks.transform(dag_run_id)

    @task.external_python(**IN_PROJECT)
    def load(dag_run_id: str, logical_date: str) -> None:
        from backoffice.transactions import tasks

        tasks.load(dag_run_id, logical_date)

    # Every run is audited, whatever became of the tasks before; it fails the run if a file
    # was not loaded.
    @task.external_python(**IN_PROJECT, trigger_rule="all_done", retries=0)
    def audit(dag_run_id: str) -> None:
        from backoffice.transactions import tasks

        tasks.audit(dag_run_id)

    (
        extract(**RUN, logical_date=LOGICAL_DATE)
        >> transform(**RUN)
        >> load(**RUN, logical_date=LOGICAL_DATE)
        >> audit(**RUN)
    )


transactions_etl()
