"""The Airflow DAG, in the Airflow virtualenv (`make airflow-venv`): its shape, and real runs.

The runs go through `ops/airflow_dag_test.py` (what `make airflow-dag-test` runs: `dag.test()`,
then every task's state) with a metadata database on the test server (`tests/airflow_runs.py`,
shared with the other DAGs' tests), the project's own Python for the tasks, and the ETL's
scratch database.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import psycopg

from tests.airflow_runs import AIRFLOW_BIN, run_dag
from tests.transactions.test_cli import _four_columns

SHAPE = """
import json, os
from airflow.dag_processing.dagbag import DagBag

bag = DagBag(dag_folder=os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
dag = bag.dags.get("transactions_etl")
print(json.dumps({
    "errors": {path: str(error) for path, error in bag.import_errors.items()},
    "schedule": dag.schedule,
    "cron": dag.timetable.expression,
    "timezone": str(dag.timetable.timezone),
    "catchup": dag.catchup,
    "max_active_runs": dag.max_active_runs,
    "order": [t.task_id for t in dag.topological_sort()],
    "downstream": {t.task_id: sorted(t.downstream_task_ids) for t in dag.tasks},
    "trigger_rules": {t.task_id: t.trigger_rule.value for t in dag.tasks},
    "retries": {t.task_id: t.retries for t in dag.tasks},
    "backoff": {t.task_id: t.retry_exponential_backoff for t in dag.tasks},
    "callbacks": sorted({t.on_failure_callback[0].__name__ for t in dag.tasks}),
    "python": sorted({t.python for t in dag.tasks}),
}))
"""


def test_the_dag_imports_runs_at_midnight_without_catchup_in_order(airflow_env):
    result = subprocess.run(
        [AIRFLOW_BIN / "python", "-c", SHAPE],
        env=airflow_env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    shape = json.loads(result.stdout.strip().splitlines()[-1])

    assert shape["errors"] == {}
    assert (shape["schedule"], shape["cron"], shape["catchup"]) == ("0 0 * * *", "0 0 * * *", False)
    assert shape["timezone"] == "UTC"
    assert shape["max_active_runs"] == 1
    assert shape["order"] == ["extract", "transform", "load", "audit"]
    assert shape["downstream"] == {
        "extract": ["transform"],
        "transform": ["load"],
        "load": ["audit"],
        "audit": [],
    }
    assert shape["trigger_rules"]["audit"] == "all_done"
    assert shape["retries"] == {"extract": 0, "transform": 0, "load": 0, "audit": 0}  # env: 0
    assert set(shape["backoff"].values()) == {True}
    assert shape["callbacks"] == ["record_failure"]
    assert shape["python"] == [sys.executable]


def test_the_timezone_and_retries_come_from_the_environment(airflow_env):
    env = {**airflow_env, "TRANSACTIONS_ETL_TIMEZONE": "Europe/Paris"}
    env.pop("TRANSACTIONS_ETL_RETRIES")
    result = subprocess.run(
        [AIRFLOW_BIN / "python", "-c", SHAPE], env=env, capture_output=True, text=True, check=False
    )
    shape = json.loads(result.stdout.strip().splitlines()[-1])
    assert shape["timezone"] == "Europe/Paris"
    assert shape["retries"] == {"extract": 2, "transform": 2, "load": 2, "audit": 0}


def _run_dag(
    env: dict[str, str], url: str, inbox: Path, staging: Path
) -> subprocess.CompletedProcess[str]:
    """The default DAG of `ops/airflow_dag_test.py` (no DAG_ID): `make airflow-dag-test`'s."""
    env = {k: v for k, v in env.items() if k not in ("DAG_ID", "LOGICAL_DATE")}
    return run_dag(
        {
            **env,
            "DATABASE_URL": url,
            "TRANSACTIONS_INBOX": str(inbox),
            "TRANSACTIONS_STAGING": str(staging),
        }
    )


def _audit(url: str) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    with psycopg.connect(url) as conn:
        runs = conn.execute(
            "SELECT file_name, status, started_by, dag_run_id, logical_date IS NOT NULL,"
            " inserted FROM import_runs ORDER BY id"
        ).fetchall()
        events = conn.execute(
            "SELECT task, level, dag_run_id, message FROM import_task_events ORDER BY id"
        ).fetchall()
    return runs, events


def test_one_run_loads_the_inbox_and_writes_the_audit_and_task_events(
    metadata_env, etl_url, tmp_path
):
    _four_columns(tmp_path / "inbox")

    result = _run_dag(metadata_env, etl_url, tmp_path / "inbox", tmp_path / "staging")

    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    states = result.stdout.splitlines()[-4:]
    assert states == [
        "  extract: success",
        "  transform: success",
        "  load: success",
        "  audit: success",
    ]
    run_id = result.stdout.splitlines()[-5].split()[2].rstrip(":")
    runs, events = _audit(etl_url)
    assert runs == [("defects.csv", "succeeded", "airflow", run_id, True, 7)]
    assert [(task, level, dag_run) for task, level, dag_run, _ in events] == [
        ("extract", "info", run_id),
        ("transform", "info", run_id),
        ("load", "info", run_id),
        ("audit", "info", run_id),
    ]
    assert events[-1][3] == (
        "1 succeeded: read 30, loaded 7, duplicates 4, conflicting 2, rejected 19"
    )
    with psycopg.connect(etl_url) as conn:
        summary = conn.execute("SELECT count(*) FROM transaction_user_summaries").fetchone()
        assert conn.execute("SELECT count(*) FROM transactions").fetchone() == (7,)
    assert summary is not None and summary[0] > 0
    assert list((tmp_path / "staging").iterdir()) == []  # the audit tidied the run's folder


def test_a_run_whose_file_fails_fails_and_its_callbacks_write_the_errors(
    metadata_env, etl_url, tmp_path
):
    (tmp_path / "inbox").mkdir()
    (tmp_path / "inbox" / "bad.csv").write_text("transaction_id,user\nT1,1\n")

    result = _run_dag(metadata_env, etl_url, tmp_path / "inbox", tmp_path / "staging")

    assert result.returncode == 1, result.stdout[-2000:] + result.stderr[-3000:]
    lines = result.stdout.splitlines()
    assert lines[-7:-3] == [
        "  extract: success",
        "  transform: success",
        "  load: failed",
        "  audit: failed",
    ]
    # The causes come last, each on its line, without Airflow's wrapping of them.
    assert lines[-3] == "why:"
    assert lines[-2].startswith("  load: ") and "the header does not match" in lines[-2]
    assert lines[-1].startswith("  audit: ") and "not loaded: bad.csv" in lines[-1]
    assert "exit status" not in lines[-2] + lines[-1]
    runs, events = _audit(etl_url)
    assert [(name, status, by) for name, status, by, *_ in runs] == [
        ("bad.csv", "failed", "airflow")
    ]
    levels = [(task, level) for task, level, _, _ in events]
    assert levels == [
        ("extract", "info"),
        ("transform", "info"),
        ("load", "error"),  # the task's own account
        ("load", "error"),  # the failure callback
        ("audit", "error"),
        ("audit", "error"),
    ]
    assert "the header does not match" in events[2][3]
    assert "load failed (try 1)" in events[3][3]
    assert "not loaded: bad.csv" in events[4][3]
    assert len(list((tmp_path / "staging").iterdir())) == 1  # kept for a look


def test_a_run_without_its_inbox_fails_and_its_last_lines_say_why(metadata_env, etl_url, tmp_path):
    result = _run_dag(metadata_env, etl_url, tmp_path / "no-inbox", tmp_path / "staging")

    assert result.returncode == 1, result.stdout[-2000:] + result.stderr[-3000:]
    lines = result.stdout.splitlines()
    assert lines[-7:] == [
        "  extract: failed",
        "  transform: upstream_failed",
        "  load: upstream_failed",
        "  audit: failed",
        "why:",
        f"  extract: TRANSACTIONS_INBOX {tmp_path / 'no-inbox'} does not exist: create it"
        " (`make airflow` does) or point TRANSACTIONS_INBOX at the folder the exports arrive in",
        "  audit: nothing to audit: extract staged nothing for this run (it failed or never ran)",
    ]
