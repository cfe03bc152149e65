"""The `savings_interest` DAG, in the Airflow virtualenv (`make airflow-venv`): its shape, the
day its task posts through, rendered by the DAG's own templates for given runs, and real runs.

The real runs go through `ops/airflow_dag_test.py` (what `make airflow-dag-test` runs) for the
run a scheduler starts on 2024-04-01, with the session's Airflow metadata database
(`tests/airflow_runs.py`), the project's own Python for the task, and a scratch accounting
database holding `test_posting`'s backdated accounts; the amounts are that module's reference's,
computed from the issue's rules.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date
from typing import Any

from tests.airflow_runs import AIRFLOW_BIN, run_dag
from tests.live import TEST_HOME
from tests.savings.accounting.test_posting import (  # noqa: F401 - fixtures used by name
    Ledger,
    expected,
    ledger,
    ledger_url,
)

# Renders the task's `through` for each run given on the command line as
# "<data interval end or ''>,<run after>" (no data interval: a run triggered without a
# logical date), with the DAG's own Jinja environment and macros.
SHAPE = """
import json, os, sys
from types import SimpleNamespace
import pendulum
from airflow.dag_processing.dagbag import DagBag

bag = DagBag(dag_folder=os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
dag = bag.dags.get("savings_interest")
task = dag.get_task("post_interest")

def through(end, run_after):
    context = {"dag_run": SimpleNamespace(run_after=pendulum.parse(run_after))}
    if end:
        context["data_interval_end"] = pendulum.parse(end)
    rendered = task.render_template(task.op_kwargs, context, jinja_env=dag.get_template_env())
    return rendered["through"]

print(json.dumps({
    "errors": {path: str(error) for path, error in bag.import_errors.items()},
    "schedule": dag.schedule,
    "cron": dag.timetable.expression,
    "timezone": str(dag.timetable.timezone),
    "catchup": dag.catchup,
    "max_active_runs": dag.max_active_runs,
    "tags": sorted(dag.tags),
    "tasks": [t.task_id for t in dag.tasks],
    "retries": task.retries,
    "backoff": task.retry_exponential_backoff,
    "callbacks": [c.__name__ for c in task.on_failure_callback + task.on_retry_callback],
    "python": task.python,
    "through": [through(*run.split(",")) for run in sys.argv[1:]],
}))
"""


def _shape(env: dict[str, str], *runs: str) -> dict[str, Any]:
    result = subprocess.run(
        [AIRFLOW_BIN / "python", "-c", SHAPE, *runs],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    shape: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return shape


def test_the_dag_imports_and_runs_one_task_at_utc_midnight_on_the_first(airflow_env):
    shape = _shape(airflow_env)

    assert shape["errors"] == {}
    assert (shape["schedule"], shape["cron"], shape["catchup"]) == ("0 0 1 * *", "0 0 1 * *", False)
    assert shape["timezone"] == "UTC"
    assert shape["max_active_runs"] == 1
    assert shape["tags"] == ["backoffice", "savings"]
    assert shape["tasks"] == ["post_interest"]
    assert (shape["retries"], shape["backoff"]) == (0, True)  # the environment said 0
    assert shape["callbacks"] == ["log_failure", "log_retry"]
    assert shape["python"] == sys.executable


def test_retries_come_from_the_environment(airflow_env):
    env = {**airflow_env}
    env.pop("SAVINGS_INTEREST_RETRIES")
    assert _shape(env)["retries"] == 2
    assert _shape({**env, "SAVINGS_INTEREST_RETRIES": "5"})["retries"] == 5


def test_a_run_posts_through_the_last_day_of_the_month_before(airflow_env):
    runs = [
        "2027-01-01T00:00:00+00:00,2027-01-01T00:00:00+00:00",  # the scheduled run of January
        "2028-03-01T00:00:00+00:00,2028-03-01T00:00:05+00:00",  # a leap year's February
        "2026-05-01T00:00:00+00:00,2026-05-01T00:00:00+00:00",
        "2026-12-31T23:00:00-01:00,2027-01-01T00:00:00+00:00",  # the same instant elsewhere
        "2027-01-31T23:59:59+00:00,2027-01-31T23:59:59+00:00",
        ",2027-01-15T10:30:00+00:00",  # triggered by hand, without a logical date
        ",2027-01-01T00:30:00+01:00",  # 31 December 23:30 UTC: December has not ended
    ]

    assert _shape(airflow_env, *runs)["through"] == [
        "2026-12-31",
        "2028-02-29",
        "2026-04-30",
        "2026-12-31",
        "2026-12-31",
        "2026-12-31",
        "2026-11-30",
    ]


APRIL_RUN = "2024-04-01"  # the scheduled run of April: its data interval ends at 2024-04-01 00:00
THROUGH = date(2024, 3, 31)


def _savings_env(metadata_env: dict[str, str], accounting_url: str) -> dict[str, str]:
    """The run's environment: the project's settings resolve the scratch accounting database."""
    env = {k: v for k, v in metadata_env.items() if k not in ("DATABASE_URL", "DAG_ID")}
    return env | {
        "BACKOFFICE_ENV": "test",
        "BACKOFFICE_HOME": str(TEST_HOME),
        "SAVINGS_ACCOUNTING_DATABASE_URL": accounting_url,
        "LOG_LEVEL": "WARNING",
    }


async def test_the_april_run_posts_january_to_march_once_and_a_rerun_posts_nothing(
    metadata_env: dict[str, str],
    ledger: Ledger,  # noqa: F811
) -> None:
    env = _savings_env(metadata_env, ledger.url)
    wanted, accounts, months = expected(THROUGH, None)
    assert set(wanted) == {
        ("leap", "2024-01"),
        ("leap", "2024-02"),
        ("leap", "2024-03"),
        ("nothing-in-january", "2024-02"),
        ("nothing-in-january", "2024-03"),
    }

    first = run_dag(env, "savings_interest", "--logical-date", APRIL_RUN)

    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    assert first.stdout.splitlines()[-2:] == [
        "dag run manual__2024-04-01T00:00:00+00:00: success",
        "  post_interest: success",
    ]
    # The task's return value, as Airflow logs it: what this run posted.
    cents = int(sum(wanted.values()) * 100)
    posted = {
        "through": "2024-03-31",
        "accounts": accounts,
        "months": months,
        "entries": len(wanted),
        "cents": cents,
        "failed": 0,
    }
    assert (accounts, months) == (4, 11)
    assert f"Returned value was: {posted}" in first.stdout
    assert ledger.interest() == wanted
    assert ledger.posted_through() == {
        "leap": THROUGH,
        "nothing-in-january": THROUGH,
        "no-rate": THROUGH,  # months that earn nothing are settled all the same
        "no-plan": THROUGH,
        "closed": None,
        "opened-in-may": None,
    }

    # The same run again, named through the environment this time: nothing is due any more.
    again = run_dag(env | {"DAG_ID": "savings_interest", "LOGICAL_DATE": "2024-04-01T00:00Z"})

    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    assert again.stdout.splitlines()[-2:] == first.stdout.splitlines()[-2:]
    nothing = {**posted, "accounts": 0, "months": 0, "entries": 0, "cents": 0}
    assert f"Returned value was: {nothing}" in again.stdout
    assert ledger.interest() == wanted  # it raises if a month was posted twice
    assert len(ledger.sql("SELECT 1 FROM ledger_entries WHERE kind = 'interest'")) == len(wanted)
    assert set(ledger.posted_through().values()) == {THROUGH, None}


def test_a_logical_date_that_is_no_date_or_a_dag_that_is_not_there_is_refused(airflow_env):
    bad_date = run_dag(airflow_env, "savings_interest", "--logical-date", "the first of April")
    assert bad_date.returncode == 2
    assert "'the first of April' is no ISO 8601 date or instant" in bad_date.stderr

    missing = run_dag({**airflow_env, "DAG_ID": "no_such_dag"})
    assert missing.returncode == 2
    assert missing.stderr.strip().splitlines()[-1] == "the DAG no_such_dag did not import"
