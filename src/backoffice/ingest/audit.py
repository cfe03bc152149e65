"""The run audit (`import_runs`) and the quarantine (`import_rejects`) of every dataset."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
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
        " duplicates, rejected, flagged, conflicting, started_at, finished_at, status)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, clock_timestamp(), 'succeeded')",
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
            counts.conflicting,
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


DUPLICATES = "ingest_duplicates"
"""Temporary table (ON COMMIT DROP) of a block's duplicates, typed as the target table."""


def quarantine_conflicts(
    cursor: psycopg.Cursor,
    dataset: Dataset,
    file_name: str,
    duplicates: Sequence[tuple[int, str, Sequence[str]]],
) -> int:
    """Quarantine the duplicates whose stored values differ from the version the table keeps.

    `duplicates` are (line, raw line, stored values in the dataset's column order) of rows
    set aside for their key; the block's own rows are already COPYed, so the table holds the
    winner of every one. The values compare as the table's types, in SQL. Each conflicting
    line goes to `import_rejects` with the dataset's `conflicts` code and the kept version (its
    stored values as CSV) in `first_version`. Returns how many there were.
    """
    names = dataset.column_names
    quoted = [f'"{n}"' for n in names]
    others = [f'"{n}"' for n in names if n != dataset.key]
    # Identifiers come from the dataset description, never from a file.
    cursor.execute(
        f"CREATE TEMP TABLE IF NOT EXISTS {DUPLICATES} ON COMMIT DROP AS"  # noqa: S608
        f" SELECT 0::int AS line_number, ''::text AS raw_line, {', '.join(quoted)}"
        f" FROM {dataset.table} WITH NO DATA"
    )
    cursor.execute(f"TRUNCATE {DUPLICATES}")
    with cursor.copy(
        f"COPY {DUPLICATES} (line_number, raw_line, {', '.join(quoted)}) FROM STDIN"
    ) as copy:
        for line, raw, values in duplicates:
            stored = [v if v != "" else None for v in values[: len(names)]]
            copy.write_row((line, raw, *stored))
    key = f'"{dataset.key}"'
    first_version = "concat_ws(',', " + ", ".join(f"t.{c}::text" for c in quoted) + ")"
    cursor.execute(
        "INSERT INTO import_rejects"  # noqa: S608
        " (dataset, file_name, line_number, raw_line, reason, first_version)"
        f" SELECT %s, %s, d.line_number, d.raw_line, %s, {first_version}"
        f" FROM {DUPLICATES} d JOIN {dataset.table} t ON t.{key} = d.{key}"
        f" WHERE ({', '.join(f't.{c}' for c in others)}) IS DISTINCT FROM"
        f" ({', '.join(f'd.{c}' for c in others)})",
        (dataset.name, file_name, dataset.conflicts),
    )
    return cursor.rowcount
