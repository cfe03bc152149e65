"""A late file: applied as if the files had come in date order (a dataset with `late_files`).

Each kept row carries the run (`import_runs.id`, whose `file_date` says when its file is
applied); with `Dataset.conflicts` also the line it came from, and every row a file sets aside
for its key is kept in `import_duplicates` with its stored version. A file whose date comes before a file already
loaded then, block by block:

1. `displace`: deletes the kept rows of its keys that came from a later file, moving each into
   `import_duplicates` (a displaced row's raw line is its stored values: the file's text is
   not kept). The block's own rows for those keys are then COPYed as usual, and the table's
   triggers (the per-user summary) see a DELETE and an INSERT, as with any other change; with
   rollups, the deleted rows' parts are taken away (negative parts, the same rollup statements).
2. `requarantine`: the quarantine's conflicts of those keys are made again against the version
   now kept: a duplicate equal to it leaves the quarantine, one that differs enters it.
3. `record`: the block's own duplicates join `import_duplicates` (after step 2, which must not
   see them: `audit.quarantine_conflicts` has just judged them against the version kept).

So the kept version of an id is the one from the earliest file, and the quarantine holds every
other version that differs from it, whatever order the files came in. A file of the same date
as the kept row's does not displace it (same day: the order they arrive in).
"""

from __future__ import annotations

from datetime import date

import psycopg

from backoffice.ingest.spec import SEPARATOR, Dataset

RUN_SETTING = "backoffice.ingest_run"
"""Session setting the target table's `ingest_run` default reads (set per file, SET LOCAL)."""


def start_file(conn: psycopg.Connection, dataset: Dataset, file_date: date) -> tuple[int, bool]:
    """(the file's run id, taken now so its rows carry it; whether a later file was loaded)."""
    row = conn.execute("SELECT nextval(pg_get_serial_sequence('import_runs', 'id'))").fetchone()
    assert row is not None
    run_id = int(row[0])
    conn.execute("SELECT set_config(%s, %s, true)", (RUN_SETTING, str(run_id)))
    later = conn.execute(
        "SELECT EXISTS (SELECT 1 FROM import_runs WHERE dataset = %s AND status = 'succeeded'"
        " AND file_date > %s)",
        (dataset.name, file_date),
    ).fetchone()
    return run_id, bool(later and later[0])


def _columns(dataset: Dataset, alias: str) -> tuple[str, str]:
    """(stored values as CSV, as in `first_version`; the row as `ROW(...)::text`)."""
    quoted = [f'{alias}."{n}"' for n in dataset.column_names]
    csv = "concat_ws(',', " + ", ".join(f"{c}::text" for c in quoted) + ")"
    return csv, f"ROW({', '.join(quoted)})::text"


def displace(
    cursor: psycopg.Cursor, dataset: Dataset, keys: set[str], file_date: date
) -> tuple[set[str], list[tuple[str | None, ...]]]:
    """Delete the kept rows of `keys` loaded from a file dated after `file_date`.

    Returns their keys and, for a dataset with rollups, what its parts read of each (stored
    text, the key first) so that their parts are taken away. With `conflicts`, each deleted
    row becomes a duplicate of its own file (`import_duplicates`).
    """
    key = f'"{dataset.key}"'
    # Identifiers come from the dataset description, never from a file; keys are a parameter.
    delete = (
        f"DELETE FROM {dataset.table} t USING import_runs r"  # noqa: S608
        f" WHERE t.{key} = ANY(string_to_array(%s, chr(31))::{dataset.key_type}[])"
        " AND r.id = t.ingest_run AND r.file_date > %s"
    )
    joined = SEPARATOR.join(sorted(keys))
    if dataset.conflicts is None:
        reads = dataset.parts.reads if dataset.parts else ()
        returning = ", ".join([f"t.{key}::text", *(f't."{n}"::text' for n in reads)])
        cursor.execute(f"{delete} RETURNING {returning}", (joined, file_date))
        rows = cursor.fetchall()
        return {row[0] for row in rows}, rows
    csv, version = _columns(dataset, "t")
    cursor.execute(
        f"WITH gone AS ({delete}"  # noqa: S608
        f" RETURNING r.file_name, t.ingest_line, t.{key}::text AS key, {csv} AS raw, {version}"
        " AS version)"
        " INSERT INTO import_duplicates (dataset, file_name, line_number, key, raw_line, version)"
        " SELECT %s, file_name, ingest_line, key, raw, version FROM gone RETURNING key",
        (joined, file_date, dataset.name),
    )
    return {row[0] for row in cursor.fetchall()}, []


def requarantine(cursor: psycopg.Cursor, dataset: Dataset, keys: set[str]) -> None:
    """The quarantine's conflicts of `keys`, made again against the versions kept now."""
    csv, version = _columns(dataset, "t")
    joined = SEPARATOR.join(sorted(keys))
    cursor.execute(
        "DELETE FROM import_rejects q USING import_duplicates d"
        " WHERE d.dataset = %s AND d.key = ANY(string_to_array(%s, chr(31)))"
        " AND q.dataset = d.dataset AND q.file_name = d.file_name"
        " AND q.line_number = d.line_number AND q.reason = %s",
        (dataset.name, joined, dataset.conflicts),
    )
    cursor.execute(
        "INSERT INTO import_rejects"  # noqa: S608
        " (dataset, file_name, line_number, raw_line, reason, first_version)"
        f" SELECT d.dataset, d.file_name, d.line_number, d.raw_line, %s, {csv}"
        f' FROM import_duplicates d JOIN {dataset.table} t ON t."{dataset.key}"::text = d.key'
        " WHERE d.dataset = %s AND d.key = ANY(string_to_array(%s, chr(31)))"
        f" AND {version} <> d.version",
        (dataset.conflicts, dataset.name, joined),
    )


def record(cursor: psycopg.Cursor, dataset: Dataset, file_name: str, staged: str) -> None:
    """The block's duplicates (already in the temporary table `staged`) into `import_duplicates`."""
    _, version = _columns(dataset, "d")
    cursor.execute(
        "INSERT INTO import_duplicates (dataset, file_name, line_number, key, raw_line, version)"  # noqa: S608
        f' SELECT %s, %s, d.line_number, d."{dataset.key}"::text, d.raw_line, {version}'
        f" FROM {staged} d",
        (dataset.name, file_name),
    )
