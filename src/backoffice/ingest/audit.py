"""The run audit (`import_runs`) and the quarantine (`import_rejects`) of every dataset."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Literal

import psycopg

from backoffice.ingest.reader import KEPT_PREFIX_BYTES, Reject, bounded
from backoffice.ingest.results import Counts, FileResult
from backoffice.ingest.spec import Dataset

StartedBy = Literal["cli", "airflow"]
Level = Literal["debug", "info", "warning", "error"]


@dataclass(frozen=True, slots=True)
class RunOrigin:
    """How an import was started, stored with each of its `import_runs` rows.

    Given to `import_files`, it also records each file skipped (seen before with the same
    sha256) as a `skipped` run; without it (the merchants) skips are not recorded.
    """

    started_by: StartedBy = "cli"
    dag_run_id: str | None = None
    logical_date: datetime | None = None


CLI = RunOrigin()


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
    origin: RunOrigin = CLI,
    status: str = "succeeded",
    *,
    run_id: int | None = None,
    file_date: date | None = None,
) -> None:
    """The `succeeded` (or `skipped`) run row of a file, in its savepoint (it goes with it).

    `run_id` is the id the file's rows carry (taken when it started: `late.start_file`);
    `file_date` the day the file is applied at.
    """
    conn.execute(
        "INSERT INTO import_runs (id, dataset, file_name, file_size, sha256, rows_read, inserted,"
        " duplicates, rejected, flagged, conflicting, started_at, finished_at, status,"
        " started_by, dag_run_id, logical_date, file_date) VALUES"
        " (coalesce(%s, nextval(pg_get_serial_sequence('import_runs', 'id'))), %s, %s, %s, %s,"
        " %s, %s, %s, %s, %s, %s, %s, clock_timestamp(), %s, %s, %s, %s, %s)",
        (
            run_id,
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
            status,
            origin.started_by,
            origin.dag_run_id,
            origin.logical_date,
            file_date,
        ),
    )


def record_failure(
    conn: psycopg.Connection, dataset: Dataset, result: FileResult, origin: RunOrigin = CLI
) -> None:
    """A `failed` run row: in its own transaction, or in a savepoint of the group's."""
    try:
        with conn.transaction():
            conn.execute(
                "INSERT INTO import_runs (dataset, file_name, file_size, started_at, finished_at,"
                " status, error, started_by, dag_run_id, logical_date)"
                " VALUES (%s, %s, %s, %s, clock_timestamp(), 'failed', %s, %s, %s, %s)",
                (
                    dataset.name,
                    result.name,
                    result.size,
                    result.started or datetime.now(UTC),
                    (result.error or "")[:2000],
                    origin.started_by,
                    origin.dag_run_id,
                    origin.logical_date,
                ),
            )
    except psycopg.Error:  # the database itself is gone; the caller still gets the result
        return


def quarantine(
    cursor: psycopg.Cursor, dataset: Dataset, file_name: str, rejects: Iterable[Reject]
) -> None:
    """COPY a block's rejected lines into `import_rejects`, with their line and reason.

    A line keeps its first 4 KiB (`KEPT_PREFIX_BYTES`); the reason then says how long it was.
    """
    with cursor.copy(
        "COPY import_rejects (dataset, file_name, line_number, raw_line, reason) FROM STDIN"
    ) as copy:
        for r in rejects:
            raw, length = bounded(r.raw)
            reason = r.reason
            if len(raw) < len(r.raw):
                reason += f" (a line of {length} bytes: its first {KEPT_PREFIX_BYTES} kept)"
            copy.write_row((dataset.name, file_name, r.line, raw, reason))


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
            copy.write_row((line, bounded(raw)[0], *stored))
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


def record_task_event(
    conn: psycopg.Connection,
    dataset: Dataset | str,
    task: str,
    message: str,
    *,
    level: Level = "info",
    dag_run_id: str | None = None,
    import_run_id: int | None = None,
) -> int:
    """One event of an ETL task (extract, load, audit, ...): its id. Commits as `conn` does."""
    row = conn.execute(
        "INSERT INTO import_task_events (dataset, dag_run_id, import_run_id, task, level, message)"
        " VALUES (%s, %s, %s, %s, %s, %s) RETURNING id",
        (
            dataset if isinstance(dataset, str) else dataset.name,
            dag_run_id,
            import_run_id,
            task,
            level,
            message[:2000],
        ),
    ).fetchone()
    assert row is not None
    return int(row[0])


def last_run_id(conn: psycopg.Connection, dataset: Dataset, file_name: str) -> int | None:
    """The id of the last run of the dataset's file `file_name` (an index lookup), or None."""
    row = conn.execute(
        "SELECT max(id) FROM import_runs WHERE dataset = %s AND file_name = %s",
        (dataset.name, file_name),
    ).fetchone()
    return None if row is None or row[0] is None else int(row[0])


def runs_of_dag_run(
    conn: psycopg.Connection, dataset: Dataset, dag_run_id: str
) -> list[tuple[str, str, Counts]]:
    """The runs a DAG run recorded, in order: (file name, status, counts)."""
    rows = conn.execute(
        "SELECT file_name, status, rows_read, inserted, duplicates, rejected, flagged, conflicting"
        " FROM import_runs WHERE dataset = %s AND dag_run_id = %s ORDER BY id",
        (dataset.name, dag_run_id),
    ).fetchall()
    return [(name, status, Counts(*figures)) for name, status, *figures in rows]
