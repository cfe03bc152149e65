"""Reads of the run audit and the quarantine, one dataset at a time (the APIs' side).

The engine writes these tables over psycopg (`audit.py`); the APIs read them here through the
request's `AsyncSession`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from backoffice.core.envelope import PageInfo
from backoffice.core.pagination import PageParams, paginate, paginate_rows
from backoffice.ingest.errors import RunNotFound
from backoffice.ingest.models import ImportReject, ImportRun, ImportTaskEvent
from backoffice.ingest.reader import KEPT_PREFIX_BYTES
from backoffice.ingest.results import Status
from backoffice.ingest.schemas import RejectRead, RunDetail, RunRead, TaskEventRead


async def list_runs(
    session: AsyncSession, dataset: str, page: PageParams, *, status: Status | None = None
) -> tuple[list[ImportRun], PageInfo]:
    """The dataset's runs, most recent first (rows: each API reads them in its own shape)."""
    statement = select(ImportRun).where(ImportRun.dataset == dataset)
    if status is not None:
        statement = statement.where(ImportRun.status == status)
    return await paginate(session, statement, page, [ImportRun.id.desc()])


async def get_run(session: AsyncSession, dataset: str, run_id: int) -> ImportRun:
    """The dataset's run `run_id`, or `RunNotFound`."""
    run = await session.scalar(
        select(ImportRun).where(ImportRun.id == run_id, ImportRun.dataset == dataset)
    )
    if run is None:
        raise RunNotFound(f"No {dataset} run {run_id}")
    return run


async def last_run_of_file(session: AsyncSession, dataset: str, file_name: str) -> ImportRun | None:
    """The latest run of the dataset's file `file_name`, if it has one (by its index)."""
    run: ImportRun | None = await session.scalar(
        select(ImportRun)
        .where(ImportRun.dataset == dataset, ImportRun.file_name == file_name)
        .order_by(ImportRun.id.desc())
        .limit(1)
    )
    return run


async def run_detail(session: AsyncSession, dataset: str, run_id: int) -> RunDetail:
    """A run with its task events: the run's own, and its DAG run's (oldest first)."""
    run = await get_run(session, dataset, run_id)
    mine = ImportTaskEvent.import_run_id == run.id
    if run.dag_run_id is not None:
        mine = or_(mine, ImportTaskEvent.dag_run_id == run.dag_run_id)
    events = await session.scalars(
        select(ImportTaskEvent)
        .where(ImportTaskEvent.dataset == dataset, mine)
        .order_by(ImportTaskEvent.created_at, ImportTaskEvent.id)
    )
    return RunDetail(
        **RunRead.model_validate(run).model_dump(),
        events=[TaskEventRead.model_validate(e) for e in events],
    )


async def list_rejects(
    session: AsyncSession, dataset: str, page: PageParams, *, run_id: int | None = None
) -> tuple[list[RejectRead], PageInfo]:
    """The dataset's quarantine (of one run's file when `run_id` is given), in file order.

    Each line is read bounded (its first `KEPT_PREFIX_BYTES` characters): the import keeps no
    more since issue 18, and a page of older rows stays a page of bounded rows.
    """
    raw = func.left(ImportReject.raw_line, KEPT_PREFIX_BYTES)
    columns = (ImportReject.file_name, ImportReject.line_number, ImportReject.reason)
    statement = select(*columns, raw.label("raw_line"), ImportReject.first_version).where(
        ImportReject.dataset == dataset
    )
    if run_id is not None:
        run = await get_run(session, dataset, run_id)
        statement = statement.where(ImportReject.file_name == run.file_name)
    order: list[ColumnElement[Any]] = [ImportReject.file_name.asc(), ImportReject.line_number.asc()]
    rows, info = await paginate_rows(session, statement, page, order)
    return [RejectRead.model_validate(r._mapping) for r in rows], info


async def totals_since(session: AsyncSession, dataset: str, instant: datetime) -> RunTotals:
    """How many of the dataset's files started at or after `instant`, and what they loaded."""
    row = (
        await session.execute(
            select(
                func.count(),
                func.coalesce(func.sum(ImportRun.inserted), 0),
                func.coalesce(func.sum(ImportRun.rejected), 0),
                func.count().filter(ImportRun.status == "failed"),
            ).where(ImportRun.dataset == dataset, ImportRun.started_at >= instant)
        )
    ).one()
    return RunTotals(files=row[0], inserted=row[1], rejected=row[2], failed=row[3])


@dataclass(frozen=True, slots=True)
class RunTotals:
    """What a dataset's files loaded over a period."""

    files: int
    inserted: int
    rejected: int
    failed: int
