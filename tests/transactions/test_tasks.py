"""The DAG's task functions, as the Airflow virtualenv runs them: in the project's Python, with
neither FastAPI nor Airflow importable (the pipeline never needs them)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import psycopg

from backoffice.core.config import Settings
from backoffice.transactions.tasks import origin_of, run_directory
from tests.transactions.test_cli import _four_columns

# Refuses the packages a task must never import, then runs the four tasks of one DAG run.
TASKS = textwrap.dedent(
    """
    import sys

    class Refuse:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in {"fastapi", "starlette", "airflow"}:
                raise ImportError(f"{name} must not be imported by the ETL's tasks")

    sys.meta_path.insert(0, Refuse())
    from backoffice.transactions import tasks

    tasks.extract("scheduled__2024-06-01T00:00:00+00:00", "2024-06-01T00:00:00+00:00")
    tasks.transform("scheduled__2024-06-01T00:00:00+00:00")
    tasks.load("scheduled__2024-06-01T00:00:00+00:00", "2024-06-01T00:00:00+00:00")
    tasks.audit("scheduled__2024-06-01T00:00:00+00:00")
    print(sorted(m for m in sys.modules if m.split(".")[0] in {"fastapi", "airflow"}))
    """
)


def test_the_tasks_run_with_fastapi_and_airflow_unavailable(etl_url, tmp_path):
    _four_columns(tmp_path / "inbox")
    env = {
        **os.environ,
        "DATABASE_URL": etl_url,
        "TRANSACTIONS_INBOX": str(tmp_path / "inbox"),
        "TRANSACTIONS_STAGING": str(tmp_path / "staging"),
    }

    result = subprocess.run(
        [sys.executable, "-c", TASKS], env=env, capture_output=True, text=True, check=False
    )

    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.splitlines()[-1] == "[]"
    with psycopg.connect(etl_url) as conn:
        runs = conn.execute("SELECT started_by, dag_run_id, logical_date::text FROM import_runs")
        assert runs.fetchall() == [
            ("airflow", "scheduled__2024-06-01T00:00:00+00:00", "2024-06-01 00:00:00+00")
        ]


def test_a_run_directory_is_safe_and_unique_per_dag_run(tmp_path):
    settings = Settings(TRANSACTIONS_STAGING=tmp_path)
    one = run_directory(settings, "manual__2024-06-01T00:00:00+00:00")
    other = run_directory(settings, "manual__2024-06-01T00:00:00+00_00")
    assert one.parent == tmp_path and other.parent == tmp_path
    assert one != other
    assert set(one.name) <= set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
    assert run_directory(settings, "../../etc").parent == tmp_path


def test_a_blank_logical_date_is_none():
    assert origin_of("manual__x", "").logical_date is None
    assert origin_of("manual__x", "2024-06-01T00:00:00+00:00").logical_date is not None
