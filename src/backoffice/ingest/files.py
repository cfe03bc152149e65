"""Which files an import reads, in which order, and how it reads them whole (their sha256)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

from backoffice.ingest.reader import open_regular
from backoffice.ingest.spec import Dataset


def sha256_of(path: Path) -> str:
    """The file's sha256, read in 1 MiB blocks (`NotARegularFile` for a FIFO, a directory)."""
    digest = hashlib.sha256()
    with open_regular(path) as stream:
        while block := stream.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def max_line_bytes() -> int:
    """The `INGEST_MAX_LINE_BYTES` setting."""
    from backoffice.core.config import get_settings

    return get_settings().ingest_max_line_bytes


def file_rank(dataset: Dataset, name: str, today: str | None = None) -> str:
    """When a file is applied: the date its name carries, else the day it arrives (`YYYYMMDD`)."""
    return dataset.file_date(name) or today or datetime.now(UTC).strftime("%Y%m%d")


def order_files(dataset: Dataset, paths: Iterable[Path]) -> list[Path]:
    """Files in import order (date, then name: `file_rank`); directories expanded.

    A directory's entries matching the dataset's pattern are all listed, files or not, so that
    a directory or a FIFO named like a file is refused with a reason rather than passed over.
    """
    files: set[Path] = set()
    for path in paths:
        if path.is_dir():
            files.update(path.glob(dataset.file_pattern))
        else:
            files.add(path)
    today = datetime.now(UTC).strftime("%Y%m%d")
    return sorted(files, key=lambda p: (file_rank(dataset, p.name, today), p.name))


def newer_import(dataset: Dataset, name: str, imported: Iterable[str]) -> str | None:
    """The newest imported file dated after `name` (undated names are the newest so far)."""
    key = dataset.file_date(name)
    if key is None:
        return None
    newer = sorted(n for n in imported if (dataset.file_date(n) or "") > key)
    return newer[-1] if newer else None
