"""One run of the transactions ETL in one process: the command line's, and the console's upload.

`backoffice transactions etl [FILE...]` and an operator's upload in the console both run
`run_etl`: the ingest engine with the TRANSACTIONS dataset over the given files (each all or
nothing, files loaded before skipped), then one task event that sums the run up. The Airflow DAG
runs the same engine cut into its four tasks (`tasks.py`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import psycopg

from backoffice.ingest.audit import CLI, RunOrigin, last_run_id, record_task_event
from backoffice.ingest.pipeline import import_files
from backoffice.ingest.results import Counts, FileResult, Observer
from backoffice.transactions.dataset import TRANSACTIONS

# The figures a run reports, under the names operators know (label, count).
ETL_COUNTS: Sequence[tuple[str, Callable[[Counts], int]]] = (
    ("read", lambda c: c.rows_read),
    ("loaded", lambda c: c.inserted),
    ("duplicates", lambda c: c.duplicates),
    ("conflicting", lambda c: c.conflicting),
    ("rejected", lambda c: c.rejected),
)


def run_etl(
    url: str,
    paths: Sequence[Path],
    *,
    observer: Observer | None = None,
    origin: RunOrigin = CLI,
    should_stop: Callable[[], bool] = lambda: False,
    started_by: str | None = None,
    warn: Callable[[str], None] = lambda _: None,
) -> list[FileResult]:
    """Load `paths` (files or folders) into the database at `url` (libpq); the files' results.

    `started_by` (who asked, e.g. the console's operator) goes into the run's task event;
    `warn` hears of a task event that could not be written (the load itself is done).

    Raises:
        ImportAborted: the database cannot take the load (not migrated, unreachable).
        ImportCancelled: `should_stop` said so; the open file is rolled back.
    """
    results = import_files(
        url, TRANSACTIONS, paths, observer=observer, origin=origin, should_stop=should_stop
    )
    problem = record_outcome(url, results, started_by=started_by)
    if problem is not None:
        warn(problem)
    return results


def outcome_message(results: Sequence[FileResult], started_by: str | None = None) -> str:
    """The run in one line: its files' figures, the files that failed, and who started it."""
    total = Counts.total(r.counts for r in results)
    failed = [r.name for r in results if r.status == "failed"]
    figures = ", ".join(f"{label} {count(total)}" for label, count in ETL_COUNTS)
    message = f"{len(results)} files: {figures}"
    if failed:
        message += f"; failed: {', '.join(failed)}"
    if started_by:
        message += f"; started by {started_by}"
    return message


def record_outcome(
    url: str, results: Sequence[FileResult], *, started_by: str | None = None
) -> str | None:
    """One task event for the run (the per-file figures are in `import_runs`).

    A run of one file (an upload's) is the event of that file's run, shown on its page.
    Returns why it could not be written, or None.
    """
    failed = any(r.status == "failed" for r in results)
    try:
        with psycopg.connect(url, autocommit=True, connect_timeout=10) as conn:
            run_id = last_run_id(conn, TRANSACTIONS, results[0].name) if len(results) == 1 else None
            record_task_event(
                conn,
                TRANSACTIONS,
                "etl",
                outcome_message(results, started_by),
                level="error" if failed else "info",
                import_run_id=run_id,
            )
    except psycopg.Error as exc:  # the load is done and audited per file: say so, go on
        return f"could not record the task event: {exc}"
    return None
