"""Response shapes of the run audit and the quarantine, for any dataset's API."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

from backoffice.ingest.results import Status


class RunRead(BaseModel):
    """One attempt to import one file: how it was started, what it read and kept, how it ended."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    file_name: str
    file_size: int
    sha256: str | None
    rows_read: int
    inserted: int
    duplicates: int
    conflicting: int
    rejected: int
    started_at: datetime
    finished_at: datetime | None
    status: Status
    error: str | None
    started_by: Literal["cli", "airflow"]
    dag_run_id: str | None
    logical_date: datetime | None


class TaskEventRead(BaseModel):
    """What a task of the run said."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    task: str
    level: Literal["debug", "info", "warning", "error"]
    message: str
    created_at: datetime


class RunDetail(RunRead):
    """A run and its task events, oldest first."""

    events: list[TaskEventRead]


class RejectRead(BaseModel):
    """A quarantined line: where it was, what it said, why it was refused."""

    model_config = ConfigDict(from_attributes=True)

    file_name: str
    line_number: int
    raw_line: str
    reason: str
    first_version: str | None
