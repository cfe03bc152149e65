"""`backoffice merchants import PATH...` and `backoffice merchants rejects`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import psycopg
import typer
from rich.table import Table

from backoffice.core.config import get_settings
from backoffice.core.console import cli_console
from backoffice.core.embedded import resolve_database_url
from backoffice.ingest.console import errors, fail, import_with_progress, summary_table
from backoffice.ingest.pipeline import ImportAborted, database_problem, libpq_url
from backoffice.merchants.dataset import MERCHANT_ACTIVITIES

app = typer.Typer(help="Merchant activity files and analytics.", no_args_is_help=True)
console = cli_console()


@app.command("import")
def import_command(
    paths: Annotated[list[Path], typer.Argument(help="activities_YYYYMMDD.csv files or folders")],
) -> None:
    """Import activity files (each all or nothing; already imported files are skipped)."""
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        errors.print(f"no such file or directory: {', '.join(missing)}", style="red", markup=False)
        raise typer.Exit(2)
    url = resolve_database_url(get_settings())
    try:
        results = import_with_progress(console, url, MERCHANT_ACTIVITIES, paths)
    except ImportAborted as exc:
        raise fail(f"merchant import stopped: {exc}") from None
    console.print(summary_table("merchant import", results))
    for r in results:
        if r.error:
            errors.print(f"{r.name}: {r.error}", style="red", markup=False, soft_wrap=True)
    if any(r.status == "failed" for r in results):
        raise typer.Exit(1)


@app.command("rejects")
def rejects_command(
    file: Annotated[str | None, typer.Option(help="Only this file name")] = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many lines")] = 50,
) -> None:
    """List quarantined lines: file, line number, reason and the raw line."""
    url = libpq_url(resolve_database_url(get_settings()))
    query = (
        "SELECT file_name, line_number, reason, raw_line FROM import_rejects"
        " WHERE dataset = %s AND (%s::text IS NULL OR file_name = %s)"
        " ORDER BY file_name, line_number LIMIT %s"
    )
    try:
        with psycopg.connect(url) as conn:
            rows = conn.execute(query, (MERCHANT_ACTIVITIES.name, file, file, limit)).fetchall()
    except psycopg.OperationalError as exc:
        first_line = (str(exc).strip().splitlines() or ["no answer"])[0]
        raise fail(f"cannot reach the database: {first_line}") from None
    except psycopg.Error as exc:
        raise fail(database_problem(exc)) from None
    table = Table("file", "line", "reason", "raw line", title="quarantined lines")
    for name, line, reason, raw in rows:
        table.add_row(name, str(line), reason, raw)
    console.print(table)
