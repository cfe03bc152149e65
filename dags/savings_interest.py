"""Airflow 3 DAG `savings_interest`: post the savings interest of the month just ended.

At midnight on the first of each month, one task runs `backoffice.savings.tasks.post_interest`
through the last day of the month before, in the project's virtualenv (`@task.external_python`,
as `transactions_etl` does and for the same reasons: Airflow pins FastAPI below the API's
version and takes over logging when imported, so this file imports only airflow and the
standard library). Posting is idempotent per account and month, so a retry, a rerun or a run
that finds an earlier month still due posts each month once (issue 20).

Midnight is UTC midnight, not a zone read from the environment as `transactions_etl` reads
one: interest days are UTC days (`savings/accounting/interest.py`), and a run at a local
midnight east of UTC would come before the month's last UTC day had ended.

The day to post through comes from the run's data interval end (the instant the run is for),
or, for a run triggered without a logical date (Airflow 3 then gives no data interval), from
the instant it was asked to run after: the last day of the UTC month before it. A run at
2027-01-01 00:00 posts through 2026-12-31; one triggered by hand on 15 January does too.

Environment:
    BACKOFFICE_PYTHON         the project's Python [default: ../.venv/bin/python from here]
    SAVINGS_INTEREST_RETRIES  retries of a failed run, with exponential backoff [default: 2]
"""

from __future__ import annotations

import logging
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from airflow.sdk import dag, task

PROJECT_PYTHON = os.environ.get("BACKOFFICE_PYTHON") or str(
    Path(__file__).resolve().parents[1] / ".venv" / "bin" / "python"
)
TIMEZONE = UTC
RETRIES = int(os.environ.get("SAVINGS_INTEREST_RETRIES", "2"))

log = logging.getLogger(__name__)


def last_day_of_month_before(instant: datetime) -> str:
    """The last UTC day of the month before the one `instant` falls in, as YYYY-MM-DD.

    Args:
        instant: A time-zone-aware instant (the run's data interval end).

    Returns:
        The day, e.g. "2026-12-31" for 2027-01-01T00:00:00+00:00.
    """
    first = instant.astimezone(UTC).date().replace(day=1)
    return (first - timedelta(days=1)).isoformat()


def log_failure(context: dict[str, Any]) -> None:
    """`on_failure_callback`: savings keeps no audit of task events, so the failure is logged."""
    ti = context["ti"]
    log.error("%s failed (try %s): %s", ti.task_id, ti.try_number, context.get("exception"))


def log_retry(context: dict[str, Any]) -> None:
    """`on_retry_callback`: the task failed and will run again."""
    ti = context["ti"]
    log.warning(
        "%s failed, will retry (try %s): %s", ti.task_id, ti.try_number, context.get("exception")
    )


THROUGH = "{{ last_day_of_month_before(data_interval_end | default(dag_run.run_after, true)) }}"
IN_PROJECT = {"python": PROJECT_PYTHON, "expect_airflow": False, "do_xcom_push": False}


@dag(
    dag_id="savings_interest",
    description="Post the month's interest on savings for every account that is due",
    schedule="0 0 1 * *",
    start_date=datetime(2024, 1, 1, tzinfo=TIMEZONE),
    catchup=False,
    max_active_runs=1,  # two runs would post the same months side by side
    dagrun_timeout=timedelta(hours=12),
    user_defined_macros={"last_day_of_month_before": last_day_of_month_before},
    default_args={
        "retries": RETRIES,
        "retry_delay": timedelta(minutes=2),
        "retry_exponential_backoff": True,
        "max_retry_delay": timedelta(minutes=30),
        "on_failure_callback": log_failure,
        "on_retry_callback": log_retry,
    },
    tags=["backoffice", "savings"],
)
def savings_interest() -> None:
    """Post every account's interest through the last day of the month before."""

    @task.external_python(**IN_PROJECT)
    def post_interest(through: str) -> dict[str, object]:
        from backoffice.savings.tasks import post_interest

        done = post_interest(through)
        if done["failed"]:  # the others are posted; a retry posts only what is still due
            raise RuntimeError(f"{done['failed']} accounts not posted (see the log): {done}")
        return done

    post_interest(through=THROUGH)


savings_interest()
