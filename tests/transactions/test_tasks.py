"""The DAG's task functions, as the Airflow virtualenv runs them: in the project's Python, with
neither FastAPI nor Airflow importable (the pipeline never needs them)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import psycopg
import pytest

from backoffice.core.config import Settings, get_settings
from backoffice.transactions import tasks
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


@pytest.fixture
def task_env(etl_url, tmp_path, monkeypatch):
    """The tasks' settings: the ETL's database, an inbox and a staging folder under tmp_path."""
    monkeypatch.setenv("DATABASE_URL", etl_url)
    monkeypatch.setenv("TRANSACTIONS_INBOX", str(tmp_path / "inbox"))
    monkeypatch.setenv("TRANSACTIONS_STAGING", str(tmp_path / "staging"))
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def test_a_missing_inbox_fails_extract_saying_so_and_the_audit_fails_the_run(task_env, etl_url):
    with pytest.raises(tasks.EtlFailed) as extract:
        tasks.extract("manual__missing-inbox")
    assert str(task_env / "inbox") in str(extract.value)
    assert "TRANSACTIONS_INBOX" in str(extract.value)
    assert "does not exist" in str(extract.value)

    (task_env / "inbox").write_text("a file, not a folder")
    with pytest.raises(tasks.EtlFailed, match="is not a folder"):
        tasks.extract("manual__missing-inbox")

    with pytest.raises(tasks.EtlFailed, match="extract staged nothing"):
        tasks.audit("manual__missing-inbox")
    with psycopg.connect(etl_url) as conn:
        events = conn.execute("SELECT task, level FROM import_task_events").fetchall()
    assert events == [("audit", "error")]


def test_an_empty_inbox_is_a_run_that_loads_nothing_and_succeeds(task_env):
    (task_env / "inbox").mkdir()
    assert tasks.extract("manual__empty").files == []
    tasks.transform("manual__empty")
    tasks.load("manual__empty")
    assert tasks.audit("manual__empty").rows_read == 0
