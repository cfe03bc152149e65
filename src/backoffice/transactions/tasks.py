"""The transactions ETL as the Airflow DAG's four tasks: extract, transform, load, audit.

Plain functions over a staged run (`backoffice.ingest.staging`): each task is a process of its
own, retried on its own, and reads what the task before left in the run's folder under
`TRANSACTIONS_STAGING` (never Airflow's XCom). Each writes a task event to the audit
(`import_task_events`); the DAG's failure callback writes the error ones
(`backoffice transactions task-event`). `dags/transactions_etl.py` calls these functions in the
project's virtualenv; nothing here imports airflow, and neither FastAPI nor SQLAlchemy.
"""

from __future__ import annotations

import hashlib
import re
import shutil
from datetime import datetime
from pathlib import Path

import psycopg

from backoffice.core.config import Settings, get_settings
from backoffice.core.embedded import resolve_database_url
from backoffice.ingest.audit import Level, RunOrigin, record_task_event, runs_of_dag_run
from backoffice.ingest.pipeline import CONNECT_TIMEOUT_SECONDS, libpq_url
from backoffice.ingest.results import Counts
from backoffice.ingest.staging import (
    Manifest,
    StagingError,
    extract_run,
    load_run,
    transform_run,
)
from backoffice.transactions.dataset import TRANSACTIONS


class EtlFailed(Exception):
    """A run of the DAG did not load every file it staged (the audit task says which)."""


def run_directory(settings: Settings, dag_run_id: str) -> Path:
    """The DAG run's folder: its id made safe for a file name, and a hash of it (unique)."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", dag_run_id)[:80]
    digest = hashlib.sha256(dag_run_id.encode()).hexdigest()[:12]
    return settings.transactions_staging / f"{safe}-{digest}"


def origin_of(dag_run_id: str, logical_date: str | None) -> RunOrigin:
    """How an Airflow run started: its id and logical date (ISO 8601; blank for none)."""
    when = datetime.fromisoformat(logical_date) if logical_date else None
    return RunOrigin("airflow", dag_run_id, when)


def _connect(url: str) -> psycopg.Connection:
    return psycopg.connect(
        libpq_url(url),
        autocommit=True,
        connect_timeout=CONNECT_TIMEOUT_SECONDS,
        application_name="backoffice-etl",
    )


def _figures(counts: Counts) -> str:
    return (
        f"read {counts.rows_read}, loaded {counts.inserted}, duplicates {counts.duplicates},"
        f" conflicting {counts.conflicting}, rejected {counts.rejected}"
    )


def extract(dag_run_id: str, logical_date: str | None = None) -> Manifest:
    """Stage every new `*.csv` of `TRANSACTIONS_INBOX` (skips of files seen before recorded)."""
    settings = get_settings()
    inbox = settings.transactions_inbox
    if not inbox.is_dir():
        problem = "is not a folder" if inbox.exists() else "does not exist"
        raise EtlFailed(
            f"TRANSACTIONS_INBOX {inbox.resolve()} {problem}: create it (`make airflow` does)"
            " or point TRANSACTIONS_INBOX at the folder the exports arrive in"
        )
    url = resolve_database_url(settings)
    directory = run_directory(settings, dag_run_id)
    with _connect(url) as conn:
        manifest = extract_run(
            conn,
            TRANSACTIONS,
            [settings.transactions_inbox],
            directory,
            origin_of(dag_run_id, logical_date),
        )
        unreadable = [f.name for f in manifest.files if f.error]
        message = (
            f"staged {len(manifest.files)} files ({', '.join(manifest.paths) or 'none'}) from"
            f" {settings.transactions_inbox}; skipped {len(manifest.skipped)} seen before"
            + (f"; unreadable: {', '.join(unreadable)}" if unreadable else "")
        )
        record_task_event(conn, TRANSACTIONS, "extract", message, dag_run_id=dag_run_id)
    print(message)
    return manifest


def transform(dag_run_id: str) -> Manifest:
    """Validate and convert every staged block, vectorised."""
    settings = get_settings()
    manifest = transform_run(TRANSACTIONS, run_directory(settings, dag_run_id))
    blocks = sum(len(f.blocks) for f in manifest.files)
    message = f"transformed {blocks} blocks of {len(manifest.files)} files"
    with _connect(resolve_database_url(settings)) as conn:
        record_task_event(conn, TRANSACTIONS, "transform", message, dag_run_id=dag_run_id)
    print(message)
    return manifest


def load(dag_run_id: str, logical_date: str | None = None) -> Counts:
    """COPY the transformed rows, one transaction per file; `EtlFailed` if a file failed."""
    settings = get_settings()
    url = resolve_database_url(settings)
    directory = run_directory(settings, dag_run_id)
    _, results = load_run(url, TRANSACTIONS, directory, origin_of(dag_run_id, logical_date))
    total = Counts.total(r.counts for r in results)
    failed = [f"{r.name}: {r.error}" for r in results if r.status == "failed"]
    message = f"{len(results)} files: {_figures(total)}" + (
        f"; failed: {'; '.join(failed)}" if failed else ""
    )
    with _connect(url) as conn:
        level: Level = "error" if failed else "info"
        record_task_event(conn, TRANSACTIONS, "load", message, level=level, dag_run_id=dag_run_id)
    print(message)
    if failed:
        raise EtlFailed(message)
    return total


def _staged(directory: Path) -> list[str] | None:
    """The files extract staged in the run's folder; None without its manifest (none staged)."""
    try:
        return Manifest.load(directory).paths
    except StagingError:
        return None


def audit(dag_run_id: str) -> Counts:
    """Check that every staged file has its outcome in the audit; sum the run up; tidy up.

    Runs whatever became of the tasks before it (the DAG's `all_done`): a file without a
    `succeeded` or `skipped` run (failed, or never reached) fails this task, so the DAG run
    fails too, and the run's folder is kept for a look; otherwise it is removed. A run that
    extract staged nothing for (it failed, or never ran) fails it as well.
    """
    settings = get_settings()
    directory = run_directory(settings, dag_run_id)
    with _connect(resolve_database_url(settings)) as conn:
        runs = runs_of_dag_run(conn, TRANSACTIONS, dag_run_id)
        staged = _staged(directory)
        if staged is None and not runs:
            message = (
                "nothing to audit: extract staged nothing for this run (it failed or never ran)"
            )
            record_task_event(
                conn, TRANSACTIONS, "audit", message, level="error", dag_run_id=dag_run_id
            )
            raise EtlFailed(message)
        outcome = {name: status for name, status, _ in runs}  # the last attempt of each file
        missing = [
            name for name in staged or [] if outcome.get(name) not in ("succeeded", "skipped")
        ]
        total = Counts.total(counts for _, status, counts in runs if status == "succeeded")
        by_status = {
            s: sum(1 for v in outcome.values() if v == s) for s in sorted(set(outcome.values()))
        }
        message = (
            f"{', '.join(f'{n} {s}' for s, n in by_status.items()) or 'no files'}: {_figures(total)}"
            + (f"; not loaded: {', '.join(missing)}" if missing else "")
        )
        level: Level = "error" if missing else "info"
        record_task_event(conn, TRANSACTIONS, "audit", message, level=level, dag_run_id=dag_run_id)
    print(message)
    if missing:
        raise EtlFailed(message)
    shutil.rmtree(directory, ignore_errors=True)
    return total
