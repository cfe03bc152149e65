"""What an import reports: the counts of a file, how it ended, and who hears about it."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, Protocol

Status = Literal["succeeded", "skipped", "failed"]


@dataclass(slots=True)
class Counts:
    """Rows of a file (or of several files) by what became of them."""

    rows_read: int = 0
    inserted: int = 0
    duplicates: int = 0
    rejected: int = 0
    flagged: int = 0
    conflicting: int = 0  # duplicates that differ from the version kept (also quarantined)

    def add(self, other: Counts) -> None:
        """Add `other` to these counts."""
        self.rows_read += other.rows_read
        self.inserted += other.inserted
        self.duplicates += other.duplicates
        self.rejected += other.rejected
        self.flagged += other.flagged
        self.conflicting += other.conflicting

    @classmethod
    def total(cls, parts: Iterable[Counts]) -> Counts:
        """The sum of `parts` (new counts; the parts are left as they are)."""
        total = cls()
        for part in parts:
            total.add(part)
        return total


@dataclass(slots=True)
class FileResult:
    """How the import of one file ended."""

    name: str
    status: Status
    counts: Counts = field(default_factory=Counts)
    size: int = 0
    sha256: str | None = None
    seconds: float = 0.0
    error: str | None = None
    started: datetime | None = None


class Observer(Protocol):
    """Receives progress (the CLI's progress bar, the API's health state)."""

    def file_started(self, name: str, size: int) -> None: ...

    def progressed(self, name: str, bytes_done: int, counts: Counts) -> None: ...

    def file_finished(self, result: FileResult) -> None: ...


class NullObserver:
    """Ignores progress."""

    def file_started(self, name: str, size: int) -> None:
        return None

    def progressed(self, name: str, bytes_done: int, counts: Counts) -> None:
        return None

    def file_finished(self, result: FileResult) -> None:
        return None
