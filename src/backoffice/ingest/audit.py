"""The run audit (`import_runs`) and the quarantine (`import_rejects`) of every dataset."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

import psycopg

from backoffice.ingest.reader import Reject
from backoffice.ingest.results import Counts, FileResult
from backoffice.ingest.spec import Dataset


def imported_files(conn: psycopg.Connection, dataset: Dataset) -> dict[str, str]:
    """The files already imported (their `succeeded` runs): name -> sha256."""
    rows = conn.execute(
        "SELECT file_name, sha256 FROM import_runs WHERE dataset = %s AND status = 'succeeded'",
        (dataset.name,),
    ).fetchall()
    return dict(rows)


def record_success(
    conn: psycopg.Connection,
    dataset: Dataset,
    name: str,
    size: int,
    digest: str,
    counts: Counts,
    started: datetime,
) -> None:
    """The `succeeded` run row of a file, in its savepoint (so it goes if the file goes)."""
    conn.execute(
        "INSERT INTO import_runs (dataset, file_name, file_size, sha256, rows_read, inserted,"
        " duplicates, rejected, flagged, started_at, finished_at, status)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, clock_timestamp(), 'succeeded')",
        (
            dataset.name,
            name,
            size,
            digest,
            counts.rows_read,
            counts.inserted,
            counts.duplicates,
            counts.rejected,
            counts.flagged,
            started,
        ),
    )


def record_failure(conn: psycopg.Connection, dataset: Dataset, result: FileResult) -> None:
    """A `failed` run row: in its own transaction, or in a savepoint of the group's."""
    try:
        with conn.transaction():
            conn.execute(
                "INSERT INTO import_runs (dataset, file_name, file_size, started_at, finished_at,"
                " status, error) VALUES (%s, %s, %s, %s, clock_timestamp(), 'failed', %s)",
                (
                    dataset.name,
                    result.name,
                    result.size,
                    result.started or datetime.now(UTC),
                    (result.error or "")[:2000],
                ),
            )
    except psycopg.Error:  # the database itself is gone; the caller still gets the result
        return


def quarantine(
    cursor: psycopg.Cursor, dataset: Dataset, file_name: str, rejects: Iterable[Reject]
) -> None:
    """COPY a block's rejected lines into `import_rejects`, with their line and reason."""
    with cursor.copy(
        "COPY import_rejects (dataset, file_name, line_number, raw_line, reason) FROM STDIN"
    ) as copy:
        for r in rejects:
            copy.write_row((dataset.name, file_name, r.line, r.raw, r.reason))
