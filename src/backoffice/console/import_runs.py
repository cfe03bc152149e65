"""What the merchants and transactions sections show alike of their import runs.

Both datasets are loaded by `ingest`, so their runs are the same rows (`ImportRun`) and their
rejected lines the same quarantine (`RejectRead`): one list of the run's columns (the CSV
export's header, and the list's table in `templates/_runs.html`) and one of a reject's, each
dataset leaving out the counts it does not keep.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from starlette.responses import Response

from backoffice.console.web import csv_response
from backoffice.ingest.schemas import RejectRead


@dataclass(frozen=True, slots=True)
class RunColumn:
    """A column of the runs: the run's attribute (and CSV header), and the table's heading."""

    name: str
    heading: str  # '' : in the CSV export only
    numeric: bool = False


# In the order the CSV exports and the tables show them.
RUN_COLUMNS = (
    RunColumn("id", "Run"),
    RunColumn("file_name", "File"),
    RunColumn("status", "Status"),
    RunColumn("rows_read", "Read", numeric=True),
    RunColumn("inserted", "Inserted", numeric=True),
    RunColumn("duplicates", "Duplicates", numeric=True),
    RunColumn("conflicting", "Conflicting", numeric=True),
    RunColumn("rejected", "Rejected", numeric=True),
    RunColumn("flagged", "Flagged", numeric=True),
    RunColumn("started_by", "By"),
    RunColumn("started_at", "Started"),
    RunColumn("finished_at", ""),
    RunColumn("error", ""),
)
REJECT_COLUMNS = ("file_name", "line_number", "reason", "raw_line", "first_version")


def run_columns(
    *, leave_out: Collection[str] = (), headings: Mapping[str, str] | None = None
) -> tuple[RunColumn, ...]:
    """A dataset's run columns: all but those it does not keep, headed in its own words."""
    named = headings or {}
    return tuple(
        replace(column, heading=named.get(column.name, column.heading))
        for column in RUN_COLUMNS
        if column.name not in leave_out
    )


def runs_csv(filename: str, columns: Iterable[RunColumn], runs: Iterable[Any]) -> Response:
    """The runs as a CSV download, one line each, in `columns`."""
    names = [column.name for column in columns]
    return csv_response(filename, names, ([getattr(run, n) for n in names] for run in runs))


def rejects_csv(filename: str, rejects: Iterable[RejectRead]) -> Response:
    """Rejected lines as a CSV download (a line with no kept version: an empty cell)."""
    rows = ([getattr(reject, n) for n in REJECT_COLUMNS] for reject in rejects)
    return csv_response(filename, REJECT_COLUMNS, rows)
