"""Run audit (`import_runs`) and quarantine (`import_rejects`), shared by every dataset."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from backoffice.core.db import Base


class ImportRun(Base):
    """One attempt to import one file: what it read, kept, refused, and how it ended."""

    __tablename__ = "import_runs"
    __table_args__ = (
        Index("ix_import_runs_dataset_file_name", "dataset", "file_name"),
        # A file is imported at most once: one succeeded run per (dataset, file name).
        Index(
            "uq_import_runs_succeeded_file",
            "dataset",
            "file_name",
            unique=True,
            postgresql_where=text("status = 'succeeded'"),
        ),
        CheckConstraint("started_by IN ('cli', 'airflow')", name="started_by"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    dataset: Mapped[str] = mapped_column(String(50))
    file_name: Mapped[str] = mapped_column(String(255))
    file_size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str | None] = mapped_column(String(64))
    rows_read: Mapped[int] = mapped_column(BigInteger, server_default="0")
    inserted: Mapped[int] = mapped_column(BigInteger, server_default="0")
    duplicates: Mapped[int] = mapped_column(BigInteger, server_default="0")
    rejected: Mapped[int] = mapped_column(BigInteger, server_default="0")
    flagged: Mapped[int] = mapped_column(BigInteger, server_default="0")
    conflicting: Mapped[int] = mapped_column(BigInteger, server_default="0")
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(String(20))  # succeeded, skipped (seen before), failed
    error: Mapped[str | None] = mapped_column(Text)
    started_by: Mapped[str] = mapped_column(String(20), server_default="cli")
    dag_run_id: Mapped[str | None] = mapped_column(String(250))
    logical_date: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The day the file is applied at: the date its name carries, or the day it arrived.
    file_date: Mapped[date | None] = mapped_column(Date)


class ImportReject(Base):
    """A quarantined line: where it was, what it said, why it was refused."""

    __tablename__ = "import_rejects"

    dataset: Mapped[str] = mapped_column(String(50), primary_key=True)
    file_name: Mapped[str] = mapped_column(String(255), primary_key=True)
    line_number: Mapped[int] = mapped_column(Integer, primary_key=True)
    raw_line: Mapped[str] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(Text)
    # A conflicting duplicate: the version kept (its stored values as CSV); the line is the other.
    first_version: Mapped[str | None] = mapped_column(Text)


class ImportDuplicate(Base):
    """A row a file set aside for its key (a dataset with `late_files`): its stored version.

    The conflicting ones are in the quarantine too; a late file's version replacing the kept
    one turns any of them into a conflict, or back, as date order would have had it.
    """

    __tablename__ = "import_duplicates"
    __table_args__ = (Index("ix_import_duplicates_dataset_key", "dataset", "key"),)

    dataset: Mapped[str] = mapped_column(String(50), primary_key=True)
    file_name: Mapped[str] = mapped_column(String(255), primary_key=True)
    line_number: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(Text)
    raw_line: Mapped[str] = mapped_column(Text)
    version: Mapped[str] = mapped_column(Text)  # its stored values, ROW(...)::text


class ImportTaskEvent(Base):
    """What an ETL task said: the Airflow task log's lines worth keeping, and the CLI's."""

    __tablename__ = "import_task_events"
    __table_args__ = (
        CheckConstraint("level IN ('debug', 'info', 'warning', 'error')", name="level"),
        Index("ix_import_task_events_dag_run_id", "dag_run_id"),
        Index("ix_import_task_events_import_run_id", "import_run_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    dataset: Mapped[str] = mapped_column(String(50))
    dag_run_id: Mapped[str | None] = mapped_column(String(250))
    import_run_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("import_runs.id", ondelete="CASCADE")
    )
    task: Mapped[str] = mapped_column(String(100))
    level: Mapped[str] = mapped_column(String(10))
    message: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.clock_timestamp()
    )
