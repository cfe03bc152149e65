"""`backoffice transactions etl [FILE...]`: the transactions ETL now, without Airflow.

The same pipeline the DAG runs (the ingest engine with the TRANSACTIONS dataset), through
`etl.run_etl` as the console's upload does, against the database `make run` uses; with no file,
every new `*.csv` of `TRANSACTIONS_INBOX`. A cron line is enough for a nightly load:
`0 0 * * * cd /path && .venv/bin/backoffice transactions etl`.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Annotated

import psycopg
import typer

from backoffice.core.config import get_settings
from backoffice.core.console import cli_console
from backoffice.core.embedded import (
    driver_url,
    ensure_database,
    resolve_database_url,
    with_database,
)
from backoffice.ingest.audit import CLI, Level, record_task_event
from backoffice.ingest.console import errors, fail, observing, summary_table
from backoffice.ingest.pipeline import ImportAborted, database_problem, libpq_url
from backoffice.transactions.dataset import TRANSACTIONS
from backoffice.transactions.etl import ETL_COUNTS, run_etl

app = typer.Typer(help="Financial transactions: the ETL.", no_args_is_help=True)
console = cli_console()


@app.command("etl")
def etl_command(
    files: Annotated[
        list[Path] | None,
        typer.Argument(help="CSV files or folders [default: every new *.csv in the inbox]"),
    ] = None,
) -> None:
    """Load transaction files now (each all or nothing; files loaded before are skipped)."""
    settings = get_settings()
    paths = files or [settings.transactions_inbox]
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        where = "" if files else " (TRANSACTIONS_INBOX)"
        errors.print(f"no such file or directory{where}: {', '.join(missing)}", markup=False)
        raise typer.Exit(2)
    url = libpq_url(resolve_database_url(settings))
    try:
        with observing(console, ETL_COUNTS) as observer:
            results = run_etl(url, paths, observer=observer, origin=CLI, warn=_warn)
    except ImportAborted as exc:
        raise fail(f"transactions ETL stopped: {exc}") from None
    console.print(summary_table("transactions ETL", results, ETL_COUNTS))
    for r in results:
        if r.error:
            errors.print(f"{r.name}: {r.error}", style="red", markup=False, soft_wrap=True)
    if any(r.status == "failed" for r in results):
        raise typer.Exit(1)


def _warn(problem: str) -> None:
    console.print(problem, style="yellow", markup=False)


@app.command("task-event")
def task_event_command(
    task: Annotated[str, typer.Argument(help="The task that speaks: extract, load, ...")],
    message: Annotated[str, typer.Argument(help="What it says (2,000 characters kept)")],
    level: Annotated[Level, typer.Option(help="debug, info, warning or error")] = "info",
    dag_run_id: Annotated[
        str | None, typer.Option(help="The Airflow DAG run it belongs to")
    ] = None,
) -> None:
    """Write one task event to the ETL's audit (the DAG's failure callback calls this)."""
    if not task.strip() or len(task) > 100:
        raise fail("TASK must be 1 to 100 characters")
    url = libpq_url(resolve_database_url(get_settings()))
    try:
        with psycopg.connect(url, autocommit=True, connect_timeout=10) as conn:
            record_task_event(conn, TRANSACTIONS, task, message, level=level, dag_run_id=dag_run_id)
    except psycopg.Error as exc:
        raise fail(f"could not record the task event: {database_problem(exc)}") from None


@app.command("airflow-env")
def airflow_env_command(
    airflow_home: Annotated[Path, typer.Option(help="AIRFLOW_HOME")] = Path(".airflow/home"),
    dags: Annotated[Path, typer.Option(help="The folder of dags/transactions_etl.py")] = Path(
        "dags"
    ),
    python: Annotated[Path, typer.Option(help="The project's Python, which runs the tasks")] = Path(
        ".venv/bin/python"
    ),
) -> None:
    """Print the environment Airflow runs the DAG with (`make airflow` writes it to a file).

    Creates Airflow's metadata database (`AIRFLOW_DATABASE`) on the platform's PostgreSQL server
    (the embedded one unless DATABASE_URL is set), so that both live on one server.
    """
    settings = get_settings()
    url = resolve_database_url(settings)
    ensure_database(url, settings.airflow_database)
    metadata = driver_url(with_database(url, settings.airflow_database), "psycopg2")
    variables = {
        "AIRFLOW_HOME": airflow_home.resolve(),
        "AIRFLOW__CORE__DAGS_FOLDER": dags.resolve(),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__DEFAULT_TIMEZONE": settings.transactions_etl_timezone,
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": metadata,
        # What the tasks (the project's code, in its virtualenv) need to find the same database,
        # inbox and staging folder as `make run` and `backoffice transactions etl`.
        "BACKOFFICE_PYTHON": python.absolute(),
        "BACKOFFICE_HOME": settings.home.resolve(),
        "TRANSACTIONS_INBOX": settings.transactions_inbox.resolve(),
        "TRANSACTIONS_STAGING": settings.transactions_staging.resolve(),
        "TRANSACTIONS_ETL_TIMEZONE": settings.transactions_etl_timezone,
        "TRANSACTIONS_ETL_RETRIES": settings.transactions_etl_retries,
    }
    if settings.database_url:
        variables["DATABASE_URL"] = settings.database_url
    for name, value in variables.items():
        typer.echo(f"export {name}={shlex.quote(str(value))}")
