"""The `savings_interest` DAG, in the Airflow virtualenv (`make airflow-venv`): its shape, and
the day its task posts through, rendered by the DAG's own templates for given runs.

`backoffice.savings.tasks.post_interest` is not run here: the DagBag only imports the DAG file.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).parents[3]
AIRFLOW_BIN = ROOT / ".airflow" / "bin"

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


@pytest.fixture(scope="module")
def airflow_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """What Airflow needs to find the DAG, with a home of its own (no metadata database)."""
    if not (AIRFLOW_BIN / "airflow").exists():
        pytest.fail("no Airflow virtualenv in .airflow/: run `make airflow-venv` (make test does)")
    home = tmp_path_factory.mktemp("airflow-home")
    return {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "BACKOFFICE_PYTHON": sys.executable,
        "SAVINGS_INTEREST_RETRIES": "0",
    }


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
