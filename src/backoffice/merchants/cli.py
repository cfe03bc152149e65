"""`backoffice merchants import PATH...` and `backoffice merchants rejects`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import psycopg
import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from backoffice.core.config import get_settings
from backoffice.core.embedded import resolve_database_url
from backoffice.ingest.pipeline import ImportAborted, database_problem, import_files, libpq_url
from backoffice.ingest.results import Counts, FileResult
from backoffice.merchants.dataset import MERCHANT_ACTIVITIES

app = typer.Typer(help="Merchant activity files and analytics.", no_args_is_help=True)
console = Console()
errors = Console(stderr=True)


def fail(message: str) -> typer.Exit:
    """Print `message` as one line on stderr; the caller raises the returned exit (status 1)."""
    errors.print(f"error: {message}", style="red", markup=False, highlight=False, soft_wrap=True)
    return typer.Exit(1)


class RowsPerSecond(ProgressColumn):
    """Rows imported per second in the current file."""

    def render(self, task: Task) -> Text:
        rows = int(task.fields.get("rows", 0))
        elapsed = task.elapsed or 0.0
        rate = rows / elapsed if elapsed > 0 else 0.0
        return Text(f"{rows:,} rows  {rate:,.0f} rows/s", style="cyan")


class ProgressObserver:
    """Drives one progress bar per file (bytes for the ETA, rows for the rate).

    A file's status shows once its group of files has committed (or it failed).
    """

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.tasks: dict[str, TaskID] = {}

    def file_started(self, name: str, size: int) -> None:
        self.tasks[name] = self.progress.add_task(escape(name), total=max(size, 1), rows=0)

    def progressed(self, name: str, bytes_done: int, counts: Counts) -> None:
        self.progress.update(self.tasks[name], completed=bytes_done, rows=counts.rows_read)

    def file_finished(self, result: FileResult) -> None:
        task = self.tasks[result.name]
        self.progress.update(
            task,
            completed=self.progress.tasks[task].total,
            description=escape(f"{result.name} [{result.status}]"),  # text, not rich markup
        )


class LineObserver:
    """One plain line per file once its fate is known, for output that is not a terminal."""

    def __init__(self, console: Console) -> None:
        self.console = console

    def file_started(self, name: str, size: int) -> None:
        return None

    def progressed(self, name: str, bytes_done: int, counts: Counts) -> None:
        return None

    def file_finished(self, result: FileResult) -> None:
        c = result.counts
        self.console.print(
            f"{result.name}: {result.status}, read {c.rows_read}, inserted {c.inserted},"
            f" duplicates {c.duplicates}, rejected {c.rejected}, flagged {c.flagged}",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )


def file_progress(console: Console) -> Progress:
    """One bar per file: bytes read (for the ETA), rows per second, and then its status."""
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        RowsPerSecond(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        refresh_per_second=4,
    )


def import_with_progress(url: str, paths: list[Path]) -> list[FileResult]:
    """Import `paths`: progress bars in a terminal, one plain line per file otherwise."""
    if not console.is_terminal:
        return import_files(url, MERCHANT_ACTIVITIES, paths, observer=LineObserver(console))
    with file_progress(console) as progress:
        return import_files(url, MERCHANT_ACTIVITIES, paths, observer=ProgressObserver(progress))


def summary_table(results: list[FileResult]) -> Table:
    """One line per file and a total."""
    table = Table(title="merchant import")
    for column in ("file", "status", "read", "inserted", "duplicates", "rejected", "flagged"):
        table.add_column(column, justify="left" if column in ("file", "status") else "right")
    table.add_column("rows/s", justify="right")
    total = Counts()
    for r in results:
        total.add(r.counts)
        rate = f"{r.counts.rows_read / r.seconds:,.0f}" if r.seconds and r.counts.rows_read else ""
        style = {"failed": "red", "skipped": "dim"}.get(r.status, "")
        table.add_row(
            r.name,
            r.status,
            *(f"{n:,}" for n in _numbers(r.counts)),
            rate,
            style=style,
        )
    table.add_row("total", "", *(f"{n:,}" for n in _numbers(total)), "", style="bold")
    return table


def _numbers(c: Counts) -> tuple[int, ...]:
    return (c.rows_read, c.inserted, c.duplicates, c.rejected, c.flagged)


@app.command("import")
def import_command(
    paths: Annotated[list[Path], typer.Argument(help="activities_YYYYMMDD.csv files or folders")],
) -> None:
    """Import activity files (each all or nothing; already imported files are skipped)."""
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        console.print(f"[red]no such file or directory: {', '.join(missing)}[/]")
        raise typer.Exit(2)
    url = resolve_database_url(get_settings())
    try:
        results = import_with_progress(url, paths)
    except ImportAborted as exc:
        raise fail(f"merchant import stopped: {exc}") from None
    console.print(summary_table(results))
    for r in results:
        if r.error:
            console.print(f"[red]{r.name}: {r.error}[/]")
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
