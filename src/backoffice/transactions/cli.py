"""`backoffice transactions etl [FILE...]`: the transactions ETL now, without Airflow.

The same pipeline the DAG runs (the ingest engine with the TRANSACTIONS dataset), against the
database `make run` uses; with no file, every new `*.csv` of `TRANSACTIONS_INBOX`. A cron line
is enough for a nightly load: `0 0 * * * cd /path && .venv/bin/backoffice transactions etl`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import psycopg
import typer
from rich.console import Console

from backoffice.core.config import get_settings
from backoffice.core.embedded import resolve_database_url
from backoffice.ingest.audit import CLI, record_task_event
from backoffice.ingest.console import CountColumns, fail, import_with_progress, summary_table
from backoffice.ingest.pipeline import ImportAborted, libpq_url
from backoffice.ingest.results import Counts, FileResult
from backoffice.transactions.dataset import TRANSACTIONS

app = typer.Typer(help="Financial transactions: the ETL.", no_args_is_help=True)
console = Console()

ETL_COUNTS: CountColumns = (
    ("read", lambda c: c.rows_read),
    ("loaded", lambda c: c.inserted),
    ("duplicates", lambda c: c.duplicates),
    ("conflicting", lambda c: c.conflicting),
    ("rejected", lambda c: c.rejected),
)


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
        console.print(f"no such file or directory{where}: {', '.join(missing)}", markup=False)
        raise typer.Exit(2)
    url = libpq_url(resolve_database_url(settings))
    try:
        results = import_with_progress(
            console, url, TRANSACTIONS, paths, counts=ETL_COUNTS, origin=CLI
        )
    except ImportAborted as exc:
        raise fail(f"transactions ETL stopped: {exc}") from None
    _record_outcome(url, results)
    console.print(summary_table("transactions ETL", results, ETL_COUNTS))
    for r in results:
        if r.error:
            console.print(f"{r.name}: {r.error}", style="red", markup=False)
    if any(r.status == "failed" for r in results):
        raise typer.Exit(1)


def _record_outcome(url: str, results: list[FileResult]) -> None:
    """One task event for the run: what it did (the per-file figures are in `import_runs`)."""
    total = Counts.total(r.counts for r in results)
    failed = [r.name for r in results if r.status == "failed"]
    figures = ", ".join(f"{label} {count(total)}" for label, count in ETL_COUNTS)
    message = f"{len(results)} files: {figures}" + (
        f"; failed: {', '.join(failed)}" if failed else ""
    )
    try:
        with psycopg.connect(url, autocommit=True, connect_timeout=10) as conn:
            record_task_event(
                conn, TRANSACTIONS, "etl", message, level="error" if failed else "info"
            )
    except psycopg.Error as exc:  # the load is done and audited per file; say so and go on
        console.print(f"could not record the task event: {exc}", style="yellow", markup=False)
