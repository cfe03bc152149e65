"""What an import shows an operator (rich): progress bars or plain lines, and a summary table.

Shared by every dataset's command (`backoffice merchants import`, `backoffice transactions
etl`); each says which counts it shows and under which names.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

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

from backoffice.core.console import cli_console
from backoffice.ingest.audit import RunOrigin
from backoffice.ingest.pipeline import import_files
from backoffice.ingest.results import Counts, FileResult, Observer
from backoffice.ingest.spec import Dataset

errors = cli_console(stderr=True)


def fail(message: str) -> typer.Exit:
    """Print `message` as one line on stderr; the caller raises the returned exit (status 1)."""
    errors.print(f"error: {message}", style="red", markup=False, highlight=False, soft_wrap=True)
    return typer.Exit(1)


CountColumns = Sequence[tuple[str, Callable[[Counts], int]]]
"""(label, count) of each figure a command shows, in its order."""

IMPORT_COUNTS: CountColumns = (
    ("read", lambda c: c.rows_read),
    ("inserted", lambda c: c.inserted),
    ("duplicates", lambda c: c.duplicates),
    ("rejected", lambda c: c.rejected),
    ("flagged", lambda c: c.flagged),
)


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

    def __init__(self, console: Console, counts: CountColumns = IMPORT_COUNTS) -> None:
        self.console = console
        self.counts = counts

    def file_started(self, name: str, size: int) -> None:
        return None

    def progressed(self, name: str, bytes_done: int, counts: Counts) -> None:
        return None

    def file_finished(self, result: FileResult) -> None:
        figures = ", ".join(f"{label} {count(result.counts)}" for label, count in self.counts)
        self.console.print(
            f"{result.name}: {result.status}, {figures}",
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


@contextmanager
def observing(console: Console, counts: CountColumns = IMPORT_COUNTS) -> Iterator[Observer]:
    """What shows an import's progress: bars in a terminal, one plain line per file otherwise."""
    if not console.is_terminal:
        yield LineObserver(console, counts)
        return
    with file_progress(console) as progress:
        yield ProgressObserver(progress)


def import_with_progress(
    console: Console,
    url: str,
    dataset: Dataset,
    paths: Sequence[Path],
    *,
    counts: CountColumns = IMPORT_COUNTS,
    origin: RunOrigin | None = None,
) -> list[FileResult]:
    """Import `paths`: progress bars in a terminal, one plain line per file otherwise."""
    with observing(console, counts) as observer:
        return import_files(url, dataset, paths, observer=observer, origin=origin)


def summary_table(
    title: str, results: Sequence[FileResult], counts: CountColumns = IMPORT_COUNTS
) -> Table:
    """One line per file and a total."""
    table = Table(title=title)
    for column in ("file", "status", *(label for label, _ in counts)):
        table.add_column(column, justify="left" if column in ("file", "status") else "right")
    table.add_column("rows/s", justify="right")
    for r in results:
        rate = f"{r.counts.rows_read / r.seconds:,.0f}" if r.seconds and r.counts.rows_read else ""
        style = {"failed": "red", "skipped": "dim"}.get(r.status, "")
        figures = (f"{count(r.counts):,}" for _, count in counts)
        table.add_row(r.name, r.status, *figures, rate, style=style)
    total = Counts.total(r.counts for r in results)
    totals = (f"{count(total):,}" for _, count in counts)
    table.add_row("total", "", *totals, "", style="bold")
    return table
