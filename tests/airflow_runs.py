"""Fixtures of the DAG tests (a pytest plugin of `tests/conftest.py`): Airflow's environment, and
a migrated Airflow metadata database on the test server, shared by every DAG's tests.

Airflow lives in a virtualenv of its own (`make airflow-venv`, `.airflow/`): the tests run its
Python in subprocesses, never import it. Migrating the metadata database takes a good part of a
minute, so it is done once per session, whichever DAG's tests ask first; the home and the
database hold nothing a run depends on but the DAGs' own records, which `dag.test()` replaces
run by run (`ops/airflow_dag_test.py`).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from backoffice.core.embedded import driver_url
from tests.live import scratch_database

ROOT = Path(__file__).parents[1]
AIRFLOW_BIN = ROOT / ".airflow" / "bin"
DAG_TEST = ROOT / "ops" / "airflow_dag_test.py"


@pytest.fixture(scope="session")
def airflow_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """What Airflow needs to find the DAGs, with a home of its own (no metadata database).

    The DAGs' tasks run in this Python (the project's), and a failed task fails its run at once
    (no retries).
    """
    if not (AIRFLOW_BIN / "airflow").exists():
        pytest.fail("no Airflow virtualenv in .airflow/: run `make airflow-venv` (make test does)")
    home = tmp_path_factory.mktemp("airflow-home")
    return {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "BACKOFFICE_PYTHON": sys.executable,
        "TRANSACTIONS_ETL_RETRIES": "0",
        "SAVINGS_INTEREST_RETRIES": "0",
    }


@pytest.fixture(scope="session")
def metadata_env(airflow_env: dict[str, str], server_url: str) -> Iterator[dict[str, str]]:
    """`airflow_env` with a migrated metadata database on the test server."""
    for url in scratch_database(server_url, "airflow_meta"):
        env = {**airflow_env, "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": driver_url(url, "psycopg2")}
        migrate = subprocess.run(
            [AIRFLOW_BIN / "airflow", "db", "migrate"],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert migrate.returncode == 0, migrate.stderr[-3000:]
        yield env


def run_dag(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """`ops/airflow_dag_test.py` (what `make airflow-dag-test` runs) with `args`, in `env`."""
    return subprocess.run(
        [AIRFLOW_BIN / "python", DAG_TEST, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
